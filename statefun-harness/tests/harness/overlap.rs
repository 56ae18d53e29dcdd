//! Remote calls overlap on the network (issue 22), as the runtime's
//! asynchronous operations do: a call starts when its request is sent, one
//! request in flight per address (`reqreply/RequestReplyFunction.java`),
//! many addresses at once up to `statefun.async.max-per-task` per partition
//! (`backpressure/ThresholdBackPressureValve.java`), over a pool of
//! connections per function type (`nettyclient/NettyClient.java`'s
//! `FixedChannelPool`). Each [`CallOrder`] is checked against a real HTTP
//! server that answers after a latency of its choosing and counts what is
//! in flight.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use prost::Message as _;
use stateful_functions::{
    Address, Context, FunctionError, FunctionType as _, Functions, RequestReplyHandler, State,
    TypeName, Value as _, function,
};
use statefun_harness::{CallOrder, EndpointOptions, Event, Harness, Progress};
use statefun_protocol::reqreply::{ToFunction, to_function};

const COUNTER: TypeName = TypeName::from_static("overlap/counter");

#[derive(State)]
struct CountState {
    count: i64,
}

/// `overlap/counter`: adds each message to `count`.
#[derive(Default)]
struct Counter;

#[function(typename = "overlap/counter", state = CountState, auto_register = false)]
impl Counter {
    #[handler]
    async fn add(&self, ctx: &mut Context, n: i64) -> Result<(), FunctionError> {
        let count = ctx.storage().get(&CountState::COUNT)?.unwrap_or(0);
        ctx.storage().set(&CountState::COUNT, &(count + n))?;
        Ok(())
    }
}

fn counter(id: &str) -> Address {
    Address::new(COUNTER, id)
}

/// Sends the `long` 1 to `to`.
fn send_one(h: &mut Harness, to: Address) {
    let one = 1_i64.to_bytes().unwrap();
    h.send_bytes(to, "io.statefun.types/long", one);
}

/// What the server saw: requests in flight, at most, in all and per
/// address, and the connections it accepted.
#[derive(Default)]
struct Seen {
    in_flight: Mutex<(usize, BTreeMap<String, usize>)>,
    max_in_flight: AtomicUsize,
    max_per_address: AtomicUsize,
    requests: AtomicUsize,
    connections: AtomicUsize,
}

/// The counter behind the SDK's handler, on a loopback HTTP/1.1 server
/// that answers request `n` to address id `id` after `latency(n, id)`;
/// stops when dropped.
struct Slow {
    url: String,
    seen: Arc<Seen>,
    task: tokio::task::JoinHandle<()>,
}

impl Slow {
    async fn start(latency: impl Fn(usize, &str) -> Duration + Send + Sync + 'static) -> Self {
        let handler =
            RequestReplyHandler::new(Functions::new().with(Counter.spec().unwrap()).unwrap());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/statefun", listener.local_addr().unwrap());
        let seen = Arc::new(Seen::default());
        let latency = Arc::new(latency);
        let shared = Arc::clone(&seen);
        let task = tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                shared.connections.fetch_add(1, Ordering::SeqCst);
                let (seen, latency, handler) =
                    (Arc::clone(&shared), Arc::clone(&latency), handler.clone());
                let service = service_fn(move |request: Request<Incoming>| {
                    let (seen, latency, handler) =
                        (Arc::clone(&seen), Arc::clone(&latency), handler.clone());
                    async move {
                        let body = request.into_body().collect().await.unwrap().to_bytes();
                        let id = target_id(&body);
                        let n = seen.requests.fetch_add(1, Ordering::SeqCst);
                        {
                            let mut in_flight = seen.in_flight.lock().unwrap();
                            in_flight.0 += 1;
                            let here = in_flight.1.entry(id.clone()).or_default();
                            *here += 1;
                            let here = *here;
                            seen.max_per_address.fetch_max(here, Ordering::SeqCst);
                            seen.max_in_flight.fetch_max(in_flight.0, Ordering::SeqCst);
                        }
                        tokio::time::sleep(latency(n, &id)).await;
                        let answer = handler.handle(body).await.unwrap();
                        {
                            let mut in_flight = seen.in_flight.lock().unwrap();
                            in_flight.0 -= 1;
                            *in_flight.1.entry(id).or_default() -= 1;
                        }
                        Ok::<_, Infallible>(
                            Response::builder()
                                .header("content-type", "application/octet-stream")
                                .body(Full::new(answer))
                                .unwrap(),
                        )
                    }
                });
                tokio::spawn(async move {
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(socket), service)
                        .await;
                });
            }
        });
        Self { url, seen, task }
    }

    fn max_in_flight(&self) -> usize {
        self.seen.max_in_flight.load(Ordering::SeqCst)
    }
}

