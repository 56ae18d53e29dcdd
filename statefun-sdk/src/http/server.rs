//! [`Server`]: the handler on hyper 1, HTTP/1.1 and HTTP/2, with graceful
//! shutdown.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
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
/// It logs with [`tracing`](https://docs.rs/tracing): one `info` line when
/// it starts (`StateFun server listening`, with the address, the paths and
/// the function types), one as it shuts down and once stopped, and every
/// failed request with its function type and address (`debug` for
/// connection-level events). The SDK installs no subscriber; to see the
/// logs, an application installs one, for example with
/// [`tracing-subscriber`](https://docs.rs/tracing-subscriber) (feature
/// `env-filter`) and `RUST_LOG=info`:
///
/// ```no_run
/// tracing_subscriber::fmt()
///     .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
///     .init();
/// ```
///
/// ```no_run
/// use stateful_functions::{Functions, RequestReplyHandler, Server};
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
    /// Logs one `tracing` info line when it starts, `StateFun server
    /// listening`, with the address, the paths and the function types
    /// served; and one as it shuts down and once stopped.
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
        builder
            .http2()
            .timer(TokioTimer::new())
            .keep_alive_interval(Some(HTTP2_KEEP_ALIVE))
            .keep_alive_timeout(HTTP2_KEEP_ALIVE);
        let graceful = GracefulShutdown::new();
        // Tells connections still waiting for their first request to close:
        // the graceful watcher only covers connections hyper serves.
        let (stopping, stop_waiting) = tokio::sync::watch::channel(false);
        // What every connection task needs, behind one pointer: a task lives
        // as long as its connection, so its size counts once per idle
        // keep-alive connection.
        let shared = Arc::new(Shared {
            builder,
            stop_waiting,
            first_bytes_timeout: server.header_read_timeout,
        });
        let local = listener.local_addr()?;
        let function_types = server
            .service
            .handler
            .functions()
            .type_names()
            .map(crate::TypeName::as_str)
            .collect::<Vec<_>>()
            .join(", ");
        tracing::info!(
            address = %local,
            paths = ?server.service.paths(),
            function_types = %function_types,
            "StateFun server listening"
        );

        let mut shutdown = std::pin::pin!(shutdown);
        loop {
            tokio::select! {
                accepted = listener.accept() => {
                    let (stream, _peer) = match accepted {
                        Ok(accepted) => accepted,
                        // Out of file descriptors: wait a moment rather than
                        // spin on accept.
                        Err(error) if is_out_of_descriptors(&error) => {
                            tracing::warn!(%error, "accept failed: out of file descriptors");
                            tokio::time::sleep(Duration::from_millis(100)).await;
                            continue;
                        }
                        // Per-connection errors (e.g. the peer reset before
                        // accept) must not stop the server.
                        Err(error) if is_transient(&error) => {
                            tracing::debug!(%error, "accept failed");
                            continue;
                        }
                        Err(error) => return Err(error),
                    };
                    let _ = stream.set_nodelay(true);
                    // The task lives as long as the connection, so what it
                    // holds counts once per idle keep-alive connection, and
                    // an async block keeps its captures for its whole life:
                    // `shared` is one pointer, and the peer's address is
                    // asked of the socket only when it is logged. (Boxing
                    // the captures, or handing the socket from a short
                    // waiting task to a serving task, measured worse: those
                    // freed blocks fragment the heap.)
                    let service = TowerToHyperService::new(server.service.clone());
                    let watcher = graceful.watcher();
                    let shared = Arc::clone(&shared);
                    tokio::spawn(async move {
                        // hyper reads the first bytes (to tell HTTP/1 from
                        // HTTP/2) and the HTTP/2 preface without a timeout:
                        // a silent client would hold the connection forever.
                        // A connection opened but not used yet (clients'
                        // pools open spares) is closed at shutdown rather
                        // than holding it up until the timeout.
                        let mut stop_waiting = shared.stop_waiting.clone();
                        tokio::select! {
                            started = request_started(&stream, shared.first_bytes_timeout) => if !started {
                                tracing::debug!(peer = ?stream.peer_addr().ok(), "connection closed: no request within the header-read timeout");
                                return;
                            },
                            _ = stop_waiting.wait_for(|stop| *stop) => {
                                tracing::debug!(peer = ?stream.peer_addr().ok(), "connection closed at shutdown before its first request");
                                return;
                            }
                        }
                        // Not kept for the connection's life.
                        drop(stop_waiting);
                        let peer = if tracing::enabled!(tracing::Level::DEBUG) {
                            stream.peer_addr().ok()
                        } else {
                            None
                        };
                        let connection = shared.builder.serve_connection(TokioIo::new(stream), service);
                        Serving {
                            connection: watcher.watch(connection),
                            peer,
                        }
                        .await;
                    });
                }
                () = &mut shutdown => break,
            }
        }
        drop(listener);
        tracing::info!("StateFun server shutting down: finishing requests in flight");
        let _ = stopping.send(true);
        graceful.shutdown().await;
        tracing::info!("StateFun server stopped");
        Ok(())
    }
}

/// What the accept loop shares with every connection task.
struct Shared {
    builder: auto::Builder<TokioExecutor>,
    stop_waiting: tokio::sync::watch::Receiver<bool>,
    first_bytes_timeout: Duration,
}

pin_project_lite::pin_project! {
    /// A connection being served; logs how it ended.
    struct Serving<F> {
        #[pin]
        connection: F,
        // Only asked of the socket when debug logging is on.
        peer: Option<SocketAddr>,
    }
}

impl<F, E> Future for Serving<F>
where
    F: Future<Output = Result<(), E>>,
    E: std::fmt::Display,
{
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.project();
        match this.connection.poll(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Ok(())) => Poll::Ready(()),
            Poll::Ready(Err(error)) => {
                tracing::debug!(peer = ?this.peer, %error, "connection closed with an error");
                Poll::Ready(())
            }
        }
    }
}

fn is_transient(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::Interrupted
            | io::ErrorKind::WouldBlock
    )
}

/// EMFILE or ENFILE.
fn is_out_of_descriptors(error: &io::Error) -> bool {
    error
        .raw_os_error()
        .is_some_and(|code| code == 24 || code == 23)
}

/// Ping interval and timeout of HTTP/2 connections, to drop dead peers.
const HTTP2_KEEP_ALIVE: Duration = Duration::from_secs(20);

/// The HTTP/2 connection preface every prior-knowledge client sends first.
const H2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// Waits, up to `timeout`, until the client has sent the start of a
/// request: a whole HTTP/1 request line, or the whole HTTP/2 preface.
async fn request_started(stream: &tokio::net::TcpStream, timeout: Duration) -> bool {
    let wait = async {
        let mut buf = [0_u8; 64];
        loop {
            let n = match stream.peek(&mut buf).await {
                Ok(0) | Err(_) => return false,
                Ok(n) => n,
            };
            let seen = &buf[..n];
            let started = if seen.len() >= 4 && seen.starts_with(&H2_PREFACE[..4]) {
                seen.len() >= H2_PREFACE.len()
            } else {
                seen.windows(2).any(|w| w == b"\r\n")
            };
            if started || n == buf.len() {
                return true;
            }
            // More bytes are on their way; peek returns at once, so pause.
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    };
    tokio::time::timeout(timeout, wait).await.unwrap_or(false)
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
