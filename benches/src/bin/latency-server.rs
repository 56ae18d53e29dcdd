//! A function server that answers every request after a fixed latency: the
//! SDK's request-reply handler serving `bench/counter` (each `long` message
//! adds itself to the address's `count`), behind a `tokio::time::sleep` per
//! request, as a function behind a network or on AWS Lambda would answer.
//! HTTP/1.1 with keep-alive, as the runtime calls it.
//!
//! ```text
//! latency-server [PORT] [LATENCY_MS]   # defaults 0 (a free port) and 20; prints the port
//! ```

use std::convert::Infallible;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use stateful_functions::{
    Context, FunctionError, FunctionType as _, Functions, RequestReplyHandler, State, function,
};

/// A counter's state.
#[derive(Debug, State)]
struct Count {
    /// The sum of the messages received.
    count: i64,
}

/// `bench/counter`: adds each message to `count`.
#[derive(Debug, Default)]
struct Counter;

#[function(typename = "bench/counter", state = Count, auto_register = false)]
impl Counter {
    /// Adds `n`.
    #[handler]
    async fn add(&self, ctx: &mut Context, n: i64) -> Result<(), FunctionError> {
        let count = ctx.storage().get(&Count::COUNT)?.unwrap_or(0);
        ctx.storage().set(&Count::COUNT, &(count + n))?;
        Ok(())
    }
}

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let port: u16 = args.next().map_or(Ok(0), |p| p.parse())?;
    let latency = Duration::from_millis(args.next().map_or(Ok(20), |p| p.parse())?);
    let functions = Functions::new().with(Counter.spec()?)?;
    let handler = RequestReplyHandler::new(functions);
    // One thread: the function does nothing but wait, and the machine's
    // other core is statefun-local's.
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(serve(port, latency, handler))
}

async fn serve(port: u16, latency: Duration, handler: RequestReplyHandler) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    #[allow(clippy::print_stdout)] // the port, for whoever started us
    {
        println!("{}", listener.local_addr()?.port());
    }
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder.http1().timer(TokioTimer::new()).keep_alive(true);
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let _ = stream.set_nodelay(true);
        let builder = builder.clone();
        let handler = handler.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |request| {
                answer(request, latency, handler.clone())
            });
            let _ = builder
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

async fn answer(
    request: Request<Incoming>,
    latency: Duration,
    handler: RequestReplyHandler,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let body = match request.into_body().collect().await {
        Ok(body) => body.to_bytes(),
        Err(_) => return Ok(status(StatusCode::BAD_REQUEST)),
    };
    tokio::time::sleep(latency).await;
    Ok(match handler.handle(body).await {
        Ok(answer) => {
            let mut response = Response::new(Full::new(answer));
            response.headers_mut().insert(
                hyper::header::CONTENT_TYPE,
                hyper::header::HeaderValue::from_static("application/octet-stream"),
            );
            response
        }
        Err(_) => status(StatusCode::INTERNAL_SERVER_ERROR),
    })
}

fn status(code: StatusCode) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::new()));
    *response.status_mut() = code;
    response
}
