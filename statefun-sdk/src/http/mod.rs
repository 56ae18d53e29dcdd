//! Serving the handler over HTTP: [`RequestReplyService`], a tower
//! `Service` (feature `tower`); `Server` (feature `server`); AWS Lambda
//! (feature `lambda`).
//!
//! What the StateFun runtime sends and accepts (spec §2.1-2.3): a `POST`
//! whose body is a `ToFunction`, answered `200` with exactly
//! `Content-Type: application/octet-stream` and a `FromFunction` body. Any
//! other outcome is retried by the runtime until its call budget runs out,
//! so every error here is answered with a status and a one-line plain-text
//! reason (the runtime ignores it; people reading logs do not).

use std::convert::Infallible;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::header::{ALLOW, CONTENT_LENGTH, CONTENT_TYPE};
use http::{HeaderValue, Method, Request, Response, StatusCode};
use http_body::Body;
use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use tracing::Instrument;

use crate::{HandlerError, RequestReplyHandler};

#[cfg(feature = "lambda")]
#[cfg_attr(docsrs, doc(cfg(feature = "lambda")))]
pub mod lambda;
#[cfg(feature = "server")]
mod server;

#[cfg(feature = "server")]
#[cfg_attr(docsrs, doc(cfg(feature = "server")))]
pub use server::{BoundServer, DEFAULT_HEADER_READ_TIMEOUT, Server};

/// The path the runtime posts to by default (`urlPathTemplate` ends in it).
pub const DEFAULT_PATH: &str = "/statefun";

/// The largest request body accepted by default: 32 MiB, the runtime's own
/// `payload_max_bytes`.
pub const DEFAULT_BODY_LIMIT: usize = 32 * 1024 * 1024;

/// How long reading a request body may take by default.
pub const DEFAULT_BODY_TIMEOUT: Duration = Duration::from_secs(30);

const OCTET_STREAM: &str = "application/octet-stream";

/// Which request paths the service answers.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Routes {
    /// Exactly these paths.
    Paths(Vec<String>),
    /// Any path (AWS Lambda, where routing happens before the function).
    Any,
}

/// The request-reply handler as a tower [`Service`](tower_service::Service)
/// over `http` requests, for axum, hyper or any tower stack.
///
/// It answers `POST` on its paths (by default [`DEFAULT_PATH`]) with
/// `200 application/octet-stream`, and every failure with a status and a
/// one-line plain-text reason naming the function type and address where
/// known:
///
/// | outcome | status |
/// |---|---|
/// | the batch ran, or the state handshake | 200 |
/// | not `POST` | 405 (with `Allow: POST`) |
/// | an unknown path | 404 |
/// | a content type other than `application/octet-stream` | 415 |
/// | a body over the limit (default 32 MiB; refused from `Content-Length` before reading) | 413 |
/// | a body not read in time (default 30 s) | 408 |
/// | a malformed `ToFunction` | 400 |
/// | an unknown function type | 404 |
/// | a function that failed or panicked | 500 |
///
/// Every failure is logged with `tracing` (the library installs no
/// subscriber), and each request runs in a `statefun.http` span.
///
/// ```
/// use statefun_sdk::{Functions, RequestReplyHandler, RequestReplyService};
///
/// let handler = RequestReplyHandler::new(Functions::new());
/// let service = RequestReplyService::new(handler)
///     .with_url_path_template("http://functions:8000/statefun/{function.name}")?
///     .with_body_limit(8 * 1024 * 1024);
/// // axum: Router::new().route_service("/statefun/{name}", service)
/// # let _ = service;
/// # Ok::<(), statefun_sdk::UrlPathTemplateError>(())
/// ```
#[derive(Clone)]
pub struct RequestReplyService {
    handler: RequestReplyHandler,
    routes: Arc<Routes>,
    body_limit: usize,
    body_timeout: Duration,
}

impl RequestReplyService {
    /// Serves `handler` on [`DEFAULT_PATH`].
    #[must_use]
    pub fn new(handler: RequestReplyHandler) -> Self {
        Self {
            handler,
            routes: Arc::new(Routes::Paths(vec![DEFAULT_PATH.to_owned()])),
            body_limit: DEFAULT_BODY_LIMIT,
            body_timeout: DEFAULT_BODY_TIMEOUT,
        }
    }

    /// Serves on `path` instead (for example `/`).
    #[must_use]
    pub fn with_path(mut self, path: impl Into<String>) -> Self {
        self.routes = Arc::new(Routes::Paths(vec![path.into()]));
        self
    }

