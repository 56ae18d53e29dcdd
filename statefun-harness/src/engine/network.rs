//! Calls on the network: attempts at remote (HTTP) requests started in
//! the background as soon as they may go, as the runtime's asynchronous
//! operations are (`functions/AsyncSink.java`: the request's future is
//! registered and the operator goes on; its completion comes back later
//! through the mailbox), so calls to different addresses overlap in
//! wall-clock time. Their outcomes wait here until the engine takes them,
//! at the step its [`CallOrder`](crate::CallOrder) says.
//!
//! Each function type of a Netty endpoint has a pool of connections of its
//! endpoint's `pool_size` (the runtime's `FixedChannelPool` per function
//! type, `nettyclient/NettyClient.java`): an attempt waits for a free one
//! at most the endpoint's connect timeout, then fails. OkHttp endpoints
//! have no bound.
//!
//! An attempt is known by its [`Ticket`], which is never reused: a crash
//! drops every attempt of the world it replaces (and stops them), and an
//! outcome of a dropped attempt that arrives anyway is ignored.

#[cfg(feature = "http")]
pub(super) use self::remote::{Network, RemoteCall};

/// The name of one attempt on the network (never zero, so that an
/// in-flight request's `Option<Ticket>` takes no more room than a ticket).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct Ticket(std::num::NonZeroU64);

#[cfg(feature = "http")]
mod remote {
    use std::collections::BTreeMap;
    use std::sync::Arc;

    use stateful_functions::TypeName;
    use tokio::sync::{Semaphore, mpsc};
    use tokio::task::AbortHandle;

    use super::Ticket;
    use crate::endpoint::{self, CallResult, PoolWait};
    use crate::http::Client;
    use crate::transport::Transport;

    /// What an attempt at a remote call sends, and where.
    #[derive(Debug)]
    pub(in crate::engine) struct RemoteCall {
        pub(in crate::engine) function_type: TypeName,
        pub(in crate::engine) url: String,
        pub(in crate::engine) body: bytes::Bytes,
        pub(in crate::engine) transport: Transport,
        pub(in crate::engine) payload_max_bytes: usize,
        /// What is left of the call budget, in wall-clock time.
        pub(in crate::engine) timeout: std::time::Duration,
        /// The function type's connection pool size (`None`: unbounded).
        pub(in crate::engine) pool_size: Option<usize>,
        /// How long an attempt waits for a pooled connection, and for a
        /// new connection to open.
        pub(in crate::engine) connect_timeout: std::time::Duration,
    }

    /// An attempt started and not yet taken.
    #[derive(Debug)]
    struct Running {
        /// The request it is an attempt at.
        request: u64,
        abort: AbortHandle,
    }

    /// The attempts on the network and the outcomes that arrived.
    #[derive(Debug)]
    pub(crate) struct Network {
        /// Per connect timeout: a client (and its pool of idle
        /// connections).
        clients: BTreeMap<std::time::Duration, Client>,
        /// Per function type: its connections, as permits.
        pools: BTreeMap<TypeName, Arc<Semaphore>>,
        next_ticket: u64,
        /// Attempts started and not yet taken (arrived or not).
        running: BTreeMap<Ticket, Running>,
        /// Outcomes that arrived and were not taken yet.
        arrived: BTreeMap<Ticket, CallResult>,
        /// Whether arrivals are reported ([`Network::arrivals`]), in order.
        report: bool,
        /// Arrivals not reported yet, in arrival order.
        fresh: Vec<Ticket>,
        sender: mpsc::UnboundedSender<(Ticket, CallResult)>,
        receiver: mpsc::UnboundedReceiver<(Ticket, CallResult)>,
    }

    impl Network {
        /// No attempt on the network yet; `report`: whether the engine asks
        /// for arrivals in order.
        pub(in crate::engine) fn new(report: bool) -> Self {
            let (sender, receiver) = mpsc::unbounded_channel();
            Self {
                clients: BTreeMap::new(),
                pools: BTreeMap::new(),
                next_ticket: 0,
                running: BTreeMap::new(),
                arrived: BTreeMap::new(),
                report,
                fresh: Vec::new(),
                sender,
                receiver,
            }
        }

        /// The HTTP client whose connections open within
        /// `connect_timeout`, made on first use.
        pub(in crate::engine) fn client(
            &mut self,
            connect_timeout: std::time::Duration,
        ) -> &Client {
            (self.clients.entry(connect_timeout)).or_insert_with(|| Client::new(connect_timeout))
        }

