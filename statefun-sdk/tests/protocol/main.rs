//! Protocol-level tests of the SDK, in one binary.

// Test helpers outside `#[test]` functions panic on purpose: a failed
// unwrap is a failed test.
#![allow(clippy::unwrap_used)]

// Arbitrary and mutated requests never panic the handler.
mod fuzz;
// Byte-for-byte comparison with the official Python SDK 3.3.0.
mod golden;
// The request-reply handler's rules, one test per rule.
mod handler;
// A function declared with the macros, end to end.
mod macros;
// Generated module.yaml files.
mod module_yaml;
// Helpers to build requests and read responses with the wire types.
mod wire;
