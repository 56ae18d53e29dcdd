//! Serves the axum application on 127.0.0.1:3000.
//!
//! ```text
//! cargo run -p axum-app
//! ```

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
    init_logs();
    let app = axum_app::app().map_err(anyhow::Error::from_boxed)?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
    axum::serve(listener, app).await?;
    Ok(())
}