impl Drop for Slow {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The id of a `ToFunction`'s target.
fn target_id(body: &[u8]) -> String {
    match ToFunction::decode(body).unwrap().request {
        Some(to_function::Request::Invocation(batch)) => batch.target.unwrap().id,
        None => String::new(),
    }
}

/// `per_address` messages to each of `addresses` counters (every
/// address's first, then every second one...), run to idle.
async fn count_to(mut h: Harness, addresses: usize, per_address: usize) -> Harness {
    for _ in 0..per_address {
        for a in 0..addresses {
            send_one(&mut h, counter(&format!("a{a}")));
        }
    }
    h.run().await.unwrap();
    for a in 0..addresses {
        let count: Option<i64> = h
            .state(&counter(&format!("a{a}")), &CountState::COUNT)
            .unwrap();
        assert_eq!(count, Some(i64::try_from(per_address).unwrap()), "a{a}");
    }
    h
}

fn remote(order: CallOrder, seed: u64, url: &str) -> Harness {
    Harness::builder()
        .seed(seed)
        .partitions(2)
        .call_order(order)
        .remote(COUNTER, url)
        .build()
        .unwrap()
}

/// With rounds, which calls a round holds follows from the run alone: two
/// servers with unrelated latencies give the same trace for a seed, and
/// the calls overlapped on both. With the default order, the same holds
/// (traces as if each call were made at its step), and the trace is that
/// of the function in process.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_seed_gives_one_trace_whatever_the_network_timing() {
    let one = Slow::start(|n, _| Duration::from_millis((n as u64 * 7919) % 13)).await;
    let two = Slow::start(|n, id| {
        Duration::from_millis((n as u64 * 104_729 + id.len() as u64 * 31) % 17)
    })
    .await;
    for order in [CallOrder::Rounds, CallOrder::Scheduled] {
        let a = count_to(remote(order, 7, &one.url), 30, 3).await;
        let b = count_to(remote(order, 7, &two.url), 30, 3).await;
        assert_eq!(a.trace_text(), b.trace_text(), "{order:?}");
    }
    assert!(one.max_in_flight() > 1, "{}", one.max_in_flight());
    assert!(two.max_in_flight() > 1, "{}", two.max_in_flight());

    let in_process = Harness::builder()
        .seed(7)
        .partitions(2)
        .endpoint(
            COUNTER,
            statefun_harness::Endpoint::Handler(RequestReplyHandler::new(
                Functions::new().with(Counter.spec().unwrap()).unwrap(),
            )),
        )
        .build()
        .unwrap();
    let in_process = count_to(in_process, 30, 3).await;
    let scheduled = count_to(remote(CallOrder::Scheduled, 7, &one.url), 30, 3).await;
    assert_eq!(scheduled.trace_text(), in_process.trace_text());
}

/// One request in flight per address, and a partition takes no input
/// while `max_in_flight_per_partition` of its requests are in flight: the
/// server never sees more than that at once, yet more than one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_request_per_address_and_at_most_max_in_flight_per_partition() {
    for order in [CallOrder::Rounds, CallOrder::Arrival] {
        let server = Slow::start(|_, _| Duration::from_millis(30)).await;
        let h = Harness::builder()
            .call_order(order)
            .max_in_flight_per_partition(4)
            .remote(COUNTER, &server.url)
            .build()
            .unwrap();
        count_to(h, 20, 3).await;
        assert_eq!(server.seen.max_per_address.load(Ordering::SeqCst), 1);
        let max = server.max_in_flight();
        assert!((2..=4).contains(&max), "{order:?}: {max} in flight at most");
    }
}

