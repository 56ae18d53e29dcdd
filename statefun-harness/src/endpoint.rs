//! Where function types are served: in process, through the SDK's handler
//! (request bytes in, response bytes out, as over HTTP), or remotely over
//! HTTP, by any StateFun SDK.

use std::borrow::Borrow;
use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use stateful_functions::{ErrorChain, RequestReplyHandler, TypeName};

use crate::transport::Failure;
pub use crate::transport::Transport;

/// How the harness reaches a function type.
#[derive(Clone)]
pub enum Endpoint {
    /// In process: the SDK's request-reply handler, called with the same
    /// bytes the HTTP server would receive.
    Handler(RequestReplyHandler),
    /// Remote, over HTTP: a `urlPathTemplate` whose `{function.name}` is
    /// replaced by the function type's name.
    #[cfg(feature = "http")]
    Http(String),
    /// A plain function from request bytes to response bytes (or a failure
    /// reason): for protocol-level tests and for functions that are not
    /// written with this SDK.
    Raw(RawEndpoint),
}

/// Per-endpoint settings of module.yaml (spec §2.4.1): the transport, its
/// `call` budget and `maxNumBatchRequests`. Unset ones take the harness's
/// defaults ([`HarnessBuilder::call_timeout`](crate::HarnessBuilder::call_timeout),
/// else the transport's; [`HarnessBuilder::max_batch_requests`](crate::HarnessBuilder::max_batch_requests)).
///
/// ```
/// use std::time::Duration;
/// use statefun_harness::{EndpointOptions, Harness, Transport};
///
/// let harness = Harness::builder()
///     .remote_with(
///         "shop/*",
///         "http://localhost:8000/statefun",
///         EndpointOptions::new()
///             .transport(Transport::OkHttp)
///             .call_timeout(Duration::from_secs(30))
///             .max_batch_requests(500),
///     )
///     .build()?;
/// # let _ = harness;
/// # Ok::<(), statefun_harness::ConfigError>(())
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[must_use]
pub struct EndpointOptions {
    pub(crate) transport: Transport,
    pub(crate) call_timeout: Option<std::time::Duration>,
    pub(crate) max_batch_requests: Option<usize>,
    pub(crate) payload_max_bytes: Option<usize>,
    pub(crate) pool_size: Option<usize>,
    pub(crate) connect_timeout: Option<std::time::Duration>,
}

impl EndpointOptions {
    /// The Netty transport's default answer size limit
    /// (`payload_max_bytes`): 32 MiB.
    pub const DEFAULT_PAYLOAD_MAX_BYTES: usize = 32 * 1024 * 1024;

    /// The Netty transport's default connection pool size (`pool_size`):
    /// 1024 connections per function type
    /// (`nettyclient/NettyRequestReplySpec.java`,
    /// `DEFAULT_CONNECTION_POOL_MAX_SIZE`).
    pub const DEFAULT_POOL_SIZE: usize = 1024;

    /// The harness's defaults.
    pub fn new() -> Self {
        Self::default()
    }

    /// The most connections open at once to a function type of this
    /// endpoint, with the Netty transport (module.yaml
    /// `transport.pool_size`; default
    /// [`DEFAULT_POOL_SIZE`](Self::DEFAULT_POOL_SIZE); at least 1). The
    /// runtime keeps a fixed pool of keep-alive connections per function
    /// type (`nettyclient/NettyClient.java`, a `FixedChannelPool`), and an
    /// attempt waits for a free connection at most the
    /// [connect timeout](Self::connect_timeout), then fails (and is
    /// retried); so does the harness's remote call. HTTP/1.1 carries one
    /// request per connection at a time, so this bounds the calls in
    /// flight to the function type. The OkHttp transport has no such bound
    /// (`httpfn/OkHttpUtils.java` lets its dispatcher run any number of
    /// calls per host), so it ignores this.
    ///
    /// ```
    /// use statefun_harness::EndpointOptions;
    ///
    /// let options = EndpointOptions::new().pool_size(64);
    /// # let _ = options;
    /// assert_eq!(EndpointOptions::DEFAULT_POOL_SIZE, 1024);
    /// ```
    pub fn pool_size(mut self, connections: usize) -> Self {
        self.pool_size = Some(connections);
        self
    }

