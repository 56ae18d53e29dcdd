//! Serving on AWS Lambda through [`lambda_http`]: Function URLs, API
//! Gateway HTTP APIs (payload 2.0) and REST APIs (1.0), and Application
//! Load Balancers.
//!
//! `lambda_http` turns each event into an `http` request (decoding a
//! base64 body) and the response back (base64-encoding it, because
//! `application/octet-stream` is not text). Limits to know:
//!
//! * **REST APIs need `binaryMediaTypes`**: add `application/octet-stream`
//!   (or `*/*`) to the API's binary media types, or API Gateway treats the
//!   protobuf body as UTF-8 text and corrupts it. Function URLs, HTTP APIs
//!   and ALBs need nothing.
//! * **6 MB payloads**: synchronous invocations carry at most 6 MB each way
//!   (base64 adds a third), far below the runtime's 32 MiB; keep state
//!   small or split it into several values, and lower
//!   `maxNumBatchRequests` so batches stay small.
//! * **Timeouts**: API Gateway integrations end at 29 s; keep the endpoint's
//!   `call` timeout in module.yaml within the Lambda and gateway limits.
//!
//! ```no_run
//! use stateful_functions::{Functions, RequestReplyHandler};
//!
//! #[tokio::main]
//! async fn main() -> Result<(), stateful_functions::lambda::Error> {
//!     let handler = RequestReplyHandler::new(Functions::auto_registered()?);
//!     stateful_functions::lambda::run(handler).await
//! }
//! ```

use super::RequestReplyService;
use crate::RequestReplyHandler;

pub use lambda_http::Error;

/// The service Lambda invocations go through: the handler on any path
/// (the URL is configured outside the function).
#[must_use]
pub fn service(handler: RequestReplyHandler) -> RequestReplyService {
    RequestReplyService::new(handler).with_any_path()
}

/// Runs the handler as a Lambda function until the runtime stops it.
///
/// # Errors
///
/// When the Lambda runtime API fails.
///
/// # Panics
///
/// `lambda_http` panics when the Lambda environment variables are missing,
/// i.e. when this runs outside Lambda.
pub async fn run(handler: RequestReplyHandler) -> Result<(), Error> {
    lambda_http::run(service(handler)).await
}