/// An endpoint's `pool_size` bounds the connections open at once to its
/// function type: requests wait for one, within their budget.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_connection_pool_bounds_the_calls_in_flight() {
    let server = Slow::start(|_, _| Duration::from_millis(20)).await;
    let h = Harness::builder()
        .call_order(CallOrder::Arrival)
        .remote_with(COUNTER, &server.url, EndpointOptions::new().pool_size(2))
        .build()
        .unwrap();
    count_to(h, 12, 2).await;
    assert_eq!(server.max_in_flight(), 2);
    // Kept alive: the pool's connections are used again.
    let connections = server.seen.connections.load(Ordering::SeqCst);
    let requests = server.seen.requests.load(Ordering::SeqCst);
    assert!(connections < requests / 2, "{connections} for {requests}");
}

/// `nettyclient/NettyClient.java`: the `FixedChannelPool` fails an acquire
/// that waited longer than the connect timeout
/// (`AcquireTimeoutAction.FAIL`, `spec.connectTimeout`), and
/// `NettyRequest.java` retries the failed attempt after its backoff. One
/// connection, held 300 ms by the first call after the handshake (which
/// blocks the partition until answered): the second address's attempt
/// gives up waiting after 50 ms, is retried, and gets through once the
/// connection is free.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn waiting_longer_than_the_connect_timeout_for_a_connection_fails_the_attempt() {
    let server = Slow::start(|n, _| Duration::from_millis(if n == 1 { 300 } else { 1 })).await;
    let mut h = Harness::builder()
        .call_order(CallOrder::Arrival)
        .remote_with(
            COUNTER,
            &server.url,
            EndpointOptions::new()
                .pool_size(1)
                .connect_timeout(Duration::from_millis(50)),
        )
        .build()
        .unwrap();
    send_one(&mut h, counter("first"));
    send_one(&mut h, counter("second"));
    h.run().await.unwrap();
    let trace = h.trace_text();
    assert!(
        trace.contains("attempt 1 at overlap/counter:second failed: calling ")
            && trace.contains(
                "no connection of the pool (pool_size 1) free within the 50ms connect timeout; retry in 4 ms"
            ),
        "{trace}"
    );
    for id in ["first", "second"] {
        let count: Option<i64> = h.state(&counter(id), &CountState::COUNT).unwrap();
        assert_eq!(count, Some(1), "{id}");
    }
    assert_eq!(server.max_in_flight(), 1);
}

/// A connection that does not open within the connect timeout fails the
/// attempt, which Netty retries (`nettyclient/NettyClient.java` sets
/// `CONNECT_TIMEOUT_MILLIS` to the spec's `connect`; the failed connect
/// fails the attempt), until the call budget is spent. The server here
/// takes no connection: its accept queue is full, so the kernel drops
/// further handshakes. Before, the first attempt waited out the whole
/// budget and was not retried.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_that_does_not_open_in_time_fails_the_attempt() {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let listener = socket.listen(1).unwrap();
    let address = listener.local_addr().unwrap();
    // Connections the listener never accepts, until its queue is full.
    let mut queued = Vec::new();
    while let Ok(Ok(stream)) = tokio::time::timeout(
        Duration::from_millis(300),
        tokio::net::TcpStream::connect(address),
    )
    .await
    {
        queued.push(stream);
        assert!(queued.len() < 64, "the accept queue does not fill");
    }
    let mut h = Harness::builder()
        .remote_with(
            COUNTER,
            &format!("http://{address}/statefun"),
            EndpointOptions::new()
                .call_timeout(Duration::from_millis(700))
                .connect_timeout(Duration::from_millis(100)),
        )
        .build()
        .unwrap();
    send_one(&mut h, counter("c"));
    let failure = h.run().await.unwrap_err();
    let trace = h.trace_text();
    assert!(
        trace.contains("attempt 1 at overlap/counter:c failed: calling ")
            && trace.contains("tcp connect error: deadline has elapsed; retry in 4 ms")
            && trace.contains("attempt 2 at overlap/counter:c failed"),
        "{trace}"
    );
    assert!(
        failure.to_string().contains("overlap/counter:c"),
        "{failure}"
    );
    drop((listener, queued));
}

