//! An axum application with its own routes that also serves StateFun
//! functions: the SDK's `RequestReplyService` is a tower `Service`, so it
//! mounts like any other.

use axum::Router;
use axum::routing::get;
use stateful_functions::{RequestReplyHandler, RequestReplyService};

/// The application: `/health` of its own, the greeter at `/statefun`.
///
/// # Errors
///
/// When the functions do not register.
pub fn app() -> Result<Router, Box<dyn std::error::Error + Send + Sync>> {
    let handler = RequestReplyHandler::new(greeter::functions()?);
    Ok(Router::new()
        .route("/health", get(|| async { "ok" }))
        .route_service("/statefun", RequestReplyService::new(handler)))
}
