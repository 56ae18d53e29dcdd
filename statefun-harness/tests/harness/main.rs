//! The harness against the runtime's behaviour (spec §3), in one binary.

// Test helpers outside `#[test]` functions panic on purpose: a failed
// unwrap is a failed test.
#![allow(clippy::unwrap_used)]

// Backpressure: per address, on input only (issue 20, item 5).
mod backpressure;
// Checkpoints, crashes and restores.
mod checkpoints;
// One test per conformance check of spec §3.13.
mod conformance;
// Same seed, same trace; different seeds, different schedules.
mod determinism;
// Property testing over generated schedules.
mod explore;
// Faults, retries, restarts and batch shapes.
mod faults;
// Functions shared by the tests.
mod fixture;
// Invariants checked at every point at rest (issue 21, item 6).
mod invariants;
// Driving a harness from a long-lived loop.
mod live;
// Remote calls overlap on the network, in each call order (issue 22).
#[cfg(feature = "http")]
mod overlap;
// Where the harness follows StateFun 3.3.0's runtime (issue 20).
mod parity;
// The same run in process and over HTTP.
#[cfg(feature = "http")]
mod remote;
// The Netty and OkHttp transports against a real HTTP server.
#[cfg(feature = "http")]
mod transports;
