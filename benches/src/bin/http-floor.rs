//! The network's floor under `benches/local.sh`: a bare pooled HTTP client,
//! no runtime at all, making the calls a run of statefun-local makes to
//! `latency-server`. `addresses` addresses each call `bench/counter` `per`
//! times one after the other (one request in flight per address, as the
//! runtime sends them), through at most `pool` connections at once (the
//! Netty transport's `pool_size`, default 1024), with hyper-util's pooled
//! client as statefun-local uses it. Prints the wall-clock time, requests
//! per second and this process's CPU time.
//!
//! It is the reference for what a deadline on the `wide` workload can
//! ask of statefun-local on the same machine: the same calls with nothing
//! else to do (no input, no engine, no checkpoints). Two strict floors
//! hold whatever the client: HTTP/1.1 carries one request per connection
//! at a time, so `requests × latency ÷ pool` of wall-clock time; and
//! opening the connections, which the first round of calls has to do
//! (docs/performance.md, "statefun-local: calls in flight").
//!
//! ```text
//! http-floor [ADDRESSES] [PER] [POOL] [LATENCY_MS]   # defaults 10000, 2, 1024, 20
//! ```
//!
//! It starts `latency-server` itself (from the same directory), as
//! `local-bench` does; `benches/local.sh --floor` builds and runs both.

use std::sync::Arc;
use std::time::Instant;

use anyhow::ensure;
use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use prost::Message as _;
use stateful_functions::Value as _;
use statefun_benches::process::{ServerProcess, sibling};
use statefun_protocol::reqreply::{Address, ToFunction, TypedValue, to_function};
use tokio::sync::Semaphore;

/// The `ToFunction` the runtime sends `bench/counter:<id>` with its
/// `count` and one `long` message of 1.
fn request(id: usize, count: i64) -> anyhow::Result<Bytes> {
    let long = |value: i64| -> anyhow::Result<TypedValue> {
        Ok(TypedValue {
            typename: "io.statefun.types/long".to_owned(),
            has_value: true,
            value: value.to_bytes()?,
        })
    };
    let batch = to_function::InvocationBatchRequest {
        target: Some(Address {
            namespace: "bench".to_owned(),
            r#type: "counter".to_owned(),
            id: format!("a-{id}"),
        }),
        state: vec![to_function::PersistedValue {
            state_name: "count".to_owned(),
            state_value: Some(long(count)?),
        }],
        invocations: vec![to_function::Invocation {
            caller: None,
            argument: Some(long(1)?),
        }],
    };
    Ok(Bytes::from(
        ToFunction {
            request: Some(to_function::Request::Invocation(batch)),
        }
        .encode_to_vec(),
    ))
}

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let mut next = |default: usize| -> anyhow::Result<usize> {
        Ok(args.next().map_or(Ok(default), |a| a.parse())?)
    };
    let addresses = next(10_000)?;
    let per = next(2)?;
    let pool = next(1024)?.clamp(1, Semaphore::MAX_PERMITS);
    let latency_ms = next(20)?;
    let mut command = std::process::Command::new(sibling("latency-server")?);
    command.arg("0").arg(latency_ms.to_string());
    let server = ServerProcess::start(command)?;
    // statefun-local's runtime: two worker threads.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let wall = runtime.block_on(run(server.port(), addresses, per, pool))?;
    let server_cpu = statefun_benches::cpu_time(server.id())?;
    let requests = addresses * per;
    let cpu = statefun_benches::cpu_time(std::process::id())?;
    #[allow(clippy::print_stdout)] // the benchmark's output
    {
        println!(
            "{requests} requests ({addresses} addresses x {per}) at {latency_ms} ms, pool {pool}: {:.3} s, {:.0} requests/s, CPU {:.2} s (function server {:.2} s)",
            wall.as_secs_f64(),
            requests as f64 / wall.as_secs_f64(),
            cpu.as_secs_f64(),
            server_cpu.as_secs_f64(),
        );
    }
    Ok(())
}

async fn run(
    port: u16,
    addresses: usize,
    per: usize,
    pool: usize,
) -> anyhow::Result<std::time::Duration> {
    let mut connector = HttpConnector::new();
    connector.set_nodelay(true);
    let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new())
        .pool_timer(TokioTimer::new())
        .build(connector);
    let pool = Arc::new(Semaphore::new(pool));
    let url: http::Uri = format!("http://127.0.0.1:{port}/statefun").parse()?;
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for id in 0..addresses {
        let (client, pool, url) = (client.clone(), Arc::clone(&pool), url.clone());
        tasks.spawn(async move {
            for count in 0..per {
                let body = request(id, i64::try_from(count)?)?;
                let _connection = pool.acquire().await?;
                let request = http::Request::post(url.clone())
                    .header("content-type", "application/octet-stream")
                    .body(Full::new(body))?;
                let response = client.request(request).await?;
                let status = response.status();
                let _answer = response.into_body().collect().await?.to_bytes();
                ensure!(status.is_success(), "a-{id}: status {status}");
            }
            anyhow::Ok(())
        });
    }
    while let Some(done) = tasks.join_next().await {
        done??;
    }
    Ok(started.elapsed())
}
