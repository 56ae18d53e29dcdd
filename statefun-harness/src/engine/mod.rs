//! The engine: the miniature runtime itself. It owns the world (partition
//! queues, the per-address request state machine, state values, timers,
//! egress) and the seeded scheduler that drives it one step at a time, and
//! offers the API the facade ([`Harness`](crate::Harness)), live driving,
//! exploration and export are written against.
//!
//! Inside: `world` (the mutable state), `scheduler` (which action next,
//! delivery and batching), `ready` (the requests that may step, for the
//! call orders that park calls), `call` (attempts and retries), `network`
//! (attempts on the network, in the background), `apply` (the runtime's
//! semantics of an answer), `protocol` (the one door to the wire),
//! `recovery` (checkpoints, crashes, restores) and `checkpoint` (what a
//! checkpoint holds, and its serialized form).

mod apply;
mod call;
pub(crate) mod checkpoint;
mod network;
mod protocol;
mod ready;
mod recovery;
mod rest;
pub(crate) use rest::RestCheck;
mod scheduler;
mod world;

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::time::Duration;

use bytes::Bytes;
use stateful_functions::{Address, EgressIdentifier, TypeName};

pub use world::Counters;

use self::checkpoint::Checkpoint;
use self::world::World;
use crate::config::{Config, ConfigError};
use crate::egress::{EgressRecord, EgressSemantics};
use crate::endpoint::{Endpoint, Routes};
use crate::envelope::Envelope;
use crate::error::{Cause, InvariantViolation, JobFailure};
#[cfg(feature = "http")]
use crate::plan::CallOrder;
use crate::rng::Rng;
use crate::store::{self, Stored};
use crate::trace::{self, Event, TraceEntry};

/// The miniature runtime: configuration, world, scheduler and trace.
pub(crate) struct Engine {
    /// The settings it was built with (the endpoint tables resolved into
    /// `routes`; the plan used up as its steps come).
    config: Config,
    routes: Routes,
    max_parallelism: u32,
    rng: Rng,
    fault_rng: Rng,
    shape_rng: Rng,
    restarts_left: u32,
    /// In-flight requests waiting out a backoff.
    waiting_retries: usize,
    now: Duration,
    world: World,
    /// The world at the start, restored by a crash before any checkpoint.
    initial: World,
    last_periodic: Option<Duration>,
    last_checkpoint: Option<Checkpoint>,
    /// Records per egress covered by the last checkpoint.
    committed: BTreeMap<EgressIdentifier, usize>,
    /// Ingress sent since the last checkpoint, replayed by a crash.
    ingress_log: Vec<Envelope>,
    /// Every TTL ever registered, by (function type, state): kept across
    /// crashes, for inspection.
    known_ttls: BTreeMap<(TypeName, store::Name), store::Ttl>,
    /// Everything that happened, in order (not part of the world: a
    /// checkpoint does not hold it, a crash does not undo it).
    trace: Vec<TraceEntry>,
    /// The last point at rest whose invariants were checked: (steps,
    /// restarts), which a step, a crash or a restore moves on.
    rest_checked: Option<(u64, u64)>,
    /// The first invariant that did not hold.
    broken: Option<InvariantViolation>,
    /// Checked at every point at rest, in this order.
    invariants: Vec<std::sync::Arc<dyn RestCheck>>,
    /// The attempts at remote calls on the network.
    #[cfg(feature = "http")]
    network: network::Network,
    /// Whether calls start on the network in the background: some endpoint
    /// is remote, and no faults are injected (their draws follow the
    /// steps).
    #[cfg(feature = "http")]
    background: bool,
    /// After a restart, until the next step: the job is down for Flink's
    /// restart delay, so the requests it sends again wait for that step
    /// before they go on the network (a live driver takes no step until
    /// the wall clock has caught up with the delay).
    #[cfg(feature = "http")]
    restarting: bool,
    /// Requests whose attempt on the network waits to be released (by its
    /// round, or its arrival) before a step may take it.
    parked: usize,
    /// With a call order that parks calls: the requests that may take a
    /// step now.
    ready: ready::Ready,
}