    /// The largest answer the Netty transport takes, decoded (module.yaml
    /// `transport.payload_max_bytes`; default
    /// [`DEFAULT_PAYLOAD_MAX_BYTES`](Self::DEFAULT_PAYLOAD_MAX_BYTES)). A
    /// larger one fails the attempt, which is retried like an I/O error
    /// (`nettyclient/HttpConnectionPoolManager.java`'s
    /// `HttpObjectAggregator`). The OkHttp transport has no limit.
    ///
    /// ```
    /// use statefun_harness::EndpointOptions;
    ///
    /// let options = EndpointOptions::new().payload_max_bytes(1024 * 1024);
    /// # let _ = options;
    /// assert_eq!(EndpointOptions::DEFAULT_PAYLOAD_MAX_BYTES, 33_554_432);
    /// ```
    pub fn payload_max_bytes(mut self, max: usize) -> Self {
        self.payload_max_bytes = Some(max);
        self
    }

    /// How long a connection may take to open, and how long an attempt
    /// waits for a free one of the [pool](Self::pool_size), before the
    /// attempt fails (and is retried as the transport retries I/O errors):
    /// Netty's `CONNECT_TIMEOUT_MILLIS` and its `FixedChannelPool`'s
    /// acquire timeout, OkHttp's `connectTimeout` (module.yaml
    /// `transport.connect`, or `transport.timeouts.connect`; default
    /// [`Transport::default_connect_timeout`]).
    ///
    /// ```
    /// use std::time::Duration;
    /// use statefun_harness::EndpointOptions;
    ///
    /// let options = EndpointOptions::new()
    ///     .pool_size(8)
    ///     .connect_timeout(Duration::from_secs(2));
    /// # let _ = options;
    /// ```
    pub fn connect_timeout(mut self, timeout: std::time::Duration) -> Self {
        self.connect_timeout = Some(timeout);
        self
    }

    /// The transport (module.yaml `transport.type`; default
    /// [`Transport::Netty`], as for a v2 endpoint; a v1 endpoint is
    /// [`Transport::OkHttp`]).
    ///
    /// ```
    /// use statefun_harness::{EndpointOptions, Transport};
    ///
    /// let v1 = EndpointOptions::new().transport(Transport::OkHttp);
    /// # let _ = v1;
    /// ```
    pub fn transport(mut self, transport: Transport) -> Self {
        self.transport = transport;
        self
    }

    /// The total budget of a request, all attempts and backoffs included
    /// (module.yaml `transport.call`).
    pub fn call_timeout(mut self, timeout: std::time::Duration) -> Self {
        self.call_timeout = Some(timeout);
        self
    }

    /// The backlog at one address that blocks its partition's input
    /// (module.yaml `maxNumBatchRequests`; 0 disables).
    pub fn max_batch_requests(mut self, max: usize) -> Self {
        self.max_batch_requests = Some(max);
        self
    }
}

/// Where a function type goes, with its endpoint's settings resolved.
#[derive(Debug, Clone)]
pub(crate) struct Route {
    pub(crate) endpoint: Endpoint,
    pub(crate) transport: Transport,
    pub(crate) call_budget: std::time::Duration,
    pub(crate) max_batch_requests: usize,
    /// Netty's answer size limit.
    #[cfg_attr(not(feature = "http"), allow(dead_code))]
    pub(crate) payload_max_bytes: usize,
    /// The most connections open at once per function type (at least 1),
    /// `None` when unbounded (OkHttp).
    #[cfg_attr(not(feature = "http"), allow(dead_code))]
    pub(crate) pool_size: Option<usize>,
    /// How long a connection may take to open, and an attempt may wait
    /// for a pooled one.
    #[cfg_attr(not(feature = "http"), allow(dead_code))]
    pub(crate) connect_timeout: Duration,
}

/// The namespace of an endpoint pattern `ns/*`: a key of the endpoint
/// table, looked up by a function type's [`TypeName::namespace`].
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Namespace(String);

impl From<String> for Namespace {
    fn from(namespace: String) -> Self {
        Self(namespace)
    }
}

