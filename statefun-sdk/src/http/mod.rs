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

use bytes::{Buf, Bytes, BytesMut};
use http::header::{ALLOW, CONTENT_LENGTH, CONTENT_TYPE};
use http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode, Version};
use http_body::Body;
use http_body_util::Full;
use tracing::Instrument;

use crate::{ErrorChain, HandlerError, RequestReplyHandler};

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
/// use stateful_functions::{Functions, RequestReplyHandler, RequestReplyService};
///
/// let handler = RequestReplyHandler::new(Functions::new());
/// let service = RequestReplyService::new(handler)
///     .with_url_path_template("http://functions:8000/statefun/{function.name}")?
///     .with_body_limit(8 * 1024 * 1024);
/// // axum: Router::new().route_service("/statefun/{name}", service)
/// # let _ = service;
/// # Ok::<(), stateful_functions::UrlPathTemplateError>(())
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
        // Without a subscriber that wants the span, a request pays for
        // neither the clock nor entering the span.
        let started = (!span.is_disabled()).then(Instant::now);
        if let Err(rejection) = self.check(&request) {
            return Box::pin(std::future::ready(Ok(answer(
                &span,
                started,
                Err(rejection),
                request.version(),
            ))));
        }
        // The future keeps only what answering needs (the request's head is
        // dropped here), so it stays small: it is allocated per request.
        let version = request.version();
        let body = request.into_body();
        let handler = self.handler.clone();
        let (limit, timeout) = (self.body_limit, self.body_timeout);
        Box::pin(async move {
            let body = match read_body(body, limit, timeout).await {
                Ok(body) => body,
                Err(rejection) => return Ok(answer(&span, started, Err(rejection), version)),
            };
            // The handler's future in a box of its own: this future and
            // that box each stay within the sizes glibc keeps per-thread
            // caches for (up to 1,032 bytes), where one future holding both
            // would not, and would leave a hole in the heap per request.
            let handling = Box::pin(handler.handle(body));
            let outcome = if span.is_disabled() {
                handling.await
            } else {
                handling.instrument(span.clone()).await
            };
            let outcome = outcome.map_err(|error| Rejection::from_handler(&error));
            Ok(answer(&span, started, outcome, version))
        })
    }
}

/// Records the outcome on the request's span, logs a rejection, and turns
/// the outcome into the response.
fn answer(
    span: &tracing::Span,
    started: Option<Instant>,
    outcome: Result<Bytes, Rejection>,
    version: Version,
) -> Response<Full<Bytes>> {
    let status = outcome
        .as_ref()
        .map_or_else(|r| r.status, |_| StatusCode::OK);
    if !span.is_disabled() {
        span.record("status", status.as_u16());
        span.record(
            "outcome",
            match status.as_u16() {
                200 => "ok",
                500..=599 => "failed",
                _ => "rejected",
            },
        );
    }
    if let Some(started) = started {
        span.record(
            "duration_ms",
            u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        );
    }
    match outcome {
        Ok(reply) => ok(reply, version),
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

/// What polling the body gave: a frame, the end, or the timeout.
enum Polled<F> {
    Frame(Option<F>),
    TimedOut,
}

/// Reads the body, refusing it as soon as it passes `limit`.
///
/// A body that has already arrived (the usual case: the runtime sends
/// small requests in one go, and hyper hands it over as one chunk) is taken
/// as it is, without copying and without a timer; only a body still on its
/// way arms one, `timeout` for the rest of the body. A body in several
/// chunks is copied once into a buffer of exactly its size.
async fn read_body<B>(body: B, limit: usize, timeout: Duration) -> Result<Bytes, Rejection>
where
    B: Body,
    B::Error: Into<crate::BoxError>,
{
    let mut body = std::pin::pin!(body);
    // Boxed so that the future stays small when it is not needed.
    let mut deadline: Option<Pin<Box<tokio::time::Sleep>>> = None;
    let mut first: Option<Bytes> = None;
    let mut more: Vec<Bytes> = Vec::new();
    let mut length = 0_usize;
    loop {
        if body.is_end_stream() {
            break;
        }
        let polled = std::future::poll_fn(|cx| match body.as_mut().poll_frame(cx) {
            Poll::Ready(frame) => Poll::Ready(Polled::Frame(frame)),
            Poll::Pending => {
                let sleep = deadline.get_or_insert_with(|| Box::pin(tokio::time::sleep(timeout)));
                match sleep.as_mut().poll(cx) {
                    Poll::Ready(()) => Poll::Ready(Polled::TimedOut),
                    Poll::Pending => Poll::Pending,
                }
            }
        })
        .await;
        let frame = match polled {
            Polled::TimedOut => {
                return Err(Rejection::new(
                    StatusCode::REQUEST_TIMEOUT,
                    format!("the request body was not received within {timeout:?}"),
                ));
            }
            Polled::Frame(None) => break,
            Polled::Frame(Some(Err(error))) => {
                let error: crate::BoxError = error.into();
                return Err(Rejection::new(
                    StatusCode::BAD_REQUEST,
                    format!("could not read the request body: {error}"),
                ));
            }
            Polled::Frame(Some(Ok(frame))) => frame,
        };
        // Trailers carry nothing for StateFun.
        let Ok(mut data) = frame.into_data() else {
            continue;
        };
        let size = data.remaining();
        length = length.saturating_add(size);
        if length > limit {
            return Err(Rejection::too_large(limit));
        }
        if size == 0 {
            continue;
        }
        let piece = data.copy_to_bytes(size);
        if first.is_none() {
            first = Some(piece);
        } else {
            more.push(piece);
        }
    }
    let Some(first) = first else {
        return Ok(Bytes::new());
    };
    if more.is_empty() {
        return Ok(first);
    }
    // Several pieces: one copy into a buffer of exactly their size.
    let mut joined = BytesMut::with_capacity(length);
    joined.extend_from_slice(&first);
    for piece in &more {
        joined.extend_from_slice(piece);
    }
    Ok(joined.freeze())
}

/// The answer. No `Content-Length` header: the body's exact size hint
/// gives hosts the length (hyper writes it from there), and inserting it
/// ourselves cost a header-map insertion and a number formatted per
/// request.
fn ok(body: Bytes, version: Version) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(body));
    // HTTP/1 (what the runtime speaks): room for exactly the one header,
    // rather than the default map's room for six; hyper writes `date` and
    // `content-length` straight into its buffer. HTTP/2 adds those two to
    // the map, so it gets room for them.
    let room = if version <= Version::HTTP_11 { 1 } else { 4 };
    let mut headers = HeaderMap::with_capacity(room);
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(OCTET_STREAM));
    *response.headers_mut() = headers;
    response
}