impl Engine {
    /// An engine of `config`, at time zero with nothing to do.
    ///
    /// # Errors
    ///
    /// A configuration the harness refuses.
    pub(crate) fn new(
        mut config: Config,
        invariants: Vec<std::sync::Arc<dyn RestCheck>>,
    ) -> Result<Self, ConfigError> {
        let (max_parallelism, routes) = config.resolve()?;
        let world = World::new(config.partitions as usize);
        let seed = config.seed;
        #[cfg(feature = "http")]
        let arrival = config.call_order == CallOrder::Arrival;
        #[cfg(feature = "http")]
        let background = routes.any_remote() && config.faults.is_none();
        Ok(Self {
            rng: Rng::new(seed),
            // Separate streams, so faults and cuts do not shift the
            // scheduler's choices.
            fault_rng: Rng::new(seed ^ 0x6661_756c_7473),
            shape_rng: Rng::new(seed ^ 0x6375_7473),
            restarts_left: config.restarts,
            config,
            routes,
            max_parallelism,
            waiting_retries: 0,
            now: Duration::ZERO,
            initial: world.clone(),
            world,
            last_periodic: None,
            last_checkpoint: None,
            committed: BTreeMap::new(),
            ingress_log: Vec::new(),
            known_ttls: BTreeMap::new(),
            trace: Vec::new(),
            rest_checked: None,
            broken: None,
            invariants,
            #[cfg(feature = "http")]
            network: network::Network::new(arrival),
            #[cfg(feature = "http")]
            background,
            #[cfg(feature = "http")]
            restarting: false,
            parked: 0,
            ready: ready::Ready::default(),
        })
    }

    /// The seed.
    pub(crate) fn seed(&self) -> u64 {
        self.config.seed
    }

    /// Virtual time since the start.
    pub(crate) fn now(&self) -> Duration {
        self.now
    }

    /// How many partitions it simulates.
    pub(crate) fn partitions(&self) -> u32 {
        self.config.partitions
    }

    fn fail(&self, address: Option<&Address>, batch: Option<usize>, cause: Cause) -> JobFailure {
        JobFailure::new(self.config.seed, address.cloned(), batch, cause)
    }

    #[inline]
    fn record(&mut self, event: Event) {
        self.trace.push(TraceEntry {
            at: self.now,
            event,
        });
    }

    /// The partition that owns `address` (by its id only, as Flink does).
    pub(crate) fn partition_of(&self, address: &Address) -> u32 {
        let group = crate::placement::key_group(address.id(), self.max_parallelism);
        crate::placement::subtask(group, self.config.partitions, self.max_parallelism)
    }

    fn index(&self, address: &Address) -> usize {
        self.partition_of(address) as usize
    }

    /// Sends a message of `type_name` from the ingress (no caller) to `to`.
    pub(crate) fn send(&mut self, to: Address, type_name: &str, bytes: Bytes) {
        let partition = self.partition_of(&to);
        self.record(Event::Ingress {
            to: to.clone(),
            type_name: type_name.to_owned(),
            partition,
        });
        let envelope = Envelope {
            from: None,
            to,
            type_name: type_name.to_owned(),
            value: Some(bytes),
        };
        self.ingress_log.push(envelope.clone());
        self.world.ingress[partition as usize].push_back(envelope);
    }

    /// Runs until nothing is left to do, waiting out retry backoffs on the
    /// virtual clock; see [`Harness::run`](crate::Harness::run).
    pub(crate) async fn run(&mut self) -> Result<Counters, JobFailure> {
        self.reserve_trace();
        let limit = self
            .world
            .counters
            .steps
            .saturating_add(self.config.max_steps);
        loop {
            match self.step().await {
                Ok(true) => {
                    if self.world.counters.steps >= limit {
                        return Err(self.fail(None, None, Cause::Livelock(self.config.max_steps)));
                    }
                }
                Ok(false) => {
                    // Idle but for calls on the network: their outcomes
                    // come in their own time.
                    #[cfg(feature = "http")]
                    if self.waits_for_network() {
                        self.network.wait().await;
                        continue;
                    }
                    if !self.wait_for_retry() {
                        return Ok(self.world.counters);
                    }
                }
                Err(failure) => self.restart(failure)?,
            }
        }
    }

    /// Whether the run waits for outcomes to arrive before it can go on
    /// (calls taken as they arrive, and parked on the network).
    #[cfg(feature = "http")]
    fn waits_for_network(&self) -> bool {
        self.config.call_order == CallOrder::Arrival && self.parked > 0
    }

    /// Whether remote calls start on the network in the background.
    pub(crate) fn calls_in_background(&self) -> bool {
        #[cfg(feature = "http")]
        return self.background;
        #[cfg(not(feature = "http"))]
        false
    }

