//! The world: the mutable state of a run, which a checkpoint copies and a
//! crash puts back (partition queues, addresses and their requests, state
//! values, timers, egress, counters).

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::time::Duration;

use bytes::Bytes;
use stateful_functions::{Address, EgressIdentifier, TypeName};

use super::network::Ticket;
use super::protocol::Answer;
use crate::clock::Timers;
use crate::egress::EgressRecord;
use crate::envelope::Envelope;
use crate::error::Cause;
use crate::store::{Registry, Store};

/// What the harness counted during a run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Counters {
    /// Scheduler steps taken.
    pub steps: u64,
    /// Requests sent (batches, including handshake retries).
    pub requests: u64,
    /// Invocations sent in them.
    pub invocations: u64,
    /// Messages that waited because a request was in flight.
    pub buffered: u64,
    /// The longest backlog seen at one address.
    pub max_backlog: usize,
    /// State handshakes answered.
    pub handshakes: u64,
    /// Egress records.
    pub egress: u64,
    /// Crashes (restarts from a checkpoint).
    pub restarts: u64,
    /// Call attempts that failed (and were retried, or failed the job).
    pub failed_attempts: u64,
}

/// Per address: the request in flight and the messages waiting for it.
#[derive(Debug, Default, Clone)]
pub(crate) struct AddressState {
    pub(crate) in_flight: Option<u64>,
    pub(crate) backlog: Vec<Envelope>,
}

/// A request on its way: built, being attempted (with retries), or
/// answered and waiting to be applied.
#[derive(Debug, Clone)]
pub(crate) struct InFlight {
    pub(crate) address: Address,
    /// The partition of `address`.
    pub(crate) partition: usize,
    pub(crate) invocations: Vec<Envelope>,
    pub(crate) body: Bytes,
    /// When the first attempt could start: the call budget counts from here.
    pub(crate) started: Duration,
    /// Failed attempts so far.
    pub(crate) attempts: u32,
    /// After a failed attempt: when the next one may start.
    pub(crate) retry_at: Option<Duration>,
    /// After the last failed attempt, when the runtime sleeps out a backoff
    /// capped at the deadline: the failure that fails the job at
    /// `retry_at` instead of another attempt.
    /// Boxed: it is rare, and every request in flight is moved.
    pub(crate) give_up: Option<Box<Cause>>,
    /// The answer, once it arrived; applied by a later step.
    pub(crate) response: Option<Answer>,
    /// The attempt on the network, started in the background (not in
    /// checkpoints: a restore sends the request again).
    pub(crate) ticket: Option<Ticket>,
    /// Whether its attempt on the network waits to be released (by its
    /// round, or by its arrival) before a step may take it.
    pub(crate) parked: bool,
}

/// The mutable state of a run.
#[derive(Debug, Default, Clone)]
pub(crate) struct World {
    /// Per partition: messages its own functions (and delayed messages
    /// they sent) produced for it, drained first and never held back
    /// (`functions/Reductions.java`, `LocalSink`).
    pub(crate) local: Vec<VecDeque<Envelope>>,
    /// Per partition: messages from other partitions, which the runtime
    /// takes as input through the feedback channel: held back, as ingress
    /// is, while the partition is back-pressured
    /// (`functions/FunctionGroupOperator.java`, `processElement`).
    pub(crate) feedback: Vec<VecDeque<Envelope>>,
    pub(crate) ingress: Vec<VecDeque<Envelope>>,
    pub(crate) addresses: BTreeMap<Address, AddressState>,
    pub(crate) in_flight: BTreeMap<u64, InFlight>,
    pub(crate) next_request: u64,
    pub(crate) store: Store,
    pub(crate) timers: Timers,
    pub(crate) egress: BTreeMap<EgressIdentifier, Vec<EgressRecord>>,
    pub(crate) counters: Counters,
    /// Per partition: the addresses that asked to stop the input (a
    /// message appended to a backlog at or over `maxNumBatchRequests`),
    /// each until a request of it completes
    /// (`backpressure/ThresholdBackPressureValve.java`).
    pub(crate) blocked: Vec<BTreeSet<Address>>,
    /// Per partition: the requests in flight (the valve's pending async
    /// operations).
    pub(crate) pending: Vec<usize>,
    /// Per partition: the function types that sent their first request
    /// there (the runtime's `isFirstRequestSent`, one per type per
    /// subtask; not in checkpoints).
    pub(crate) bootstrapped: Vec<BTreeSet<TypeName>>,
    /// Per partition: the first requests of their types, in the order
    /// they were sent. While there is one, the partition does nothing but
    /// complete the first of them ("Blocking processing until first
    /// request is completed", `reqreply/RequestReplyFunction.java`).
    pub(crate) bootstrapping: Vec<VecDeque<u64>>,
    /// How many partitions have a first request in flight.
    pub(crate) bootstrapping_partitions: usize,
}

impl World {
    /// An empty world of `partitions` partitions.
    pub(crate) fn new(partitions: usize) -> Self {
        Self {
            local: vec![VecDeque::new(); partitions],
            feedback: vec![VecDeque::new(); partitions],
            ingress: vec![VecDeque::new(); partitions],
            blocked: vec![BTreeSet::new(); partitions],
            pending: vec![0; partitions],
            ..Self::default()
        }
        .with_partitions(partitions)
    }

    /// The world with `partitions` empty registries and no first request
    /// sent anywhere, as after a (re)start.
    pub(crate) fn with_partitions(mut self, partitions: usize) -> Self {
        self.store.registry = vec![Registry::default(); partitions];
        self.bootstrapped = vec![BTreeSet::new(); partitions];
        self.bootstrapping = vec![VecDeque::new(); partitions];
        self.bootstrapping_partitions = 0;
        self
    }

    /// What a checkpoint keeps of the world: everything but the state
    /// registries, the first requests sent, and the attempts on the network
    /// and answers not yet applied (the restore sends those requests
    /// again). The state values are shared, not copied.
    pub(crate) fn snapshot(&self) -> Self {
        Self {
            local: self.local.clone(),
            feedback: self.feedback.clone(),
            ingress: self.ingress.clone(),
            addresses: self.addresses.clone(),
            in_flight: self
                .in_flight
                .iter()
                .map(|(id, r)| {
                    let request = InFlight {
                        address: r.address.clone(),
                        partition: r.partition,
                        invocations: r.invocations.clone(),
                        body: r.body.clone(),
                        started: r.started,
                        attempts: r.attempts,
                        retry_at: r.retry_at,
                        give_up: None,
                        response: None,
                        ticket: None,
                        parked: false,
                    };
                    (*id, request)
                })
                .collect(),
            next_request: self.next_request,
            store: Store {
                registry: Vec::new(),
                values: self.store.values.clone(),
            },
            timers: self.timers.clone(),
            egress: self.egress.clone(),
            counters: self.counters,
            blocked: self.blocked.clone(),
            pending: self.pending.clone(),
            // Neither the registries nor the first requests are in a
            // checkpoint: a restart sets them up empty.
            bootstrapped: Vec::new(),
            bootstrapping: Vec::new(),
            bootstrapping_partitions: 0,
        }
    }
}