impl Borrow<str> for Namespace {
    fn borrow(&self) -> &str {
        &self.0
    }
}

/// Where each function type is served: by its exact type, else by its
/// namespace (as in module.yaml), with the endpoint's settings resolved.
#[derive(Debug, Clone, Default)]
pub(crate) struct Routes {
    exact: BTreeMap<TypeName, Route>,
    namespaces: BTreeMap<Namespace, Route>,
}

impl Routes {
    /// The routes of the endpoints by exact type and by namespace; unset
    /// options take the harness's `call_timeout` (else the transport's
    /// default) and `max_batch_requests`.
    pub(crate) fn new(
        exact: BTreeMap<TypeName, (Endpoint, EndpointOptions)>,
        namespaces: BTreeMap<Namespace, (Endpoint, EndpointOptions)>,
        call_timeout: Option<Duration>,
        max_batch_requests: usize,
    ) -> Self {
        let route = |(endpoint, options): (Endpoint, EndpointOptions)| Route {
            endpoint,
            transport: options.transport,
            call_budget: options
                .call_timeout
                .or(call_timeout)
                .unwrap_or_else(|| options.transport.default_call_timeout()),
            max_batch_requests: options.max_batch_requests.unwrap_or(max_batch_requests),
            payload_max_bytes: options
                .payload_max_bytes
                .unwrap_or(EndpointOptions::DEFAULT_PAYLOAD_MAX_BYTES),
            pool_size: (options.transport == Transport::Netty).then(|| {
                options
                    .pool_size
                    .unwrap_or(EndpointOptions::DEFAULT_POOL_SIZE)
                    .max(1)
            }),
            connect_timeout: options
                .connect_timeout
                .unwrap_or_else(|| options.transport.default_connect_timeout()),
        };
        Self {
            exact: exact.into_iter().map(|(k, v)| (k, route(v))).collect(),
            namespaces: namespaces.into_iter().map(|(k, v)| (k, route(v))).collect(),
        }
    }

    /// Where `function_type` is served: its exact type's endpoint, else its
    /// namespace's.
    /// Whether any endpoint is remote (called over HTTP).
    #[cfg(feature = "http")]
    pub(crate) fn any_remote(&self) -> bool {
        (self.exact.values())
            .chain(self.namespaces.values())
            .any(|r| matches!(r.endpoint, Endpoint::Http(_)))
    }

    pub(crate) fn get(&self, function_type: &TypeName) -> Option<&Route> {
        self.exact
            .get(function_type)
            .or_else(|| self.namespaces.get(function_type.namespace()))
    }
}

/// The function behind [`Endpoint::Raw`].
pub type RawEndpoint = Arc<dyn Fn(Bytes) -> Result<Bytes, String> + Send + Sync>;

impl Endpoint {
    /// An endpoint from a function of request bytes to response bytes.
    ///
    /// ```
    /// use statefun_harness::Endpoint;
    ///
    /// // Answers every request with an empty `FromFunction{invocation_result{}}`.
    /// let endpoint = Endpoint::raw(|_request| Ok(bytes::Bytes::from_static(b"\xa2\x06\x00")));
    /// # let _ = endpoint;
    /// ```
    pub fn raw(f: impl Fn(Bytes) -> Result<Bytes, String> + Send + Sync + 'static) -> Self {
        Self::Raw(Arc::new(f))
    }
}

impl fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Handler(_) => f.write_str("Endpoint::Handler"),
            #[cfg(feature = "http")]
            Self::Http(url) => write!(f, "Endpoint::Http({url:?})"),
            Self::Raw(_) => f.write_str("Endpoint::Raw"),
        }
    }
}

/// What calling an endpoint produced: response bytes, or a failure.
pub(crate) type CallResult = Result<Bytes, CallError>;

/// A failed call: where it went, what went wrong, and how (a timeout
/// spends the call budget).
#[derive(Debug)]
pub(crate) struct CallError {
    pub(crate) url: String,
    pub(crate) reason: String,
    pub(crate) failure: Failure,
}

impl CallError {
    /// An in-process handler's error: the SDK's server answers it with 500.
    fn in_process(reason: String) -> Self {
        Self {
            url: IN_PROCESS.to_owned(),
            reason,
            failure: Failure::Status(500),
        }
    }
}