    /// Attempts at remote calls on the network, their outcomes not arrived
    /// yet.
    pub(crate) fn calls_in_flight(&self) -> usize {
        #[cfg(feature = "http")]
        return self.network.on_the_way();
        #[cfg(not(feature = "http"))]
        0
    }

    /// Waits until the outcome of a call on the network arrives (at once
    /// when one arrived that no step has seen yet); forever when none is on
    /// the network.
    pub(crate) async fn wait_for_answer(&mut self) {
        #[cfg(feature = "http")]
        self.network.wait().await;
        #[cfg(not(feature = "http"))]
        std::future::pending::<()>().await;
    }

    /// Makes room in the trace for the events the queued messages will
    /// make, so that a run grows it once, rather than doubling it (and
    /// copying every event so far) again and again. At most
    /// [`trace::MAX_RESERVED_EVENTS`] at a time: a million queued messages
    /// run for ten steps must not reserve a gigabyte.
    fn reserve_trace(&mut self) {
        let queued: usize = (self.world.ingress.iter())
            .chain(&self.world.local)
            .chain(&self.world.feedback)
            .map(VecDeque::len)
            .sum();
        self.trace.reserve(
            queued
                .saturating_mul(trace::EVENTS_PER_MESSAGE)
                .min(trace::MAX_RESERVED_EVENTS),
        );
    }

    /// When idle but for requests waiting out a backoff: moves the clock to
    /// the next retry, timer or periodic checkpoint, whichever comes first.
    fn wait_for_retry(&mut self) -> bool {
        if self.waiting_retries == 0 {
            return false;
        }
        let Some(retry) = self.next_retry() else {
            return false;
        };
        let checkpoint = self.next_checkpoint_at();
        let at = [Some(retry), self.world.timers.next_due(), checkpoint]
            .into_iter()
            .flatten()
            .min()
            .unwrap_or(retry);
        self.now = self.now.max(at);
        if checkpoint == Some(at) {
            self.last_periodic = Some(at);
            self.checkpoint();
        }
        true
    }

    /// A failed job restarts from its last checkpoint while restarts are
    /// left (after Flink's restart delay of 1 s); otherwise the failure is
    /// returned.
    pub(crate) fn restart(&mut self, failure: JobFailure) -> Result<(), JobFailure> {
        // A livelock or a broken invariant would only happen again.
        if self.restarts_left == 0
            || matches!(failure.cause(), Cause::Livelock(_) | Cause::Invariant(_))
        {
            return Err(failure);
        }
        self.restarts_left -= 1;
        self.record(Event::JobFailed {
            reason: failure.to_string(),
        });
        self.now = self.now.saturating_add(Duration::from_secs(1));
        #[cfg(feature = "http")]
        {
            self.restarting = true;
        }
        self.crash();
        Ok(())
    }

    /// Moves the virtual clock forward by `by`, running everything that
    /// falls due on the way; see [`Harness::advance`](crate::Harness::advance).
    pub(crate) async fn advance(&mut self, by: Duration) -> Result<Counters, JobFailure> {
        let target = self.now.saturating_add(by);
        self.run().await?;
        loop {
            let timer = self.world.timers.next_due().filter(|at| *at <= target);
            let checkpoint = self.next_checkpoint_at().filter(|at| *at <= target);
            match (timer, checkpoint) {
                (Some(t), Some(c)) if c <= t => self.periodic_checkpoint(c).await?,
                (None, Some(c)) => self.periodic_checkpoint(c).await?,
                (Some(t), _) => {
                    self.now = self.now.max(t);
                    self.run().await?;
                }
                (None, None) => break,
            }
        }
        self.now = self.now.max(target);
        self.run().await
    }

    async fn periodic_checkpoint(&mut self, at: Duration) -> Result<(), JobFailure> {
        self.now = self.now.max(at);
        self.run().await?;
        self.last_periodic = Some(at);
        self.checkpoint();
        Ok(())
    }

    /// Moves the virtual clock to `at` (never back) without running
    /// anything.
    pub(crate) fn move_clock_to(&mut self, at: Duration) {
        self.now = self.now.max(at);
    }

    /// The earliest time a request waiting out a backoff is retried. A
    /// request held back by a first request on its partition is left out:
    /// its retry (even one already due) waits for that request, whose own
    /// time is what moves the clock.
    pub(crate) fn next_retry(&self) -> Option<Duration> {
        if self.waiting_retries == 0 {
            return None;
        }
        self.world
            .in_flight
            .iter()
            .filter(|(id, r)| !self.held(**id, r))
            .filter_map(|(_, r)| r.retry_at)
            .min()
    }

