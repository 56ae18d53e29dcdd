//! The serving adapters, end to end: a real hyper server on loopback with a
//! real HTTP client, and Lambda events through `lambda_http`.

// Test helpers outside `#[test]` functions panic on purpose: a failed
// unwrap is a failed test.
#![allow(clippy::unwrap_used)]

// Functions used by every serving test.
mod fixture;
// AWS Lambda events (Function URL, API Gateway v1 and v2, ALB).
#[cfg(feature = "lambda")]
mod lambda;
// The hyper server: statuses, limits, timeouts, concurrency, shutdown.
mod server;
// The `statefun.http` span: what each request records.
mod spans;
