//! Calling remote endpoints over HTTP/1.1, as the runtime's transports
//! do: `POST`, `application/octet-stream` both ways, gzip (and, for
//! Netty, deflate) answers decoded, Netty's answer size limit.

use std::io::Read as _;

use bytes::Bytes;
use http::{Method, Request};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use crate::transport::{Failure, Transport};

/// A pooled HTTP/1.1 client: keep-alive connections, kept per host while
/// idle. How many are open at once to a function type is bounded by the
/// caller (the engine's `network`), as the runtime's fixed pool per
/// function type bounds it.
#[derive(Clone, Debug)]
pub(crate) struct Client(HyperClient<HttpConnector, Full<Bytes>>);

/// The longest answer copied out of the connection's read buffer.
const OWN_COPY: usize = 4096;

/// How long an idle connection is kept: the Netty transport's default
/// `pool_ttl` (`nettyclient/NettyRequestReplySpec.java`,
/// `DEFAULT_POOLED_CONNECTION_TTL`), which Netty counts from the
/// connection's opening instead (`HttpConnectionPoolHandler.java`: closed
/// once idle after the TTL and 1–3 s of jitter).
const IDLE: std::time::Duration = std::time::Duration::from_secs(15);

impl Client {
    /// A client whose connections must open within `connect_timeout`
    /// (Netty's `CONNECT_TIMEOUT_MILLIS`, OkHttp's `connectTimeout`: the
    /// attempt then fails, and is retried); zero is no bound, as for both.
    pub(crate) fn new(connect_timeout: std::time::Duration) -> Self {
        let mut connector = HttpConnector::new();
        // Netty's socket channels default to TCP_NODELAY, so a request goes
        // out at once, not after a delayed ACK.
        connector.set_nodelay(true);
        connector.set_connect_timeout((!connect_timeout.is_zero()).then_some(connect_timeout));
        Self(
            HyperClient::builder(TokioExecutor::new())
                .pool_timer(hyper_util::rt::TokioTimer::new())
                .pool_idle_timeout(IDLE)
                .build(connector),
        )
    }

    /// Posts a `ToFunction` and returns the `FromFunction` bytes, decoded
    /// when the answer is compressed, or how the attempt failed and why: a
    /// transport error, an answer larger than `payload_max_bytes` (Netty
    /// only), a non-2xx status, or a content type `transport` does not
    /// accept.
    pub(crate) async fn post(
        &self,
        url: &str,
        body: Bytes,
        transport: Transport,
        payload_max_bytes: usize,
    ) -> Result<Bytes, (Failure, String)> {
        // NettyHeaders.java sends `gzip,deflate`; OkHttp adds `gzip` when
        // it decodes transparently.
        let accept_encoding = match transport {
            Transport::Netty => "gzip,deflate",
            Transport::OkHttp => "gzip",
        };
        let limit = (transport == Transport::Netty).then_some(payload_max_bytes);
        let request = Request::builder()
            .method(Method::POST)
            .uri(url)
            .header("content-type", "application/octet-stream")
            .header("accept", "application/octet-stream")
            .header("accept-encoding", accept_encoding)
            .header("user-agent", "statefun")
            .body(Full::new(body))
            .map_err(|e| (Failure::Io, format!("invalid request: {e}")))?;
        let response = self.0.request(request).await.map_err(|e| {
            (
                Failure::Io,
                stateful_functions::ErrorChain::new(&e).to_string(),
            )
        })?;
        let status = response.status();
        let content_type_ok = accepts_content_type(transport, response.headers());
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let encoding = Encoding::of(transport, response.headers());
        if let (Some(limit), Encoding::Identity) = (limit, encoding) {
            let length = response
                .headers()
                .get(http::header::CONTENT_LENGTH)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok());
            if let Some(length) = length.filter(|n| *n > limit as u64) {
                return Err(too_large(length, limit));
            }
        }
        let body = response
            .into_body()
            .collect()
            .await
            .map_err(|e| (Failure::Io, format!("reading the response: {e}")))?
            .to_bytes();
        // A small answer is a slice of the connection's read buffer (8 KiB
        // or more), which it would keep alive until it is applied: with
        // thousands of answers waiting, that is most of the memory.
        let body = if body.len() <= OWN_COPY {
            Bytes::copy_from_slice(&body)
        } else {
            body
        };
        let body = encoding.decode(body, limit).map_err(|reason| {
            // Netty's decoder fails the attempt (retried); OkHttp's fails
            // reading the body after the attempt succeeded (not retried).
            let failure = match transport {
                Transport::Netty => Failure::Io,
                Transport::OkHttp => Failure::Malformed,
            };
            (failure, reason)
        })?;
        if let Some(limit) = limit.filter(|limit| body.len() > *limit) {
            return Err(too_large(body.len() as u64, limit));
        }
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

/// An answer beyond Netty's `payload_max_bytes`: `HttpObjectAggregator`
/// fails the attempt (`TooLongHttpContentException`), which the transport
/// retries like any I/O failure.
fn too_large(length: u64, limit: usize) -> (Failure, String) {
    (
        Failure::Io,
        format!("answer of {length} bytes, larger than payload_max_bytes ({limit})"),
    )
}

/// How an answer's body is encoded, as `transport` reads
/// `Content-Encoding`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Encoding {
    Identity,
    Gzip,
    /// zlib-wrapped, or raw deflate (Netty's `ZLIB_OR_NONE`).
    Deflate,
}

impl Encoding {
    /// Netty's `HttpContentDecompressor` decodes gzip, x-gzip, deflate and
    /// x-deflate in any letter case; OkHttp's transparent gzip only gzip.
    /// Other encodings are passed on undecoded.
    fn of(transport: Transport, headers: &http::HeaderMap) -> Self {
        let Some(value) = headers
            .get(http::header::CONTENT_ENCODING)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
        else {
            return Self::Identity;
        };
        let is = |name: &str| value.eq_ignore_ascii_case(name);
        match transport {
            Transport::Netty if is("gzip") || is("x-gzip") => Self::Gzip,
            Transport::Netty if is("deflate") || is("x-deflate") => Self::Deflate,
            Transport::OkHttp if is("gzip") => Self::Gzip,
            _ => Self::Identity,
        }
    }

    /// The decoded body, at most `limit + 1` bytes of it when there is a
    /// limit (enough to tell that it is too large).
    fn decode(self, body: Bytes, limit: Option<usize>) -> Result<Bytes, String> {
        let cap = limit.map_or(u64::MAX, |l| (l as u64).saturating_add(1));
        let mut decoded = Vec::new();
        let read = match self {
            Self::Identity => return Ok(body),
            Self::Gzip => flate2::read::MultiGzDecoder::new(&body[..])
                .take(cap)
                .read_to_end(&mut decoded),
            Self::Deflate => {
                let zlib = flate2::read::ZlibDecoder::new(&body[..])
                    .take(cap)
                    .read_to_end(&mut decoded);
                if zlib.is_err() {
                    decoded.clear();
                    flate2::read::DeflateDecoder::new(&body[..])
                        .take(cap)
                        .read_to_end(&mut decoded)
                } else {
                    zlib
                }
            }
        };
        read.map_err(|e| format!("decoding the {self:?} answer: {e}"))?;
        Ok(Bytes::from(decoded))
    }
}
