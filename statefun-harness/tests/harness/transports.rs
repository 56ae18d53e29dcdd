//! The runtime's two HTTP transports against a real HTTP server on
//! loopback (spec §2.2, §2.3): what each retries, after which backoff, and
//! which answers each accepts.

use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use stateful_functions::{Address, TypeName};
use statefun_harness::{Cause, EndpointOptions, Event, Harness, JobFailure, Transport};

/// An empty `FromFunction { invocation_result {} }`.
pub(crate) const EMPTY_ANSWER: &[u8] = b"\xa2\x06\x00";

const CANNED: TypeName = TypeName::from_static("test/canned");

/// An HTTP/1.1 server on a loopback port that answers every request with
/// what `answer` returns for its number (from 0), and keeps each request's
/// headers; stops when dropped.
pub(crate) struct Canned {
    pub(crate) url: String,
    requests: Arc<Mutex<Vec<http::HeaderMap>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Canned {
    pub(crate) async fn start(
        answer: impl Fn(usize) -> Response<Full<Bytes>> + Send + Sync + 'static,
    ) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/statefun", listener.local_addr().unwrap());
        let requests = Arc::new(Mutex::new(Vec::new()));
        let seen = Arc::clone(&requests);
        let answer = Arc::new(answer);
        let task = tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                let seen = Arc::clone(&seen);
                let answer = Arc::clone(&answer);
                let service = service_fn(move |request: Request<Incoming>| {
                    let seen = Arc::clone(&seen);
                    let answer = Arc::clone(&answer);
                    async move {
                        let n = {
                            let mut seen = seen.lock().unwrap();
                            seen.push(request.headers().clone());
                            seen.len() - 1
                        };
                        let _ = request.into_body().collect().await;
                        Ok::<_, Infallible>(answer(n))
                    }
                });
                tokio::spawn(async move {
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(socket), service)
                        .await;
                });
            }
        });
        Self {
            url,
            requests,
            task,
        }
    }

    /// The requests received so far.
    pub(crate) fn requests(&self) -> usize {
        self.requests.lock().unwrap().len()
    }

    /// The value of header `name` in request `n`.
    pub(crate) fn header(&self, n: usize, name: &str) -> Option<String> {
        let requests = self.requests.lock().unwrap();
        let value = requests.get(n)?.get(name)?;
        Some(value.to_str().unwrap().to_owned())
    }
}