    /// The earliest time a delayed message or a retry falls due.
    pub(crate) fn next_wake_up(&self) -> Option<Duration> {
        [self.next_retry(), self.world.timers.next_due()]
            .into_iter()
            .flatten()
            .min()
    }

    /// A state value as the next request would send it: its typename and
    /// bytes (`None` when absent or expired).
    pub(crate) fn state_raw(&self, address: &Address, name: &str) -> Option<(String, Bytes)> {
        let value = self.world.store.values.get(address)?.get(name)?;
        // The registry is empty after a crash until the handshake; the TTL
        // last registered still decides what inspection shows.
        let function_type = address.function_type();
        let partition = self.index(address);
        let ttl = match self.world.store.ttl_of(partition, function_type, name) {
            store::Ttl::Never => self
                .known_ttls
                .get(&(function_type.clone(), store::Name::from(name)))
                .copied()
                .unwrap_or(store::Ttl::Never),
            ttl => ttl,
        };
        (!store::Store::expired(value, ttl, self.now))
            .then(|| (value.type_name.to_string(), value.bytes.clone()))
    }

    /// The states `function_type` declares: those of its spec when it is
    /// served in process (known before any call, and an empty list when it
    /// declares none), else those it ever declared in a handshake, in order
    /// (`None` before its first handshake).
    pub(crate) fn declared_states(&self, function_type: &TypeName) -> Option<Vec<String>> {
        if let Some(Endpoint::Handler(handler)) =
            self.routes.get(function_type).map(|r| &r.endpoint)
        {
            if let Some(spec) = handler.functions().get(function_type) {
                return Some(spec.states().iter().map(|s| s.name().to_owned()).collect());
            }
        }
        let declared: Vec<String> = (self.known_ttls.keys())
            .filter(|(t, _)| t == function_type)
            .map(|(_, name)| name.to_string())
            .collect();
        (!declared.is_empty()).then_some(declared)
    }

    /// Every state value of `address` that has not expired, by name: its
    /// typename and bytes.
    pub(crate) fn states(&self, address: &Address) -> Vec<(String, String, Bytes)> {
        self.state_names(address)
            .filter_map(|name| {
                let (type_name, bytes) = self.state_raw(address, name)?;
                Some((name.to_owned(), type_name, bytes))
            })
            .collect()
    }

    /// The names of the state values `address` holds (expired or not).
    pub(crate) fn state_names(&self, address: &Address) -> impl Iterator<Item = &str> {
        (self.world.store.values.get(address).into_iter())
            .flat_map(|values| values.keys().map(|name| &**name))
    }

    /// The addresses that hold state values, in order.
    pub(crate) fn addresses_with_state(&self) -> impl Iterator<Item = &Address> {
        self.world
            .store
            .values
            .iter()
            .filter(|(_, values)| !values.is_empty())
            .map(|(address, _)| address)
    }

    /// Seeds a state value as if the function had written it now.
    pub(crate) fn set_state(
        &mut self,
        address: &Address,
        name: &str,
        type_name: &str,
        bytes: Bytes,
    ) {
        let stored = Stored {
            type_name: type_name.into(),
            bytes,
            written: self.now,
            accessed: self.now,
        };
        let name = store::Name::from(name);
        if self.last_checkpoint.is_none() {
            // Seeded state is part of the start a crash goes back to.
            self.initial
                .store
                .values
                .insert(address, &name, stored.clone());
        }
        self.world.store.values.insert(address, &name, stored);
    }

    /// The declared egresses, in order.
    pub(crate) fn egress_ids(&self) -> impl Iterator<Item = &EgressIdentifier> {
        self.config.egresses.keys()
    }

    /// The records egress `key` received that are visible: with
    /// exactly-once semantics, those a completed checkpoint committed.
    pub(crate) fn visible_egress(&self, key: &EgressIdentifier) -> &[EgressRecord] {
        let records = self.world.egress.get(key).map_or(&[][..], Vec::as_slice);
        match self.config.semantics_of(key) {
            EgressSemantics::AtLeastOnce => records,
            // Only what a completed checkpoint committed.
            EgressSemantics::ExactlyOnce => {
                let committed = self.committed.get(key).copied().unwrap_or(0);
                &records[..committed.min(records.len())]
            }
        }
    }

    /// The egresses that hold records, visible or not.
    pub(crate) fn egress_with_records(&self) -> Vec<EgressIdentifier> {
        self.world.egress.keys().cloned().collect()
    }