/// A request answered with an error status and a one-line reason.
#[derive(Debug)]
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
        Self::new(status, ErrorChain::new(error).to_string())
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
#[allow(clippy::unwrap_used)]
mod tests {
    use std::collections::VecDeque;

    use http_body::Frame;

    use super::*;

    /// What a scripted body does when polled next.
    enum Step {
        Data(&'static [u8]),
        /// Not ready, and wakes the task at once (more is on its way).
        Pending,
        /// Not ready, ever again.
        Stall,
        Trailers,
        Fail,
    }

    struct Scripted(VecDeque<Step>);

    impl Body for Scripted {
        type Data = Bytes;
        type Error = std::io::Error;

        fn poll_frame(
            mut self: Pin<&mut Self>,
            cx: &mut TaskContext<'_>,
        ) -> Poll<Option<Result<Frame<Bytes>, std::io::Error>>> {
            match self.0.pop_front() {
                None => Poll::Ready(None),
                Some(Step::Data(data)) => {
                    Poll::Ready(Some(Ok(Frame::data(Bytes::from_static(data)))))
                }
                Some(Step::Pending) => {
                    cx.waker().wake_by_ref();
                    Poll::Pending
                }
                Some(Step::Stall) => {
                    self.0.push_front(Step::Stall);
                    Poll::Pending
                }
                Some(Step::Trailers) => Poll::Ready(Some(Ok(Frame::trailers(HeaderMap::new())))),
                Some(Step::Fail) => Poll::Ready(Some(Err(std::io::Error::other("peer reset")))),
            }
        }
    }

    async fn read(steps: Vec<Step>, limit: usize) -> Result<Bytes, Rejection> {
        read_body(Scripted(steps.into()), limit, Duration::from_millis(50)).await
    }

    #[tokio::test]
    async fn a_body_in_one_chunk_is_taken_without_copying() {
        static BODY: &[u8] = b"one chunk";
        let body = read(vec![Step::Data(BODY)], 100).await.unwrap();
        assert_eq!(body, BODY);
        assert_eq!(body.as_ptr(), BODY.as_ptr());
        assert!(read(vec![], 100).await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn pieces_waits_empty_chunks_and_trailers_make_one_body() {
        let steps = vec![
            Step::Pending,
            Step::Data(b"ab"),
            Step::Data(b""),
            Step::Pending,
            Step::Data(b"cde"),
            Step::Data(b"f"),
            Step::Trailers,
        ];
        assert_eq!(read(steps, 6).await.unwrap(), &b"abcdef"[..]);
    }

    #[tokio::test]
    async fn the_limit_counts_every_piece() {
        let at = read(vec![Step::Data(b"abc"), Step::Data(b"def")], 6).await;
        assert_eq!(at.unwrap(), &b"abcdef"[..]);
        let over = read(vec![Step::Data(b"abc"), Step::Data(b"defg")], 6).await;
        let rejection = over.err().unwrap();
        assert_eq!(rejection.status, StatusCode::PAYLOAD_TOO_LARGE);
        assert!(
            rejection.reason.contains("limit of 6 bytes"),
            "{}",
            rejection.reason
        );
    }

    #[tokio::test]
    async fn a_failing_body_is_a_400_and_a_stalled_one_a_408() {
        let failed = read(vec![Step::Data(b"ab"), Step::Fail], 100).await;
        let rejection = failed.err().unwrap();
        assert_eq!(rejection.status, StatusCode::BAD_REQUEST);
        assert!(
            rejection.reason.contains("peer reset"),
            "{}",
            rejection.reason
        );

        let stalled = read(vec![Step::Data(b"ab"), Step::Stall], 100).await;
        let rejection = stalled.err().unwrap();
        assert_eq!(rejection.status, StatusCode::REQUEST_TIMEOUT);
        assert!(rejection.reason.contains("50ms"), "{}", rejection.reason);
    }

    #[test]
    fn http1_answers_have_room_for_one_header_and_http2_for_more() {
        let one = ok(Bytes::from_static(b"x"), Version::HTTP_11);
        assert_eq!(one.headers()[CONTENT_TYPE], OCTET_STREAM);
        assert!(one.headers().capacity() < 4);
        let two = ok(Bytes::from_static(b"x"), Version::HTTP_2);
        assert!(two.headers().capacity() >= 3);
    }

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
