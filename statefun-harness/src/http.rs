//! Calling remote endpoints over HTTP/1.1, as the runtime's default
//! transport does: `POST`, `application/octet-stream` both ways.

use bytes::Bytes;
use http::{Method, Request};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use crate::endpoint::{Failure, Transport};

/// A pooled HTTP/1.1 client.
#[derive(Clone, Debug)]
pub(crate) struct Client(HyperClient<HttpConnector, Full<Bytes>>);

impl Client {
    pub(crate) fn new() -> Self {
        Self(HyperClient::builder(TokioExecutor::new()).build_http())
    }

    /// Posts a `ToFunction` and returns the `FromFunction` bytes, or how
    /// the attempt failed and why: a transport error, a non-2xx status, or
    /// a content type `transport` does not accept.
    pub(crate) async fn post(
        &self,
        url: &str,
        body: Bytes,
        transport: Transport,
    ) -> Result<Bytes, (Failure, String)> {
        let request = Request::builder()
            .method(Method::POST)
            .uri(url)
            .header("content-type", "application/octet-stream")
            .header("accept", "application/octet-stream")
            .header("user-agent", "statefun")
            .body(Full::new(body))
            .map_err(|e| (Failure::Io, format!("invalid request: {e}")))?;
        let response = self
            .0
            .request(request)
            .await
            .map_err(|e| (Failure::Io, statefun_sdk::ErrorChain::new(&e).to_string()))?;
        let status = response.status();
        let content_type_ok = accepts_content_type(transport, response.headers());
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let body = response
            .into_body()
            .collect()
            .await
            .map_err(|e| (Failure::Io, format!("reading the response: {e}")))?
            .to_bytes();
        if !status.is_success() {
            return Err((
                Failure::Status(status.as_u16()),
                format!("status {status}: {}", String::from_utf8_lossy(&body).trim()),
            ));
        }
        if !content_type_ok {
            return Err((
                Failure::ContentType,
                format!(
                    "content type {content_type:?}, but the runtime accepts only application/octet-stream"
                ),
            ));
        }
        Ok(body)
    }
}

/// Whether `transport` accepts the answer's content type: Netty any
/// `Content-Type` value (or comma-separated item) equal to
/// `application/octet-stream` in any letter case
/// (`nettyclient/NettyRequestReplyHandler.java`); OkHttp exactly that
/// media type, letter case and all, in the header's last value
/// (`httpfn/DefaultHttpRequestReplyClient.java`).
fn accepts_content_type(transport: Transport, headers: &http::HeaderMap) -> bool {
    const OCTET_STREAM: &str = "application/octet-stream";
    let values = headers.get_all(http::header::CONTENT_TYPE);
    match transport {
        Transport::Netty => values.iter().filter_map(|v| v.to_str().ok()).any(|v| {
            v.split(',')
                .any(|item| item.trim().eq_ignore_ascii_case(OCTET_STREAM))
        }),
        // OkHttp reads the last value of the header.
        Transport::OkHttp => values
            .iter()
            .next_back()
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.trim() == OCTET_STREAM),
    }
}