/// Where an in-process call goes, in failures.
pub(crate) const IN_PROCESS: &str = "in-process handler";

impl Endpoint {
    /// Where a call for the function type named `name` goes: its URL, or
    /// the in-process handler.
    pub(crate) fn describe(
        &self,
        #[cfg_attr(not(feature = "http"), allow(unused_variables))] name: &str,
    ) -> String {
        match self {
            Self::Handler(_) | Self::Raw(_) => IN_PROCESS.to_owned(),
            #[cfg(feature = "http")]
            Self::Http(template) => template.replace("{function.name}", name),
        }
    }

    /// Sends one request for a function type named `name`, as `transport`
    /// sends and reads it (with Netty, an answer of at most
    /// `payload_max_bytes`); a remote call may take `timeout` of wall-clock
    /// time, waiting for a connection of `pool` included.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn call(
        &self,
        #[cfg_attr(not(feature = "http"), allow(unused_variables))] name: &str,
        body: Bytes,
        #[cfg(feature = "http")] client: &crate::http::Client,
        #[cfg(feature = "http")] transport: Transport,
        #[cfg(feature = "http")] payload_max_bytes: usize,
        #[cfg(feature = "http")] timeout: std::time::Duration,
        #[cfg(feature = "http")] pool: Option<PoolWait>,
    ) -> CallResult {
        match self {
            Self::Handler(handler) => handler
                .handle(body)
                .await
                .map_err(|e| CallError::in_process(ErrorChain::new(&e).to_string())),
            Self::Raw(f) => f(body).map_err(CallError::in_process),
            #[cfg(feature = "http")]
            Self::Http(template) => {
                let url = template.replace("{function.name}", name);
                call_http(
                    client,
                    url,
                    body,
                    transport,
                    payload_max_bytes,
                    timeout,
                    pool,
                )
                .await
            }
        }
    }
}

/// A function type's pool of connections, as an attempt waits for one: at
/// most `timeout` (the endpoint's connect timeout), then the attempt fails.
#[cfg(feature = "http")]
#[derive(Debug, Clone)]
pub(crate) struct PoolWait {
    pub(crate) connections: Arc<tokio::sync::Semaphore>,
    /// The pool's size, for the error.
    pub(crate) size: usize,
    pub(crate) timeout: Duration,
}

/// Posts `body` to `url` as `transport` sends and reads it (with Netty, an
/// answer of at most `payload_max_bytes`), within `timeout` of wall-clock
/// time, which covers waiting for a connection of `pool` (when given) as in
/// the runtime, where the call budget counts from the request's start.
#[cfg(feature = "http")]
pub(crate) async fn call_http(
    client: &crate::http::Client,
    url: String,
    body: Bytes,
    transport: Transport,
    payload_max_bytes: usize,
    timeout: std::time::Duration,
    pool: Option<PoolWait>,
) -> CallResult {
    let call = async {
        // Held until the answer is read: the connection is busy till then.
        let _connection = match pool {
            Some(PoolWait {
                connections,
                size,
                timeout,
            }) => match tokio::time::timeout(timeout, connections.acquire_owned()).await {
                Ok(connection) => Some(connection),
                // `nettyclient/NettyClient.java`: the `FixedChannelPool`
                // fails an acquire that waited longer than the connect
                // timeout (`AcquireTimeoutAction.FAIL`), which fails the
                // attempt (retried, as every Netty failure is).
                Err(_) => {
                    return Err((
                        Failure::Io,
                        format!(
                            "no connection of the pool (pool_size {size}) free within the {timeout:?} connect timeout"
                        ),
                    ));
                }
            },
            None => None,
        };
        client.post(&url, body, transport, payload_max_bytes).await
    };
    match tokio::time::timeout(timeout, call).await {
        Ok(result) => result.map_err(|(failure, reason)| CallError {
            url,
            reason,
            failure,
        }),
        Err(_) => Err(CallError {
            url,
            reason: format!("no response within the {timeout:?} left of the call budget"),
            failure: Failure::Timeout,
        }),
    }
}
