//! Serves the bank.
//!
//! ```text
//! cargo run -p bank                      # Server, on $PORT (default 8000), POST /statefun
//! cargo run -p bank -- axum              # the same inside an axum app, with GET /health
//! cargo run -p bank -- module-yaml [URL] [KAFKA]   # print the module.yaml
//! ```

use axum::Router;
use axum::routing::get;
use stateful_functions::{RequestReplyHandler, RequestReplyService, Server};

/// An axum application with a route of its own, and the bank at
/// `/statefun`: the handler as a tower service.
fn app(handler: RequestReplyHandler) -> Router {
    Router::new()
        .route("/health", get(|| async { "ok" }))
        .route_service("/statefun", RequestReplyService::new(handler))
}

/// Logs to stderr what `RUST_LOG` selects (default `info`: the server's
/// start line with its address and function types, its shutdown, and
/// every failed request with the function type and address). The SDK
/// logs with `tracing` and installs no subscriber: an application does.
fn init_logs() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let handler = RequestReplyHandler::new(bank::functions().map_err(anyhow::Error::from_boxed)?);
    let port: u16 = std::env::var("PORT").map_or(Ok(8000), |p| p.parse())?;
    match std::env::args().nth(1).as_deref() {
        None => {
            init_logs();
            let server = Server::new(handler).bind(("0.0.0.0", port)).await?;
            server.serve().await?;
        }
        Some("axum") => {
            init_logs();
            let listener = tokio::net::TcpListener::bind(("0.0.0.0", port)).await?;
            axum::serve(listener, app(handler)).await?;
        }
        Some("module-yaml") => {
            let url = std::env::args().nth(2);
            let url = url.unwrap_or_else(|| "http://bank:8000/statefun".into());
            let kafka = std::env::args().nth(3);
            let kafka = kafka.unwrap_or_else(|| "kafka:9092".into());
            #[allow(clippy::print_stdout)] // the point of this command
            {
                print!("{}", bank::module_yaml(&url, &kafka));
            }
        }
        Some(other) => {
            anyhow::bail!("unknown argument {other:?}: expected none, `axum` or `module-yaml`")
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::time::Duration;

    use bank::{RESULTS, TransferRequest, account, functions, transfer};
    use stateful_functions::{RequestReplyHandler, Server};
    use statefun_harness::Harness;

    /// A transfer run by the harness against `url` over HTTP.
    async fn transfer_over_http(url: &str) -> Harness {
        let mut h = Harness::builder()
            .remote("bank/*", url)
            .kafka_egress(&RESULTS)
            .build()
            .unwrap();
        let deposit = bank::Deposit {
            reference: "d1".into(),
            amount: 100,
        };
        h.send(account("ann"), &deposit).unwrap();
        let request = TransferRequest {
            from: "ann".into(),
            to: "bob".into(),
            amount: 40,
        };
        h.send(transfer("t1"), &request).unwrap();
        h.run().await.unwrap();
        h
    }

    fn balance(h: &Harness, id: &str) -> Option<i64> {
        h.state(&account(id), &bank::AccountState::BALANCE).unwrap()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_server_serves_the_bank() {
        let server = Server::new(RequestReplyHandler::new(functions().unwrap()))
            .bind("127.0.0.1:0")
            .await
            .unwrap();
        let url = format!("http://{}/statefun", server.local_addr().unwrap());
        tokio::spawn(server.serve());
        let h = transfer_over_http(&url).await;
        assert_eq!(balance(&h, "ann"), Some(60));
        assert_eq!(balance(&h, "bob"), Some(40));
        assert_eq!(h.kafka_records(&RESULTS).unwrap().len(), 1);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_axum_app_serves_the_bank() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let app = super::app(RequestReplyHandler::new(functions().unwrap()));
        tokio::spawn(async move { axum::serve(listener, app).await });
        let mut h = transfer_over_http(&format!("http://{addr}/statefun")).await;
        assert_eq!(balance(&h, "ann"), Some(60));
        assert_eq!(balance(&h, "bob"), Some(40));
        // The statements are scheduled a day ahead, on the virtual clock.
        assert_eq!(h.pending_timers(), 2);
        h.advance(bank::STATEMENT_PERIOD + Duration::from_secs(1))
            .await
            .unwrap();
        assert_eq!(h.kafka_records(&RESULTS).unwrap().len(), 3);
    }
}
