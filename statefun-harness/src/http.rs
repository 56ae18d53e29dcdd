//! Calling remote endpoints over HTTP/1.1, as the runtime's default
//! transport does: `POST`, `application/octet-stream` both ways.

use bytes::Bytes;
use http::{Method, Request};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

/// A pooled HTTP/1.1 client.
#[derive(Clone, Debug)]
pub(crate) struct Client(HyperClient<HttpConnector, Full<Bytes>>);

impl Client {
    pub(crate) fn new() -> Self {
        Self(HyperClient::builder(TokioExecutor::new()).build_http())
    }

    /// Posts a `ToFunction` and returns the `FromFunction` bytes; any
    /// non-2xx status, other content type or transport error is a failure.
    pub(crate) async fn post(&self, url: &str, body: Bytes) -> Result<Bytes, String> {
        let request = Request::builder()
            .method(Method::POST)
            .uri(url)
            .header("content-type", "application/octet-stream")
            .header("accept", "application/octet-stream")
            .header("user-agent", "statefun")
            .body(Full::new(body))
            .map_err(|e| format!("invalid request: {e}"))?;
        let response = self
            .0
            .request(request)
            .await
            .map_err(|e| statefun_sdk::ErrorChain::new(&e).to_string())?;
        let status = response.status();
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
            .map_err(|e| format!("reading the response: {e}"))?
            .to_bytes();
        if !status.is_success() {
            return Err(format!(
                "status {status}: {}",
                String::from_utf8_lossy(&body).trim()
            ));
        }
        if !content_type.eq_ignore_ascii_case("application/octet-stream") {
            return Err(format!(
                "content type {content_type:?}, but the runtime accepts only application/octet-stream"
            ));
        }
        Ok(body)
    }
}
