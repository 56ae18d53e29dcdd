//! The shopping cart's functions (examples/shopping-cart) served by the
//! SDK's `Server` at `/statefun`, as `cargo run -p shopping-cart -- serve`
//! does, on 127.0.0.1.
//!
//! ```text
//! cart-server [PORT]   # 0 (the default) picks a free port; prints the port
//! ```

use stateful_functions::{RequestReplyHandler, Server};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let port: u16 = std::env::args().nth(1).map_or(Ok(0), |p| p.parse())?;
    let functions = shopping_cart::functions().map_err(anyhow::Error::from_boxed)?;
    let server = Server::new(RequestReplyHandler::new(functions))
        .bind(("127.0.0.1", port))
        .await?;
    #[allow(clippy::print_stdout)] // the port, for whoever started us
    {
        println!("{}", server.local_addr()?.port());
    }
    server.serve().await?;
    Ok(())
}
