//! The benchmark tools against a real SDK server: the client reads the
//! inventory's answers, the open-loop generator sends what it is asked to,
//! and wrk's reports are read right.

#![allow(clippy::unwrap_used)]

use std::time::Duration;

use stateful_functions::{RequestReplyHandler, Server};
use statefun_benches::client::Connection;
use statefun_benches::{check_inventory_response, inventory_request, load, wrk};

/// The cart served by the SDK's `Server` on a background runtime.
fn serve() -> (u16, tokio::runtime::Runtime) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let server = runtime
        .block_on(
            Server::new(RequestReplyHandler::new(
                shopping_cart::functions().unwrap(),
            ))
            .bind(("127.0.0.1", 0)),
        )
        .unwrap();
    let port = server.local_addr().unwrap().port();
    runtime.spawn(server.serve());
    (port, runtime)
}

#[test]
fn the_client_reads_the_inventory_answers_on_one_connection() {
    let (port, _runtime) = serve();
    let mut connection = Connection::open(port).unwrap();
    for n in [1, 100, 1] {
        let (status, body) = connection.post(&inventory_request(n)).unwrap();
        assert_eq!(status, 200);
        check_inventory_response(&body, n).unwrap();
    }
    let (status, body) = connection.post(b"not protobuf").unwrap();
    assert_eq!(status, 400, "{}", String::from_utf8_lossy(&body));
}

#[test]
fn the_open_loop_generator_sends_the_scheduled_requests() {
    let (port, _runtime) = serve();
    let latencies = load::open_loop(
        port,
        &inventory_request(1),
        400.0,
        Duration::from_millis(250),
        4,
    )
    .unwrap();
    assert_eq!(latencies.requests, 100);
    assert_eq!(latencies.errors, 0);
    assert!(latencies.p50 <= latencies.p99 && latencies.p99 <= latencies.max);
    assert!(latencies.p50 > Duration::ZERO);
}

#[test]
fn errors_are_counted_not_hidden() {
    let (port, _runtime) = serve();
    let latencies = load::open_loop(port, b"junk", 400.0, Duration::from_millis(50), 2).unwrap();
    assert_eq!(latencies.requests, 0);
    assert_eq!(latencies.errors, 20);
}

#[test]
fn wrk_reports_with_errors_are_read() {
    let text = "Running 10s test @ http://127.0.0.1:1/statefun
  2 threads and 64 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     1.10ms  300.00us  20.00ms   90.00%
  Latency Distribution
     50%  1.00ms
     75%  1.20ms
     90%  1.50ms
     99%    2.50s
  500000 requests in 10.00s, 60.00MB read
  Socket errors: connect 1, read 2, write 3, timeout 4
  Non-2xx or 3xx responses: 7
Requests/sec:  50000.00
Transfer/sec:      6.00MB
";
    let report = wrk::parse(text).unwrap();
    assert_eq!(report.requests, 500_000);
    assert!((report.rate - 50_000.0).abs() < f64::EPSILON);
    assert_eq!(report.socket_errors, 10);
    assert_eq!(report.non_2xx, 7);
    assert_eq!(report.latency[3], Duration::from_millis(2500));
    // A report cut short is not read as zeros.
    assert!(wrk::parse(&text[..200]).is_none());
}

/// `http-floor` starts `latency-server`, makes every call (a non-2xx answer
/// fails it) and reports them; the pool's bound shows in the wall-clock
/// time: 8 calls of 50 ms through one connection take at least 400 ms.
#[test]
fn the_floor_makes_every_call_through_the_pool() {
    let run = |pool: &str| {
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_http-floor"))
            .args(["4", "2", pool, "50"])
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let line = String::from_utf8(output.stdout).unwrap();
        assert!(
            line.starts_with("8 requests (4 addresses x 2) at 50 ms, pool "),
            "{line}"
        );
        let seconds: f64 = line
            .split(": ")
            .nth(1)
            .and_then(|rest| rest.split(" s,").next())
            .unwrap()
            .parse()
            .unwrap();
        seconds
    };
    assert!(run("1") >= 0.4);
    // Four connections: at least two rounds of 50 ms.
    assert!(run("4") >= 0.1);
}