impl Drop for Canned {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A response with `status`, `content_type` (if any) and `body`.
pub(crate) fn response(
    status: u16,
    content_type: Option<&str>,
    body: &'static [u8],
) -> Response<Full<Bytes>> {
    let mut builder = Response::builder().status(status);
    if let Some(content_type) = content_type {
        builder = builder.header("content-type", content_type);
    }
    builder.body(Full::new(Bytes::from_static(body))).unwrap()
}

/// A harness that calls `url` for `test/canned` with `options`, after one
/// message to `test/canned:x` ran to idle or failed.
pub(crate) async fn run_one(url: &str, options: EndpointOptions) -> (Harness, Option<JobFailure>) {
    let mut h = Harness::builder()
        .remote_with(CANNED, url, options)
        .build()
        .unwrap();
    h.send(Address::new(CANNED, "x"), &1_i64).unwrap();
    let failure = h.run().await.err();
    (h, failure)
}

/// Failed attempts in the trace: (virtual ms, attempt, retry in ms).
pub(crate) fn attempts(h: &Harness) -> Vec<(u128, u32, Option<u128>)> {
    h.trace()
        .iter()
        .filter_map(|e| match &e.event {
            Event::AttemptFailed {
                attempt, retry_in, ..
            } => Some((e.at.as_millis(), *attempt, retry_in.map(|d| d.as_millis()))),
            _ => None,
        })
        .collect()
}

fn okhttp() -> EndpointOptions {
    EndpointOptions::new().transport(Transport::OkHttp)
}

const OCTET_STREAM: Option<&str> = Some("application/octet-stream");

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn okhttp_fails_the_job_at_once_on_a_404_where_netty_retries_it() {
    // httpfn/RetryingCallback.java: a status below 500 that is not one of
    // 408, 409, 420, 429, 499 throws "Non successful HTTP response code"
    // without a retry; observed: a 404 fails the task at once.
    let server = Canned::start(|_| response(404, None, b"no such function")).await;
    let (h, failure) = run_one(&server.url, okhttp()).await;
    let failure = failure.unwrap();
    assert_eq!(failure.attempts(), Some(1), "{failure}");
    assert!(failure.to_string().contains("404"), "{failure}");
    assert!(
        failure
            .to_string()
            .contains("the OkHttp transport does not retry this"),
        "{failure}"
    );
    assert!(matches!(failure.cause(), Cause::Transport { .. }));
    assert_eq!(server.requests(), 1);
    assert_eq!(
        server.header(0, "content-type").as_deref(),
        Some("application/octet-stream")
    );
    assert_eq!(attempts(&h), [(0, 1, None)]);
    assert_eq!(h.now(), Duration::ZERO);

    // nettyclient/NettyRequest.java retries every failure, a 404 as well.
    let (h, failure) = run_one(
        &server.url,
        EndpointOptions::new().call_timeout(Duration::from_millis(100)),
    )
    .await;
    assert_eq!(failure.unwrap().attempts(), Some(5));
    assert_eq!(h.now(), Duration::from_millis(100));

    // A 400 and a 415 alike; a 429 (and 408, 409, 420, 499) is retried.
    for (status, tries) in [(400, 1), (415, 1), (429, 5), (408, 5), (499, 5)] {
        let server = Canned::start(move |_| response(status, None, b"")).await;
        let (_, failure) = run_one(
            &server.url,
            okhttp().call_timeout(Duration::from_millis(100)),
        )
        .await;
        assert_eq!(failure.unwrap().attempts(), Some(tries), "status {status}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn okhttp_retries_5xx_after_10_20_40_ms_up_to_the_deadline() {
    // httpfn/RetryingCallback.java with backpressure/BoundedExponentialBackoff:
    // status >= 500 is retried after sleeps of 10, 20, 40, 80… ms, each
    // capped by the time left of the call budget; the request fails only
    // when no time is left, so an attempt may start at the deadline.
    // Observed: a 503 retried after 10, 20, 40, 80, 160 ms.
    let server = Canned::start(|_| response(503, None, b"busy")).await;
    let (h, failure) = run_one(
        &server.url,
        okhttp().call_timeout(Duration::from_millis(100)),
    )
    .await;
    let failure = failure.unwrap();
    assert_eq!(
        attempts(&h),
        [
            (0, 1, Some(10)),
            (10, 2, Some(20)),
            (30, 3, Some(40)),
            (70, 4, Some(30)),
            (100, 5, None),
        ]
    );
    assert_eq!(failure.attempts(), Some(5));
    assert!(
        failure.to_string().contains("call budget is spent"),
        "{failure}"
    );
    assert_eq!(server.requests(), 5);
    assert_eq!(h.now(), Duration::from_millis(100));

    // Its budget defaults to 1 minute (DefaultHttpRequestReplyClientSpec),
    // not the Netty transport's 2.
    let (h, failure) = run_one(&server.url, okhttp()).await;
    assert!(failure.is_some());
    assert_eq!(h.now(), Duration::from_secs(60));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn okhttp_fails_at_once_on_a_content_type_netty_accepts_or_retries() {
    // httpfn/DefaultHttpRequestReplyClient.java compares the media type
    // exactly (Objects.equals), after a 2xx, and throws "Wrong HTTP
    // content-type" without a retry; observed even for a type that differs
    // only in letter case.
    let server =
        Canned::start(|_| response(200, Some("Application/Octet-Stream"), EMPTY_ANSWER)).await;
    let (h, failure) = run_one(&server.url, okhttp()).await;
    let failure = failure.unwrap();
    assert_eq!(failure.attempts(), Some(1), "{failure}");
    assert!(failure.to_string().contains("content type"), "{failure}");
    assert_eq!(h.now(), Duration::ZERO);
    // nettyclient/NettyRequestReplyHandler.java compares ignoring letter
    // case: the same answer is accepted.
    let (h, failure) = run_one(&server.url, EndpointOptions::new()).await;
    assert!(failure.is_none(), "{failure:?}");
    assert_eq!(h.counters().failed_attempts, 0);

    // Another type: Netty retries it ("Unexpected content type"), until
    // the budget is spent; OkHttp fails at once.
    let server = Canned::start(|_| response(200, Some("application/json"), EMPTY_ANSWER)).await;
    let (_, failure) = run_one(
        &server.url,
        EndpointOptions::new().call_timeout(Duration::from_millis(100)),
    )
    .await;
    assert_eq!(failure.unwrap().attempts(), Some(5));
    let (_, failure) = run_one(&server.url, okhttp()).await;
    assert_eq!(failure.unwrap().attempts(), Some(1));

    // The exact type passes both.
    let server = Canned::start(|_| response(200, OCTET_STREAM, EMPTY_ANSWER)).await;
    for options in [okhttp(), EndpointOptions::new()] {
        let (h, failure) = run_one(&server.url, options).await;
        assert!(failure.is_none(), "{failure:?}");
        assert_eq!(h.counters().failed_attempts, 0);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn okhttp_fails_at_once_on_a_body_that_is_not_a_from_function() {
    // httpfn/DefaultHttpRequestReplyClient.java parses the body after the
    // retrying callback completed: a parse error fails the request without
    // a retry. Netty (NettyRequestReplyHandler.java) parses it inside the
    // attempt, so its failure is retried.
    let server = Canned::start(|_| response(200, OCTET_STREAM, b"\xff\xff\xff")).await;
    let (_, failure) = run_one(&server.url, okhttp()).await;
    let failure = failure.unwrap();
    assert_eq!(failure.attempts(), Some(1), "{failure}");
    assert!(matches!(failure.cause(), Cause::MalformedResponse(_)));
    let (_, failure) = run_one(
        &server.url,
        EndpointOptions::new().call_timeout(Duration::from_millis(100)),
    )
    .await;
    assert_eq!(failure.unwrap().attempts(), Some(5));
}

/// `bytes` encoded as `encoding` (gzip, or zlib for deflate).
fn encoded(encoding: &str, bytes: &[u8]) -> Vec<u8> {
    use std::io::Write as _;
    if encoding.eq_ignore_ascii_case("deflate") {
        let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(bytes).unwrap();
        e.finish().unwrap()
    } else {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(bytes).unwrap();
        e.finish().unwrap()
    }
}

/// A 200 `application/octet-stream` answer of `body` with `Content-Encoding:
/// encoding`.
fn compressed(encoding: &'static str, body: &[u8]) -> impl Fn(usize) -> Response<Full<Bytes>> {
    let body = Bytes::from(encoded(encoding, body));
    move |_| {
        Response::builder()
            .header("content-type", "application/octet-stream")
            .header("content-encoding", encoding)
            .body(Full::new(body.clone()))
            .unwrap()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gzip_answers_are_decoded_by_both_transports() {
    // nettyclient/HttpConnectionPoolManager.java puts an
    // HttpContentDecompressor before the aggregator, and NettyHeaders.java
    // asks for `gzip,deflate`; OkHttp asks for gzip and decodes it
    // transparently. Observed: both accept `Content-Encoding: gzip` answers.
    let server = Canned::start(compressed("gzip", EMPTY_ANSWER)).await;
    for (options, asked) in [(EndpointOptions::new(), "gzip,deflate"), (okhttp(), "gzip")] {
        let before = server.requests();
        let (h, failure) = run_one(&server.url, options).await;
        assert!(failure.is_none(), "{failure:?}");
        assert_eq!(h.counters().failed_attempts, 0);
        assert_eq!(
            server.header(before, "accept-encoding").as_deref(),
            Some(asked)
        );
    }
    // Netty's decompressor takes deflate too (and any letter case).
    let server = Canned::start(compressed("Deflate", EMPTY_ANSWER)).await;
    let (_, failure) = run_one(&server.url, EndpointOptions::new()).await;
    assert!(failure.is_none(), "{failure:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn netty_fails_an_attempt_whose_answer_exceeds_payload_max_bytes() {
    // nettyclient/HttpConnectionPoolManager.java: HttpObjectAggregator(
    // payload_max_bytes) throws TooLongHttpContentException for a larger
    // (decoded) answer; NettyRequest.java retries it like any failure.
    // OkHttp has no such limit.
    let server = Canned::start(|_| response(200, OCTET_STREAM, EMPTY_ANSWER)).await;
    let (h, failure) = run_one(
        &server.url,
        EndpointOptions::new()
            .payload_max_bytes(2)
            .call_timeout(Duration::from_millis(100)),
    )
    .await;
    let failure = failure.unwrap();
    assert_eq!(failure.attempts(), Some(5), "{failure}");
    assert!(
        failure.to_string().contains("payload_max_bytes"),
        "{failure}"
    );
    assert_eq!(attempts(&h)[0], (0, 1, Some(4)));
    for options in [
        EndpointOptions::new().payload_max_bytes(3),
        okhttp().payload_max_bytes(2),
    ] {
        let (_, failure) = run_one(&server.url, options).await;
        assert!(failure.is_none(), "{failure:?}");
    }
    // The limit applies to the decoded answer: 3 bytes, sent as ~23.
    let server = Canned::start(compressed("gzip", EMPTY_ANSWER)).await;
    let (_, failure) = run_one(&server.url, EndpointOptions::new().payload_max_bytes(3)).await;
    assert!(failure.is_none(), "{failure:?}");

    // The default is 32 MiB: one byte more fails (announced by its
    // Content-Length, so it is refused before it is read).
    let big = Bytes::from(vec![0_u8; EndpointOptions::DEFAULT_PAYLOAD_MAX_BYTES + 1]);
    let server = Canned::start(move |_| {
        Response::builder()
            .header("content-type", "application/octet-stream")
            .body(Full::new(big.clone()))
            .unwrap()
    })
    .await;
    let (_, failure) = run_one(
        &server.url,
        EndpointOptions::new().call_timeout(Duration::from_millis(5)),
    )
    .await;
    let failure = failure.unwrap();
    assert!(failure.to_string().contains("33554433 bytes"), "{failure}");
}