    /// Serves the paths the runtime derives from a module.yaml
    /// `urlPathTemplate` for the registered function types: every
    /// `{function.name}` replaced by each type's name. A full URL's scheme,
    /// host, query and fragment are ignored.
    ///
    /// # Errors
    ///
    /// When the template has no path.
    pub fn with_url_path_template(mut self, template: &str) -> Result<Self, UrlPathTemplateError> {
        let path = template_path(template)?;
        let mut paths: Vec<String> = self
            .handler
            .functions()
            .type_names()
            .map(|t| path.replace("{function.name}", t.name()))
            .collect();
        if !path.contains("{function.name}") {
            paths = vec![path.to_owned()];
        }
        paths.sort();
        paths.dedup();
        self.routes = Arc::new(Routes::Paths(paths));
        Ok(self)
    }

    /// Answers on any path.
    #[must_use]
    pub fn with_any_path(mut self) -> Self {
        self.routes = Arc::new(Routes::Any);
        self
    }

    /// Sets the largest accepted body.
    #[must_use]
    pub fn with_body_limit(mut self, bytes: usize) -> Self {
        self.body_limit = bytes;
        self
    }

    /// Sets how long reading a body may take before the request is
    /// answered 408.
    #[must_use]
    pub fn with_body_timeout(mut self, timeout: Duration) -> Self {
        self.body_timeout = timeout;
        self
    }

    /// The paths served (`None`: any path).
    #[must_use]
    pub fn paths(&self) -> Option<&[String]> {
        match &*self.routes {
            Routes::Paths(paths) => Some(paths),
            Routes::Any => None,
        }
    }

    /// Answers one request.
    async fn respond<B>(self, request: Request<B>) -> Response<Full<Bytes>>
    where
        B: Body + Send,
        B::Data: Send,
        B::Error: Into<crate::BoxError>,
    {
        let span = tracing::info_span!(
            "statefun.http",
            method = %request.method(),
            path = %request.uri().path(),
            function_type = tracing::field::Empty,
            id = tracing::field::Empty,
            batch_size = tracing::field::Empty,
            status = tracing::field::Empty,
            outcome = tracing::field::Empty,
            duration_ms = tracing::field::Empty,
        );
        let started = (!span.is_disabled()).then(Instant::now);
        let outcome = match self.check(&request) {
            Err(rejection) => Err(rejection),
            Ok(()) => match self.read_body(request.into_body()).await {
                Err(rejection) => Err(rejection),
                // Without a subscriber that wants the span, the request
                // pays for neither the clock nor entering the span.
                Ok(body) if span.is_disabled() => self
                    .handler
                    .handle(body)
                    .await
                    .map_err(|error| Rejection::from_handler(&error)),
                Ok(body) => self
                    .handler
                    .handle(body)
                    .instrument(span.clone())
                    .await
                    .map_err(|error| Rejection::from_handler(&error)),
            },
        };
        let status = outcome
            .as_ref()
            .map_or_else(|r| r.status, |_| StatusCode::OK);
        span.record("status", status.as_u16());
        span.record(
            "outcome",
            match status.as_u16() {
                200 => "ok",
                500..=599 => "failed",
                _ => "rejected",
            },
        );
        if let Some(started) = started {
            span.record(
                "duration_ms",
                u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
            );
        }
        match outcome {
            Ok(reply) => ok(reply),
            Err(rejection) => {
                span.in_scope(|| {
                    let reason = &rejection.reason;
                    if status.is_server_error() {
                        tracing::error!(status = status.as_u16(), %reason, "StateFun request failed");
                    } else {
                        tracing::warn!(status = status.as_u16(), %reason, "StateFun request rejected");
                    }
                });
                rejection.into_response()
            }
        }
    }

