//! Serves the axum application on 127.0.0.1:3000.
//!
//! ```text
//! cargo run -p axum-app
//! ```

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let app = axum_app::app().map_err(anyhow::Error::from_boxed)?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
    axum::serve(listener, app).await?;
    Ok(())
}
