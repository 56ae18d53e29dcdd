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
//! Lambda starts a function's `bootstrap` executable (what `cargo lambda
//! build` makes of the binary) with **no arguments** and with
//! `AWS_LAMBDA_RUNTIME_API` set to the Runtime API it must poll; so does
//! `cargo lambda watch`. A binary that also does other things (serves over
//! HTTP, prints a module.yaml) checks [`is_lambda_environment`] first, so
//! that the build it deploys serves on Lambda:
//!
//! ```no_run
//! use stateful_functions::{Functions, RequestReplyHandler, lambda};
//!
//! #[tokio::main]
//! async fn main() -> Result<(), lambda::Error> {
//!     let handler = RequestReplyHandler::new(Functions::auto_registered()?);
//!     if lambda::is_lambda_environment() {
//!         // Started by Lambda or `cargo lambda watch`: serve until stopped.
//!         return lambda::run(handler).await;
//!     }
//!     // Anywhere else: what the binary does by default.
//!     Ok(())
//! }
//! ```

use std::fmt;

use super::RequestReplyService;
use crate::RequestReplyHandler;

pub use lambda_http::Error;

/// The variable through which Lambda gives a custom runtime the address of
/// its Runtime API (`host:port`); `cargo lambda watch` sets it too.
pub const RUNTIME_API_VARIABLE: &str = "AWS_LAMBDA_RUNTIME_API";

/// The variables the Lambda runtime client reads at start-up, besides
/// [`RUNTIME_API_VARIABLE`]; Lambda sets them all.
const CONFIG_VARIABLES: [&str; 3] = [
    "AWS_LAMBDA_FUNCTION_NAME",
    "AWS_LAMBDA_FUNCTION_VERSION",
    MEMORY_SIZE_VARIABLE,
];

/// The one configuration variable that must also parse (as an `i32`).
const MEMORY_SIZE_VARIABLE: &str = "AWS_LAMBDA_FUNCTION_MEMORY_SIZE";

/// Whether this process was started by AWS Lambda (or an emulator of its
/// Runtime API, such as `cargo lambda watch`): whether
/// [`RUNTIME_API_VARIABLE`] is set and not empty.
///
/// ```
/// use stateful_functions::lambda;
///
/// let on_lambda = std::env::var_os(lambda::RUNTIME_API_VARIABLE)
///     .is_some_and(|api| !api.is_empty());
/// assert_eq!(lambda::is_lambda_environment(), on_lambda);
/// ```
#[must_use]
pub fn is_lambda_environment() -> bool {
    std::env::var_os(RUNTIME_API_VARIABLE).is_some_and(|api| !api.is_empty())
}

/// Why [`run`] cannot start: the environment is not the one Lambda gives a
/// function (the runtime client would panic on it).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum EnvironmentError {
    /// A variable Lambda always sets is missing, empty or not Unicode.
    Missing {
        /// The variable.
        variable: &'static str,
    },
    /// `AWS_LAMBDA_FUNCTION_MEMORY_SIZE` is not a number of megabytes.
    InvalidMemorySize {
        /// What the variable holds.
        value: String,
    },
}

impl fmt::Display for EnvironmentError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Missing { variable } => write!(
                f,
                "not on AWS Lambda: the environment variable {variable} is not set \
                 (Lambda and `cargo lambda watch` set it)"
            ),
            Self::InvalidMemorySize { value } => write!(
                f,
                "{MEMORY_SIZE_VARIABLE} is {value:?}, not a number of megabytes"
            ),
        }
    }
}

impl std::error::Error for EnvironmentError {}

/// Checks the variables the runtime client needs, as `lookup` reads them.
fn check_environment(lookup: impl Fn(&str) -> Option<String>) -> Result<(), EnvironmentError> {
    for variable in std::iter::once(RUNTIME_API_VARIABLE).chain(CONFIG_VARIABLES) {
        let Some(value) = lookup(variable).filter(|value| !value.is_empty()) else {
            return Err(EnvironmentError::Missing { variable });
        };
        if variable == MEMORY_SIZE_VARIABLE && value.parse::<i32>().is_err() {
            return Err(EnvironmentError::InvalidMemorySize { value });
        }
    }
    Ok(())
}

/// The service Lambda invocations go through: the handler on any path
/// (the URL is configured outside the function).
#[must_use]
pub fn service(handler: RequestReplyHandler) -> RequestReplyService {
    RequestReplyService::new(handler).with_any_path()
}

/// Runs the handler as a Lambda function until the runtime stops it:
/// polls the Runtime API at [`RUNTIME_API_VARIABLE`] for events and posts
/// each answer back.
///
/// # Errors
///
/// An [`EnvironmentError`] (boxed) when a variable Lambda sets is missing,
/// i.e. when this runs outside Lambda, before any request; or when the
/// Runtime API fails.
pub async fn run(handler: RequestReplyHandler) -> Result<(), Error> {
    check_environment(|variable| std::env::var(variable).ok())?;
    lambda_http::run(service(handler)).await
}

#[cfg(test)]
mod tests {
    use super::{EnvironmentError, check_environment};

    fn lambda_like(variable: &str) -> Option<String> {
        Some(match variable {
            "AWS_LAMBDA_RUNTIME_API" => "127.0.0.1:9001".to_owned(),
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE" => "128".to_owned(),
            other => format!("{other} value"),
        })
    }

    #[test]
    fn lambdas_environment_passes() {
        assert_eq!(check_environment(lambda_like), Ok(()));
    }

    #[test]
    fn each_missing_variable_is_named() {
        for missing in [
            "AWS_LAMBDA_RUNTIME_API",
            "AWS_LAMBDA_FUNCTION_NAME",
            "AWS_LAMBDA_FUNCTION_VERSION",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
        ] {
            let error = check_environment(|v| lambda_like(v).filter(|_| v != missing));
            assert_eq!(error, Err(EnvironmentError::Missing { variable: missing }));
            let empty = check_environment(|v| {
                lambda_like(v).map(|value| if v == missing { String::new() } else { value })
            });
            assert_eq!(empty, Err(EnvironmentError::Missing { variable: missing }));
            let text = error.err().map(|e| e.to_string()).unwrap_or_default();
            assert!(text.contains(missing), "{text}");
        }
    }

    #[test]
    fn a_memory_size_that_is_not_a_number_is_refused() {
        let error = check_environment(|v| {
            if v == "AWS_LAMBDA_FUNCTION_MEMORY_SIZE" {
                Some("lots".to_owned())
            } else {
                lambda_like(v)
            }
        });
        assert_eq!(
            error,
            Err(EnvironmentError::InvalidMemorySize {
                value: "lots".to_owned()
            })
        );
    }
}