    /// Method, path, content type and declared length.
    fn check<B>(&self, request: &Request<B>) -> Result<(), Rejection> {
        if request.method() != Method::POST {
            return Err(Rejection::new(
                StatusCode::METHOD_NOT_ALLOWED,
                format!(
                    "method {} not allowed: the StateFun runtime sends POST",
                    request.method()
                ),
            ));
        }
        let path = request.uri().path();
        if let Routes::Paths(paths) = &*self.routes {
            if !paths.iter().any(|p| p == path) {
                return Err(Rejection::new(
                    StatusCode::NOT_FOUND,
                    format!(
                        "no StateFun endpoint at path {path}; this server answers on {}",
                        paths.join(", ")
                    ),
                ));
            }
        }
        if let Some(content_type) = request.headers().get(CONTENT_TYPE) {
            let essence = content_type
                .to_str()
                .unwrap_or_default()
                .split(';')
                .next()
                .unwrap_or_default()
                .trim();
            if !essence.eq_ignore_ascii_case(OCTET_STREAM) {
                return Err(Rejection::new(
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    format!(
                        "unsupported content type {content_type:?}: the body is a protobuf ToFunction, sent as {OCTET_STREAM}"
                    ),
                ));
            }
        }
        let declared = request
            .headers()
            .get(CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if let Some(length) = declared {
            if length > self.body_limit as u64 {
                return Err(Rejection::too_large(self.body_limit));
            }
        }
        Ok(())
    }

    /// Reads the body, refusing it as soon as it passes the limit.
    async fn read_body<B>(&self, body: B) -> Result<Bytes, Rejection>
    where
        B: Body,
        B::Error: Into<crate::BoxError>,
    {
        let mut collect = std::pin::pin!(Limited::new(body, self.body_limit).collect());
        // A body that has already arrived (the usual case: the runtime
        // sends small requests in one go) needs no timer; only one still on
        // its way is given `body_timeout`.
        let first = std::future::poll_fn(|cx| Poll::Ready(collect.as_mut().poll(cx))).await;
        let collected = match first {
            Poll::Ready(collected) => Ok(collected),
            Poll::Pending => tokio::time::timeout(self.body_timeout, collect).await,
        };
        match collected {
            Err(_) => Err(Rejection::new(
                StatusCode::REQUEST_TIMEOUT,
                format!(
                    "the request body was not received within {:?}",
                    self.body_timeout
                ),
            )),
            Ok(Ok(collected)) => Ok(collected.to_bytes()),
            Ok(Err(error)) if error.is::<LengthLimitError>() => {
                Err(Rejection::too_large(self.body_limit))
            }
            Ok(Err(error)) => Err(Rejection::new(
                StatusCode::BAD_REQUEST,
                format!("could not read the request body: {error}"),
            )),
        }
    }
}

impl fmt::Debug for RequestReplyService {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RequestReplyService")
            .field("routes", &self.routes)
            .field("body_limit", &self.body_limit)
            .field("body_timeout", &self.body_timeout)
            .finish_non_exhaustive()
    }
}

impl<B> tower_service::Service<Request<B>> for RequestReplyService
where
    B: Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<crate::BoxError>,
{
    type Response = Response<Full<Bytes>>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, _: &mut TaskContext<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let service = self.clone();
        Box::pin(async move { Ok(service.respond(request).await) })
    }
}

/// The answer. No `Content-Length` header: the body's exact size hint
/// gives hosts the length (hyper writes it from there), and inserting it
/// ourselves cost a header-map insertion and a number formatted per
/// request.
fn ok(body: Bytes) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(body));
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(OCTET_STREAM));
    response
}

/// A request answered with an error status and a one-line reason.
struct Rejection {
    status: StatusCode,
    reason: String,
}

impl Rejection {
    fn new(status: StatusCode, reason: String) -> Self {
        Self { status, reason }
    }

    fn too_large(limit: usize) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("the request body is larger than the limit of {limit} bytes"),
        )
    }

    /// The status and reason for a handler error: the error and its causes.
    fn from_handler(error: &HandlerError) -> Self {
        let status = match error {
            HandlerError::MalformedRequest { .. } => StatusCode::BAD_REQUEST,
            HandlerError::UnknownFunction { .. } => StatusCode::NOT_FOUND,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        Self::new(status, error_chain(error))
    }

    fn into_response(self) -> Response<Full<Bytes>> {
        let mut line = self.reason.replace(['\n', '\r'], " ");
        line.push('\n');
        let mut response = Response::new(Full::new(Bytes::from(line)));
        *response.status_mut() = self.status;
        let headers = response.headers_mut();
        headers.insert(
            CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        );
        if self.status == StatusCode::METHOD_NOT_ALLOWED {
            headers.insert(ALLOW, HeaderValue::from_static("POST"));
        }
        response
    }
}

/// `error: cause: cause`, as one line.
pub(crate) fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut line = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        line.push_str(": ");
        line.push_str(&cause.to_string());
        source = cause.source();
    }
    line
}

/// The path part of a `urlPathTemplate` (a full URL or a path).
fn template_path(template: &str) -> Result<&str, UrlPathTemplateError> {
    let rest = match template.find("://") {
        Some(scheme_end) => {
            let after = &template[scheme_end + 3..];
            match after.find('/') {
                Some(slash) => &after[slash..],
                None => "",
            }
        }
        None => template,
    };
    let path = rest.split(['?', '#']).next().unwrap_or_default();
    if path.is_empty() || !path.starts_with('/') {
        return Err(UrlPathTemplateError {
            template: template.to_owned(),
        });
    }
    Ok(path)
}

/// A `urlPathTemplate` without a path.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "the urlPathTemplate {template:?} has no path (expected e.g. http://host:8000/statefun/{{function.name}})"
)]
pub struct UrlPathTemplateError {
    template: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn template_paths() {
        assert_eq!(
            template_path("http://fns:8000/statefun/{function.name}").unwrap(),
            "/statefun/{function.name}"
        );
        assert_eq!(template_path("https://h/a?x=1#f").unwrap(), "/a");
        assert_eq!(template_path("/statefun").unwrap(), "/statefun");
        assert!(template_path("http://host:8000").is_err());
        assert!(template_path("statefun").is_err());
    }
}
