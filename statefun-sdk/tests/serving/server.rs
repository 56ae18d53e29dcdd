//! A real server on loopback, a real HTTP client.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use http::{Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use stateful_functions::{RequestReplyService, Server};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::fixture::{Fixture, count, fixture, request};

struct Running {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<std::io::Result<()>>,
    fixture: Fixture,
}

impl Running {
    async fn start(configure: impl FnOnce(Server) -> Server) -> Self {
        let fixture = fixture();
        let server = configure(Server::new(fixture.handler.clone()));
        let bound = server.bind("127.0.0.1:0").await.unwrap();
        let addr = bound.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(bound.serve_until(async {
            let _ = stopped.await;
        }));
        Self {
            addr,
            stop: Some(stop),
            task,
            fixture,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    async fn stop(mut self) {
        let _ = self.stop.take().unwrap().send(());
        tokio::time::timeout(Duration::from_secs(10), self.task)
            .await
            .unwrap()
            .unwrap()
            .unwrap();
    }
}

fn client() -> Client<HttpConnector, Full<Bytes>> {
    Client::builder(TokioExecutor::new()).build_http()
}

async fn post(
    client: &Client<HttpConnector, Full<Bytes>>,
    url: &str,
    content_type: Option<&str>,
    body: Bytes,
) -> (StatusCode, http::HeaderMap, Bytes) {
    let mut builder = Request::builder().method(Method::POST).uri(url);
    if let Some(ct) = content_type {
        builder = builder.header("content-type", ct);
    }
    let response = client
        .request(builder.body(Full::new(body)).unwrap())
        .await
        .unwrap();
    let (parts, body) = response.into_parts();
    (
        parts.status,
        parts.headers,
        body.collect().await.unwrap().to_bytes(),
    )
}

const OCTET: Option<&str> = Some("application/octet-stream");

#[tokio::test]
async fn happy_path_answers_200_octet_stream() {
    let server = Running::start(|s| s).await;
    let (status, headers, body) = post(
        &client(),
        &server.url("/statefun"),
        OCTET,
        request("test/counter", "a", 5),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["content-type"], "application/octet-stream");
    // The length is declared (from the body's size), not chunked.
    assert_eq!(headers["content-length"], body.len().to_string().as_str());
    assert!(!headers.contains_key("transfer-encoding"));
    assert_eq!(count(&body), 15);
    // No content type at all is accepted too.
    let (status, _, _) = post(
        &client(),
        &server.url("/statefun"),
        None,
        request("test/counter", "a", 1),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    server.stop().await;
}

#[tokio::test]
async fn every_error_has_its_status_and_a_one_line_reason() {
    let server = Running::start(|s| s).await;
    let c = client();
    let url = server.url("/statefun");
    let cases: Vec<(StatusCode, Bytes, &str)> = vec![
        (
            StatusCode::BAD_REQUEST,
            Bytes::from_static(b"\xff\xff"),
            "malformed request",
        ),
        (
            StatusCode::NOT_FOUND,
            request("test/missing", "a", 1),
            "no function of type test/missing",
        ),
        (
            StatusCode::INTERNAL_SERVER_ERROR,
            request("test/counter", "kim", -1),
            "function test/counter failed at address test/counter:kim (invocation 1 of 1): refusing -1",
        ),
    ];
    for (expected, body, reason) in cases {
        let (status, headers, text) = post(&c, &url, OCTET, body).await;
        let text = String::from_utf8(text.to_vec()).unwrap();
        assert_eq!(status, expected, "{text}");
        assert!(text.contains(reason), "{text}");
        assert_eq!(text.lines().count(), 1, "{text:?}");
        assert!(
            headers["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/plain")
        );
    }

    let (status, _, text) = post(
        &c,
        &server.url("/elsewhere"),
        OCTET,
        request("test/counter", "a", 1),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(String::from_utf8_lossy(&text).contains("no StateFun endpoint at path /elsewhere"));

    let (status, _, _) = post(
        &c,
        &url,
        Some("application/json"),
        request("test/counter", "a", 1),
    )
    .await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);

    let get = Request::builder()
        .uri(&url)
        .body(Full::new(Bytes::new()))
        .unwrap();
    let response = c.request(get).await.unwrap();
    assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(response.headers()["allow"], "POST");
    server.stop().await;
}

#[tokio::test]
async fn a_panicking_function_is_a_500_and_the_server_keeps_serving() {
    let server = Running::start(|s| s).await;
    let c = client();
    let url = server.url("/statefun");
    let (status, _, text) = post(&c, &url, OCTET, request("test/counter", "p", -2)).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(String::from_utf8_lossy(&text).contains("panicked at address test/counter:p"));
    let (status, _, body) = post(&c, &url, OCTET, request("test/counter", "p", 3)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(count(&body), 13);
    server.stop().await;
}

#[tokio::test]
async fn oversized_bodies_are_refused_with_413() {
    let server = Running::start(|s| s.with_body_limit(1024)).await;
    // Declared length over the limit: refused before the body is read.
    let (status, _, text) = post(
        &client(),
        &server.url("/statefun"),
        OCTET,
        Bytes::from(vec![0_u8; 4096]),
    )
    .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(String::from_utf8_lossy(&text).contains("limit of 1024 bytes"));

    // Chunked, no declared length: refused once the limit is passed.
    let chunked: Client<HttpConnector, Chunks> = Client::builder(TokioExecutor::new()).build_http();
    let request = Request::builder()
        .method(Method::POST)
        .uri(server.url("/statefun"))
        .body(Chunks(
            (0..8).map(|_| Bytes::from(vec![0_u8; 512])).collect(),
        ))
        .unwrap();
    let response = chunked.request(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    server.stop().await;
}

#[tokio::test]
async fn bodies_in_pieces_are_put_together() {
    let server = Running::start(|s| s).await;
    let body = request("test/counter", "pieces", 5);

    // Chunked, no declared length, in three chunks.
    let chunked: Client<HttpConnector, Chunks> = Client::builder(TokioExecutor::new()).build_http();
    let third = body.len() / 3;
    // `Chunks` sends its last chunk first.
    let pieces = vec![
        body.slice(2 * third..),
        body.slice(third..2 * third),
        body.slice(..third),
    ];
    let request = Request::builder()
        .method(Method::POST)
        .uri(server.url("/statefun"))
        .body(Chunks(pieces))
        .unwrap();
    let response = chunked.request(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let answer = response.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(count(&answer), 15);

    // A declared length with the body still on its way after the headers.
    let mut stream = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    let head = format!(
        "POST /statefun HTTP/1.1\r\nhost: x\r\ncontent-type: application/octet-stream\r\ncontent-length: {}\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(&body[..third]).await.unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    stream.write_all(&body[third..]).await.unwrap();
    let head = response_head(&mut stream).await;
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    server.stop().await;
}

#[tokio::test]
async fn unused_connections_do_not_hold_up_shutdown() {
    // Far longer than `stop` waits (10 s).
    let server = Running::start(|s| s.with_header_read_timeout(Duration::from_secs(120))).await;
    // Client pools open spare connections they may never use.
    let mut spare = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    let mut half = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    half.write_all(b"POST /statefun HT").await.unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    server.stop().await;
    // Both were closed by the server.
    for stream in [&mut spare, &mut half] {
        let mut buf = [0_u8; 16];
        let n = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buf))
            .await
            .unwrap()
            .unwrap_or(0);
        assert_eq!(n, 0);
    }
}

/// Reads from a raw connection up to the end of a response's head (or the
/// connection's end), within 5 s.
async fn response_head(stream: &mut tokio::net::TcpStream) -> String {
    let mut response = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), async {
        let mut buf = [0_u8; 1024];
        loop {
            let n = stream.read(&mut buf).await.unwrap();
            response.extend_from_slice(&buf[..n]);
            if n == 0 || response.windows(4).any(|w| w == b"\r\n\r\n") {
                break;
            }
        }
    })
    .await
    .unwrap();
    String::from_utf8_lossy(&response).into_owned()
}

/// A body of chunks with no declared length (sent chunked).
struct Chunks(Vec<Bytes>);

impl http_body::Body for Chunks {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Bytes>, Self::Error>>> {
        std::task::Poll::Ready(self.0.pop().map(|chunk| Ok(http_body::Frame::data(chunk))))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_concurrent_requests_for_different_addresses() {
    let server = Running::start(|s| s).await;
    let c = client();
    let url = server.url("/statefun");
    let tasks: Vec<_> = (0..1000)
        .map(|i| {
            let (c, url) = (c.clone(), url.clone());
            tokio::spawn(async move {
                let (status, _, body) = post(
                    &c,
                    &url,
                    OCTET,
                    request("test/counter", &format!("id-{i}"), i),
                )
                .await;
                assert_eq!(status, StatusCode::OK);
                assert_eq!(count(&body), 10 + i64::from(i), "address id-{i}");
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    server.stop().await;
}

#[tokio::test]
async fn graceful_shutdown_finishes_the_request_in_flight() {
    let server = Running::start(|s| s).await;
    let c = client();
    let url = server.url("/statefun");
    let in_flight =
        tokio::spawn(
            async move { post(&c, &url, OCTET, request("test/counter", "slow", -3)).await },
        );
    server.fixture.started.notified().await;
    // Ask the server to stop while the function is still running.
    let Running {
        stop,
        task,
        fixture,
        addr,
    } = server;
    let _ = stop.unwrap().send(());
    // New connections are refused once shutdown has begun (the listener is
    // closed first); wait for that rather than for a fixed time.
    let refused = tokio::time::timeout(Duration::from_secs(10), async {
        while tokio::net::TcpStream::connect(addr).await.is_ok() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    });
    refused.await.expect("the listener closes on shutdown");
    assert!(
        !task.is_finished(),
        "the server waits for the request in flight"
    );
    fixture.release.notify_one();
    let (status, _, body) = in_flight.await.unwrap();
    assert_eq!(status, StatusCode::OK);
    assert_eq!(count(&body), 7);
    tokio::time::timeout(Duration::from_secs(10), task)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
}

#[tokio::test]
async fn http2_with_prior_knowledge() {
    let server = Running::start(|s| s).await;
    let h2: Client<HttpConnector, Full<Bytes>> = Client::builder(TokioExecutor::new())
        .http2_only(true)
        .build_http();
    let request = Request::builder()
        .method(Method::POST)
        .uri(server.url("/statefun"))
        .header("content-type", "application/octet-stream")
        .body(Full::new(request("test/counter", "h2", 2)))
        .unwrap();
    let response = h2.request(request).await.unwrap();
    assert_eq!(response.version(), http::Version::HTTP_2);
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers()["content-type"],
        "application/octet-stream"
    );
    let body = response.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(count(&body), 12);
    server.stop().await;
}

#[tokio::test]
async fn url_path_templates_serve_one_path_per_function_type() {
    let server = Running::start(|s| {
        s.with_url_path_template("http://functions:8000/fns/{function.name}?x=1")
            .unwrap()
    })
    .await;
    let c = client();
    let (status, _, _) = post(
        &c,
        &server.url("/fns/counter"),
        OCTET,
        request("test/counter", "a", 1),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _, _) = post(
        &c,
        &server.url("/statefun"),
        OCTET,
        request("test/counter", "a", 1),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    server.stop().await;
    let service = RequestReplyService::new(fixture().handler)
        .with_url_path_template("/a/{function.name}/b")
        .unwrap();
    assert_eq!(service.paths().unwrap(), ["/a/counter/b"]);
}

#[tokio::test]
async fn slow_clients_are_timed_out() {
    let server = Running::start(|s| {
        s.with_body_timeout(Duration::from_millis(200))
            .with_header_read_timeout(Duration::from_millis(200))
    })
    .await;

    // A body that never arrives: 408.
    let mut stream = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    stream
        .write_all(b"POST /statefun HTTP/1.1\r\nhost: x\r\ncontent-length: 100\r\n\r\nabc")
        .await
        .unwrap();
    let head = response_head(&mut stream).await;
    assert!(head.starts_with("HTTP/1.1 408"), "{head}");

    // Headers that never end, nothing at all, or half an HTTP/2 preface:
    // each connection is closed after the header-read timeout.
    for opening in [
        &b"POST /statefun HTTP/1.1\r\nhost: x\r\n"[..],
        b"",
        b"PRI * HTTP/2.0\r\n",
    ] {
        let mut stream = tokio::net::TcpStream::connect(server.addr).await.unwrap();
        stream.write_all(opening).await.unwrap();
        let mut buf = [0_u8; 1024];
        let closed = tokio::time::timeout(Duration::from_secs(5), async {
            loop {
                match stream.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {}
                }
            }
        });
        closed
            .await
            .unwrap_or_else(|_| panic!("a connection that sent {opening:?} was not closed"));
    }
    server.stop().await;
}