    /// Takes the visible records of egress `key` out of the engine: a later
    /// crash, or a restore from the last checkpoint, will not bring them
    /// back.
    pub(crate) fn take_visible_egress(&mut self, key: &EgressIdentifier) -> Vec<EgressRecord> {
        let visible = self.visible_egress(key).len();
        let Some(records) = self.world.egress.get_mut(key) else {
            return Vec::new();
        };
        let out: Vec<EgressRecord> = records.drain(..visible).collect();
        if let Some(committed) = self.committed.get_mut(key) {
            *committed = committed.saturating_sub(visible);
        }
        if let Some(checkpoint) = &mut self.last_checkpoint {
            // What a checkpoint holds of an egress is what it committed:
            // all of it has been taken now.
            checkpoint.forget_egress(key, visible);
        }
        out
    }

    /// What was counted so far.
    pub(crate) fn counters(&self) -> Counters {
        self.world.counters
    }

    /// Messages waiting at addresses with a request in flight.
    pub(crate) fn backlog(&self) -> usize {
        self.world.addresses.values().map(|s| s.backlog.len()).sum()
    }

    /// Addresses blocked: their backlog reached `maxNumBatchRequests`,
    /// and no request of theirs completed since.
    pub(crate) fn blocked_addresses(&self) -> usize {
        self.world.blocked.iter().map(BTreeSet::len).sum()
    }

    /// Ingress messages not yet delivered.
    pub(crate) fn pending_ingress(&self) -> usize {
        self.world.ingress.iter().map(VecDeque::len).sum()
    }

    /// Delayed messages not yet fired.
    pub(crate) fn pending_timers(&self) -> usize {
        self.world.timers.len()
    }

    /// Everything that happened, in order.
    pub(crate) fn trace(&self) -> &[TraceEntry] {
        &self.trace
    }

    /// Takes the trace recorded so far out of the engine.
    pub(crate) fn take_trace(&mut self) -> Vec<TraceEntry> {
        std::mem::take(&mut self.trace)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use stateful_functions::TypeName;

    use super::world::InFlight;
    use super::*;

    /// A run reserves trace room for its queued messages, but never more
    /// than a bounded amount at once, however many are queued.
    #[test]
    fn the_trace_reservation_is_bounded() {
        let mut engine = Engine::new(Config::default(), Vec::new()).unwrap();
        let to = Address::new(TypeName::from_static("bench/counter"), "a");
        for i in 0..20_000_i64 {
            engine.send(
                to.clone(),
                "io.statefun.types/long",
                Bytes::from(i.to_le_bytes().to_vec()),
            );
        }
        let before = engine.trace.len();
        engine.reserve_trace();
        let room = engine.trace.capacity() - before;
        assert!(room >= trace::MAX_RESERVED_EVENTS, "{room}");
        // `Vec` may round up, but not to the 120,000 events asked for.
        assert!(room < 20_000 * trace::EVENTS_PER_MESSAGE, "{room}");
    }

    fn in_flight(id: &str, retry_at: Duration) -> InFlight {
        InFlight {
            address: Address::new(TypeName::from_static("t/f"), id),
            partition: 0,
            invocations: Vec::new(),
            body: Bytes::new(),
            started: Duration::ZERO,
            attempts: 1,
            retry_at: Some(retry_at),
            give_up: None,
            response: None,
            ticket: None,
            parked: false,
        }
    }

    /// A request held back by its partition's first request may have a
    /// retry already due (it failed before a restore made another request
    /// the first): that time must not be where the clock waits, or an
    /// otherwise idle run waits there forever without a step (the cart's
    /// thousand-schedule test hung on it once #20's first-request blocking
    /// met the retries of crashed runs). The first request's own retry is.
    #[test]
    fn a_held_request_does_not_stop_the_clock_at_its_due_retry() {
        let mut engine = Engine::new(Config::default(), Vec::new()).unwrap();
        engine.now = Duration::from_millis(50);
        engine
            .world
            .in_flight
            .insert(1, in_flight("first", Duration::from_millis(80)));
        engine
            .world
            .in_flight
            .insert(2, in_flight("held", Duration::from_millis(10)));
        engine.world.bootstrapping[0].push_back(1);
        engine.world.bootstrapping_partitions = 1;
        engine.waiting_retries = 2;
        assert_eq!(engine.next_retry(), Some(Duration::from_millis(80)));
        assert!(engine.wait_for_retry());
        assert_eq!(engine.now, Duration::from_millis(80));
    }
}