/// The OkHttp transport bounds nothing (`httpfn/OkHttpUtils.java`: its
/// dispatcher runs `Integer.MAX_VALUE` calls per host), so `pool_size`,
/// a Netty setting, does not hold its calls back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn okhttp_calls_are_not_pooled() {
    let server = Slow::start(|_, _| Duration::from_millis(30)).await;
    let h = Harness::builder()
        .call_order(CallOrder::Arrival)
        .remote_with(
            COUNTER,
            &server.url,
            EndpointOptions::new()
                .transport(statefun_harness::Transport::OkHttp)
                .pool_size(1),
        )
        .build()
        .unwrap();
    count_to(h, 8, 1).await;
    assert!(server.max_in_flight() > 1, "{}", server.max_in_flight());
}

/// A pool larger than tokio's semaphore can hold (`usize::MAX`, say) is as
/// good as unbounded: calls go through instead of the engine panicking on
/// the semaphore's assertion.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pool_beyond_the_semaphores_limit_is_unbounded() {
    let server = Slow::start(|_, _| Duration::from_millis(1)).await;
    let h = Harness::builder()
        .call_order(CallOrder::Arrival)
        .remote_with(
            COUNTER,
            &server.url,
            EndpointOptions::new().pool_size(usize::MAX),
        )
        .build()
        .unwrap();
    count_to(h, 4, 2).await;
}

/// Taken as they arrive: a slow address's answer is applied after those of
/// the fast addresses sent after it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_are_applied_as_they_arrive() {
    let server =
        Slow::start(|_, id| Duration::from_millis(if id == "slow" { 300 } else { 1 })).await;
    let mut h = Harness::builder()
        .call_order(CallOrder::Arrival)
        .remote(COUNTER, &server.url)
        .build()
        .unwrap();
    // The first request of the type blocks the partition until it is
    // completed: a fast one.
    send_one(&mut h, counter("fast0"));
    send_one(&mut h, counter("slow"));
    for i in 1..6 {
        send_one(&mut h, counter(&format!("fast{i}")));
    }
    h.run().await.unwrap();
    let applied: Vec<String> = (h.trace().iter())
        .filter_map(|e| match &e.event {
            Event::Applied { address, .. } => Some(address.id().to_owned()),
            _ => None,
        })
        .collect();
    assert_eq!(applied.len(), 7, "{applied:?}");
    assert_eq!(
        applied.last().map(String::as_str),
        Some("slow"),
        "{applied:?}"
    );
}

/// A checkpoint taken while calls are on the network holds their requests,
/// which a crash sends again: every count is right once, and the restore
/// says how many it sent again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_on_the_network_at_a_checkpoint_are_sent_again_after_a_crash() {
    for order in [CallOrder::Rounds, CallOrder::Arrival] {
        let server = Slow::start(|_, _| Duration::from_millis(20)).await;
        let mut h = Harness::builder()
            .call_order(order)
            .remote(COUNTER, &server.url)
            .build()
            .unwrap();
        for a in 0..10 {
            send_one(&mut h, counter(&format!("a{a}")));
        }
        // The handshake, then every message delivered (eleven invocations
        // sent): ten requests in flight, none applied.
        while h.counters().invocations < 11 {
            if let Progress::Idle { .. } = h.run_steps(1).await.unwrap() {
                assert!(h.calls_in_flight() > 0, "{order:?}");
                h.wait_for_answer().await;
            }
        }
        h.checkpoint();
        h.crash();
        h.run().await.unwrap();
        let resent = (h.trace().iter()).find_map(|e| match e.event {
            Event::Restored { resent, .. } => Some(resent),
            _ => None,
        });
        assert_eq!(resent, Some(10), "{order:?}");
        for a in 0..10 {
            let count: Option<i64> = h
                .state(&counter(&format!("a{a}")), &CountState::COUNT)
                .unwrap();
            assert_eq!(count, Some(1), "{order:?}: a{a}");
        }
    }
}
