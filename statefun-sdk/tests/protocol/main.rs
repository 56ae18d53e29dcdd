//! Protocol-level tests of the SDK, in one binary.

// Byte-for-byte comparison with the official Python SDK 3.3.0.
mod golden;
// The request-reply handler's rules, one test per rule.
mod handler;
// Helpers to build requests and read responses with the wire types.
mod wire;