        /// The connection pool of `function_type`, made with `size` permits
        /// on first use, waited on at most `timeout`; `None` when `size` is
        /// `None` (unbounded).
        pub(in crate::engine) fn pool(
            &mut self,
            function_type: &TypeName,
            size: Option<usize>,
            timeout: std::time::Duration,
        ) -> Option<PoolWait> {
            let size = size?;
            let connections = Arc::clone(
                self.pools
                    .entry(function_type.clone())
                    // tokio's semaphore holds at most `MAX_PERMITS` (and
                    // asserts it): a larger pool is as good as unbounded.
                    .or_insert_with(|| Arc::new(Semaphore::new(size.min(Semaphore::MAX_PERMITS)))),
            );
            Some(PoolWait {
                connections,
                size,
                timeout,
            })
        }

        /// Starts an attempt at request `request` in the background (on the
        /// current tokio runtime).
        pub(in crate::engine) fn start(&mut self, request: u64, call: RemoteCall) -> Ticket {
            self.next_ticket += 1;
            let ticket = Ticket(std::num::NonZeroU64::MIN.saturating_add(self.next_ticket));
            let pool = self.pool(&call.function_type, call.pool_size, call.connect_timeout);
            let client = self.client(call.connect_timeout).clone();
            let sender = self.sender.clone();
            let task = tokio::spawn(async move {
                let outcome = endpoint::call_http(
                    &client,
                    call.url,
                    call.body,
                    call.transport,
                    call.payload_max_bytes,
                    call.timeout,
                    pool,
                )
                .await;
                // The engine may be gone: nothing then waits for it.
                let _ = sender.send((ticket, outcome));
            });
            self.running.insert(
                ticket,
                Running {
                    request,
                    abort: task.abort_handle(),
                },
            );
            ticket
        }

        /// Attempts still on the network: started, no outcome yet.
        pub(crate) fn on_the_way(&self) -> usize {
            self.running.len() - self.arrived.len()
        }

        /// Keeps an outcome that arrived, unless its attempt was dropped.
        fn receive(&mut self, ticket: Ticket, outcome: CallResult) {
            if self.running.contains_key(&ticket) {
                self.arrived.insert(ticket, outcome);
                if self.report {
                    self.fresh.push(ticket);
                }
            }
        }

        /// Takes in every outcome that has arrived, without waiting.
        fn gather(&mut self) {
            while let Ok((ticket, outcome)) = self.receiver.try_recv() {
                self.receive(ticket, outcome);
            }
        }

        /// The requests whose attempts' outcomes arrived since the last call,
        /// in arrival order (only when made to report them).
        pub(in crate::engine) fn arrivals(&mut self) -> Vec<u64> {
            self.gather();
            let fresh = std::mem::take(&mut self.fresh);
            fresh
                .into_iter()
                .filter_map(|t| self.running.get(&t).map(|r| r.request))
                .collect()
        }

        /// Waits until an outcome arrives (at once when one arrived that was
        /// not reported yet); forever when no attempt is on the network.
        /// Cancel-safe: an outcome received is kept.
        pub(crate) async fn wait(&mut self) {
            self.gather();
            if !self.fresh.is_empty() || (!self.report && !self.arrived.is_empty()) {
                return;
            }
            if self.on_the_way() == 0 {
                return std::future::pending().await;
            }
            if let Some((ticket, outcome)) = self.receiver.recv().await {
                self.receive(ticket, outcome);
            }
        }

        /// The outcome of attempt `ticket`, waiting for it if it has not
        /// arrived (`None` for an attempt that was dropped). Cancel-safe: an
        /// outcome received meanwhile is kept.
        pub(in crate::engine) async fn take(&mut self, ticket: Ticket) -> Option<CallResult> {
            loop {
                if let Some(outcome) = self.arrived.remove(&ticket) {
                    self.running.remove(&ticket);
                    return Some(outcome);
                }
                if !self.running.contains_key(&ticket) {
                    return None;
                }
                let (arrived, outcome) = self.receiver.recv().await?;
                self.receive(arrived, outcome);
            }
        }

        /// Drops every attempt (a crash): they are stopped, and their
        /// outcomes, if they arrive anyway, ignored.
        pub(in crate::engine) fn drop_all(&mut self) {
            for running in self.running.values() {
                running.abort.abort();
            }
            self.running.clear();
            self.arrived.clear();
            self.fresh.clear();
            self.gather();
        }
    }

    impl Drop for Network {
        /// Stops the attempts still on the network: nobody will take them.
        fn drop(&mut self) {
            for running in self.running.values() {
                running.abort.abort();
            }
        }
    }
}
