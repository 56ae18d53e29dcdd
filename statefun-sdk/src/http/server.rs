//! [`Server`]: the handler on hyper 1, HTTP/1.1 and HTTP/2, with graceful
//! shutdown.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, ToSocketAddrs};

use super::{RequestReplyService, UrlPathTemplateError};
use crate::RequestReplyHandler;

/// How long a client may take to send a request's headers by default.
pub const DEFAULT_HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// Serves a [`RequestReplyHandler`] over HTTP with hyper 1: HTTP/1.1 with
/// keep-alive (what the runtime uses) and HTTP/2 with prior knowledge on
/// the same port.
///
/// It stops on SIGTERM or Ctrl-C ([`BoundServer::serve`]) or on a future of
/// your own ([`BoundServer::serve_until`]): it stops accepting, lets every
/// request in flight finish, then returns.
///
/// ```no_run
/// use statefun_sdk::{Functions, RequestReplyHandler, Server};
///
/// # #[tokio::main]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let handler = RequestReplyHandler::new(Functions::auto_registered()?);
/// Server::new(handler).bind("0.0.0.0:8000").await?.serve().await?;
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
#[must_use]
pub struct Server {
    service: RequestReplyService,
    header_read_timeout: Duration,
}

impl Server {
    /// A server for `handler` on the default path, `/statefun`.
    pub fn new(handler: RequestReplyHandler) -> Self {
        Self::from_service(RequestReplyService::new(handler))
    }

    /// A server for a configured service.
    pub fn from_service(service: RequestReplyService) -> Self {
        Self {
            service,
            header_read_timeout: DEFAULT_HEADER_READ_TIMEOUT,
        }
    }

    /// Serves on `path` instead; see [`RequestReplyService::with_path`].
    pub fn with_path(mut self, path: impl Into<String>) -> Self {
        self.service = self.service.with_path(path);
        self
    }

    /// Serves the paths of a module.yaml `urlPathTemplate`; see
    /// [`RequestReplyService::with_url_path_template`].
    ///
    /// # Errors
    ///
    /// When the template has no path.
    pub fn with_url_path_template(mut self, template: &str) -> Result<Self, UrlPathTemplateError> {
        self.service = self.service.with_url_path_template(template)?;
        Ok(self)
    }

    /// Sets the largest accepted body (default 32 MiB).
    pub fn with_body_limit(mut self, bytes: usize) -> Self {
        self.service = self.service.with_body_limit(bytes);
        self
    }

    /// Sets how long reading a body may take (default 30 s).
    pub fn with_body_timeout(mut self, timeout: Duration) -> Self {
        self.service = self.service.with_body_timeout(timeout);
        self
    }

    /// Sets how long a client may take to send request headers, on HTTP/1
    /// connections (default 30 s); an idle keep-alive connection is closed
    /// after it too.
    pub fn with_header_read_timeout(mut self, timeout: Duration) -> Self {
        self.header_read_timeout = timeout;
        self
    }

    /// Binds the listening socket. Use port 0 for any free port, and
    /// [`BoundServer::local_addr`] to learn it.
    ///
    /// # Errors
    ///
    /// When the address cannot be bound.
    pub async fn bind(self, addr: impl ToSocketAddrs) -> io::Result<BoundServer> {
        let listener = TcpListener::bind(addr).await?;
        Ok(BoundServer {
            server: self,
            listener,
        })
    }
}

/// A [`Server`] with its socket bound, ready to serve.
#[derive(Debug)]
pub struct BoundServer {
    server: Server,
    listener: TcpListener,
}

impl BoundServer {
    /// The bound address.
    ///
    /// # Errors
    ///
    /// When the socket cannot report it.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves until SIGTERM or Ctrl-C, then finishes the requests in flight.
    ///
    /// # Errors
    ///
    /// When accepting connections fails for good.
    pub async fn serve(self) -> io::Result<()> {
        self.serve_until(shutdown_signal()).await
    }

    /// Serves until `shutdown` completes, then finishes the requests in
    /// flight.
    ///
    /// # Errors
    ///
    /// When accepting connections fails for good.
    pub async fn serve_until(self, shutdown: impl Future<Output = ()>) -> io::Result<()> {
        let Self { server, listener } = self;
        let mut builder = auto::Builder::new(TokioExecutor::new());
        builder
            .http1()
            .timer(TokioTimer::new())
            .header_read_timeout(server.header_read_timeout)
            .keep_alive(true);
        builder.http2().timer(TokioTimer::new());
        let graceful = GracefulShutdown::new();
        let local = listener.local_addr()?;
        tracing::info!(address = %local, paths = ?server.service.paths(), "StateFun server listening");

        let mut shutdown = std::pin::pin!(shutdown);
        loop {
            tokio::select! {
                accepted = listener.accept() => {
                    let (stream, peer) = match accepted {
                        Ok(accepted) => accepted,
                        // Per-connection errors (e.g. the peer reset before
                        // accept) must not stop the server.
                        Err(error) if is_transient(&error) => {
                            tracing::debug!(%error, "accept failed");
                            continue;
                        }
                        Err(error) => return Err(error),
                    };
                    let _ = stream.set_nodelay(true);
                    let service = TowerToHyperService::new(server.service.clone());
                    let connection = builder.serve_connection(TokioIo::new(stream), service);
                    let connection = graceful.watch(connection.into_owned());
                    tokio::spawn(async move {
                        if let Err(error) = connection.await {
                            tracing::debug!(%peer, error = %error, "connection closed with an error");
                        }
                    });
                }
                () = &mut shutdown => break,
            }
        }
        drop(listener);
        tracing::info!("StateFun server shutting down: finishing requests in flight");
        graceful.shutdown().await;
        tracing::info!("StateFun server stopped");
        Ok(())
    }
}

fn is_transient(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::Interrupted
            | io::ErrorKind::WouldBlock
    ) || error
        .raw_os_error()
        .is_some_and(|code| code == 24 || code == 23)
}

/// Completes on SIGTERM (Unix) or Ctrl-C.
async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
}
