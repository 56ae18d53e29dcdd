//! The shopping cart.
//!
//! ```text
//! cargo run -p shopping-cart            # the walkthrough, on the embedded harness
//! cargo run -p shopping-cart -- serve   # serve over HTTP on $PORT (default 8000), /statefun
//! cargo run -p shopping-cart -- module-yaml [URL] [KAFKA]   # print the module.yaml
//! cargo run -p shopping-cart -- mermaid   # the walkthrough as a Mermaid sequence diagram
//! ```
//!
//! On AWS Lambda it serves the functions: built with `--features lambda`
//! (`cargo lambda build --release -p shopping-cart --features lambda`) and
//! started with no arguments and `AWS_LAMBDA_RUNTIME_API` set, which is how
//! Lambda and `cargo lambda watch` start the binary (renamed `bootstrap`).
//! The argument `lambda` forces that mode. Built without the feature, it
//! refuses to start there rather than print the walkthrough and exit.

use shopping_cart::{AddToCart, RESULTS, Restock, cart, functions, item};
use stateful_functions::{RequestReplyHandler, Server};
use statefun_harness::{Event, Harness};

/// Restocks socks, then Kim adds 2 socks to the cart, as in the
/// walkthrough's figure, on a harness with 8 partitions (where cart:Kim and
/// inventory:socks live apart). Returns the harness and where in its trace
/// Kim's message starts.
async fn walkthrough_harness() -> anyhow::Result<(Harness, usize)> {
    let mut harness = Harness::builder()
        .seed(2020)
        .partitions(8)
        .functions(functions().map_err(anyhow::Error::from_boxed)?)
        .kafka_egress(&RESULTS)
        .build()?;
    harness.send(
        item("socks"),
        &Restock {
            item_id: "socks".into(),
            quantity: 10,
        },
    )?;
    harness.run().await?;
    let from = harness.trace().len();
    harness.send(
        cart("Kim"),
        &AddToCart {
            user_id: "Kim".into(),
            item_id: "socks".into(),
            quantity: 2,
        },
    )?;
    harness.run().await?;
    Ok((harness, from))
}

/// The walkthrough as printed lines: placement, message flow, final state.
async fn walkthrough() -> anyhow::Result<Vec<String>> {
    let (harness, from) = walkthrough_harness().await?;
    let mut out = vec![format!(
        "cart:Kim lives on partition {}, inventory:socks on partition {}",
        harness.partition_of(&cart("Kim")),
        harness.partition_of(&item("socks")),
    )];
    out.push("message flow:".into());
    for entry in &harness.trace()[from..] {
        if matches!(
            entry.event,
            Event::Delivered { .. }
                | Event::RequestSent { .. }
                | Event::StateChanged { .. }
                | Event::Egress { .. }
                | Event::TimerScheduled { .. }
        ) {
            out.push(format!("  {entry}"));
        }
    }
    out.push("final state:".into());
    let items = harness.state(&cart("Kim"), &shopping_cart::CartState::ITEMS)?;
    out.push(format!(
        "  cart:Kim items = {:?}",
        items.map(|i| i.0).unwrap_or_default()
    ));
    let stock = harness.state(&item("socks"), &shopping_cart::InventoryState::STOCK)?;
    let reserved = harness.state(&item("socks"), &shopping_cart::InventoryState::RESERVED)?;
    out.push(format!(
        "  inventory:socks stock = {}, reserved = {}",
        stock.unwrap_or(0),
        reserved.unwrap_or(0)
    ));
    for record in harness.kafka_records(&RESULTS)? {
        out.push(format!(
            "  egress {} key {:?}: {}",
            record.topic(),
            record.key().unwrap_or_default(),
            String::from_utf8_lossy(record.value())
        ));
    }
    Ok(out)
}

/// Whether Lambda (or `cargo lambda watch`) started this process: it sets
/// `AWS_LAMBDA_RUNTIME_API`, and passes no arguments.
fn started_by_lambda() -> bool {
    #[cfg(feature = "lambda")]
    {
        stateful_functions::lambda::is_lambda_environment()
    }
    #[cfg(not(feature = "lambda"))]
    {
        std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_some_and(|api| !api.is_empty())
    }
}

/// Serves the functions on Lambda until the runtime stops the process.
#[cfg(feature = "lambda")]
async fn serve_on_lambda(handler: RequestReplyHandler) -> anyhow::Result<()> {
    stateful_functions::lambda::run(handler)
        .await
        .map_err(anyhow::Error::from_boxed)
}

/// A build without the `lambda` feature cannot serve on Lambda: says so.
#[cfg(not(feature = "lambda"))]
#[allow(clippy::unused_async)] // the same signature as with the feature
async fn serve_on_lambda(_handler: RequestReplyHandler) -> anyhow::Result<()> {
    anyhow::bail!(
        "on AWS Lambda (AWS_LAMBDA_RUNTIME_API is set) but built without the `lambda` \
         feature: build with `cargo lambda build --release -p shopping-cart --features lambda`"
    )
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
    let handler = || -> anyhow::Result<RequestReplyHandler> {
        Ok(RequestReplyHandler::new(
            functions().map_err(anyhow::Error::from_boxed)?,
        ))
    };
    match std::env::args().nth(1).as_deref() {
        None if started_by_lambda() => {
            init_logs();
            serve_on_lambda(handler()?).await?;
        }
        Some("lambda") => {
            init_logs();
            serve_on_lambda(handler()?).await?;
        }
        Some("serve") => {
            init_logs();
            let port: u16 = std::env::var("PORT").map_or(Ok(8000), |p| p.parse())?;
            let server = Server::new(handler()?).bind(("0.0.0.0", port)).await?;
            #[allow(clippy::print_stderr)] // the point of this binary
            {
                eprintln!(
                    "serving com.example/cart and com.example/inventory on http://{}/statefun",
                    server.local_addr()?
                );
            }
            server.serve().await?;
        }
        Some("mermaid") => {
            // The walkthrough's trace as a Mermaid sequence diagram.
            let (harness, _) = walkthrough_harness().await?;
            #[allow(clippy::print_stdout)] // the point of this command
            {
                print!("{}", harness.trace_mermaid());
            }
        }
        Some("module-yaml") => {
            let url = std::env::args()
                .nth(2)
                .unwrap_or_else(|| "http://shopping-cart:8000/statefun".into());
            let kafka = std::env::args()
                .nth(3)
                .unwrap_or_else(|| "kafka:9092".into());
            #[allow(clippy::print_stdout)] // the point of this command
            {
                print!("{}", shopping_cart::module_yaml(&url, &kafka));
            }
        }
        Some(other) => {
            anyhow::bail!(
                "unknown argument {other:?}: expected nothing, `serve`, `module-yaml`, `mermaid` or `lambda`"
            )
        }
        None => {
            for line in walkthrough().await? {
                #[allow(clippy::print_stdout)] // the point of this binary
                {
                    println!("{line}");
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[tokio::test]
    async fn the_walkthrough_reserves_two_socks_for_kim() {
        let text = super::walkthrough().await.unwrap().join("\n");
        assert!(text.contains("cart:Kim items = {\"socks\": 2}"), "{text}");
        assert!(
            text.contains("inventory:socks stock = 10, reserved = 2"),
            "{text}"
        );
        assert!(
            text.contains(r#"{"user_id":"Kim","item_id":"socks","quantity":2,"success":true}"#),
            "{text}"
        );
    }
}
