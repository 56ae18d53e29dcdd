//! The ceiling: a hyper server configured as the SDK's `Server` (HTTP/1.1
//! and HTTP/2 through hyper-util's auto builder, `TCP_NODELAY`, the tokio
//! multi-thread runtime) that reads each request's body and answers a fixed
//! empty 200, doing no work at all.
//!
//! ```text
//! bare-hyper [PORT]   # 0 (the default) picks a free port; prints the port
//! ```

use std::convert::Infallible;

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let port: u16 = std::env::args().nth(1).map_or(Ok(0), |p| p.parse())?;
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
        tokio::spawn(async move {
            let service = hyper::service::service_fn(answer);
            let _ = builder
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

async fn answer(request: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    // Read the whole body, as a function server must.
    let _ = request.into_body().collect().await;
    Ok(Response::new(Full::new(Bytes::new())))
}
