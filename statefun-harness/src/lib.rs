//! A deterministic, in-process miniature StateFun runtime for `cargo test`.
//!
//! The harness runs your functions the way the StateFun runtime does
//! (spec §3): one request in flight per address, messages that arrive
//! meanwhile sent as one batch, the state handshake, responses applied in
//! the runtime's order, delayed messages and state expiration on a virtual
//! clock, Flink's placement of ids on partitions, and everything the real
//! job would fail on reported as a [`JobFailure`]. It drives functions
//! through the same bytes-in, bytes-out handler the HTTP server uses (or a
//! remote endpoint over HTTP, for functions in any language), so every test
//! also exercises the real protocol.
//!
//! [`Harness::checkpoint`] and [`Harness::crash`] reproduce the runtime's
//! failure model (spec §3.10): a crash restores the last checkpoint,
//! replays the ingress and re-sends the requests that were in flight, so a
//! test can prove its functions keep state and egress exactly once.
//! [`Faults`] injects refused, failed, lost and timed-out calls, which the
//! harness retries with the runtime's backoff on the virtual clock, and
//! [`Explorer`] property-tests a workload over generated [`Schedule`]s
//! (batch shapes, faults, checkpoints, crashes), shrinking a violation to
//! a minimal schedule with a one-line reproduction.
//!
//! Nothing reads the wall clock or unseeded randomness: the seed decides
//! the schedule (which partition or in-flight request goes next), so the
//! same seed gives the same trace, and a failure prints its seed.
//!
//! ```
//! use statefun_harness::Harness;
//! use statefun_sdk::{function, Address, Context, FunctionError, FunctionType, Functions, State};
//!
//! #[derive(State)]
//! struct CounterState {
//!     count: i64,
//! }
//!
//! #[derive(Default)]
//! struct Counter;
//!
//! #[function(typename = "example/counter", state = CounterState, auto_register = false)]
//! impl Counter {
//!     #[handler]
//!     async fn add(&self, ctx: &mut Context, n: i64) -> Result<(), FunctionError> {
//!         let count = ctx.storage().get(&CounterState::COUNT)?.unwrap_or(0) + n;
//!         ctx.storage().set(&CounterState::COUNT, &count)?;
//!         Ok(())
//!     }
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let mut harness = Harness::builder()
//!     .seed(7)
//!     .functions(Functions::new().with(Counter.spec()?)?)
//!     .build()?;
//! let kim = Address::new(Counter::TYPE_NAME, "Kim");
//! harness.send(kim.clone(), &2_i64)?;
//! harness.send(kim.clone(), &3_i64)?;
//! harness.run().await?;
//! assert_eq!(harness.state(&kim, &CounterState::COUNT)?, Some(5));
//! # let _ = CounterState { count: 0 };
//! # Ok(())
//! # }
//! ```
#![doc(test(attr(deny(warnings))))]

mod checkpoint;
mod clock;
mod decode;
mod encode;
mod endpoint;
mod engine;
mod envelope;
mod error;
mod explore;
mod export;
mod faults;
#[cfg(feature = "http")]
mod http;
mod live;
mod placement;
mod rng;
mod schedule;
mod store;
mod trace;

use std::collections::{BTreeMap, VecDeque};
use std::fmt;
use std::time::Duration;

use bytes::Bytes;
use statefun_sdk::{
    Address, EgressIdentifier, Functions, IntoTypedBytes, RequestReplyHandler, TypeName, Value,
    ValueError, ValueSpec,
};

pub use checkpoint::{Checkpoint, CheckpointError, EgressSemantics};
pub use endpoint::{Endpoint, EndpointOptions, RawEndpoint};
pub use error::{Cause, JobFailure};
pub use explore::{Explorer, Outcome, Report, Violation};
pub use faults::Faults;
pub use live::Progress;
pub use schedule::{Batching, Schedule};
pub use trace::{Event, TraceEntry};

use endpoint::Route;
use engine::World;
use envelope::Envelope;
use rng::Rng;
use store::Stored;

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

/// A record an egress received: its typename and bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EgressRecord {
    /// The typename.
    pub type_name: String,
    /// The encoded value.
    pub value: Bytes,
}

/// A decoded `KafkaProducerRecord`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KafkaRecord {
    /// The topic.
    pub topic: String,
    /// The key; `None` when empty (no key).
    pub key: Option<String>,
    /// The value bytes.
    pub value: Bytes,
}

/// A decoded `KinesisEgressRecord`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KinesisRecord {
    /// The stream.
    pub stream: String,
    /// The partition key.
    pub partition_key: String,
    /// The explicit hash key; `None` when empty.
    pub explicit_hash_key: Option<String>,
    /// The value bytes.
    pub value: Bytes,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum EgressKind {
    Generic,
    Kafka,
    Kinesis,
}

/// A configuration the harness refuses.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid harness configuration: {0}")]
pub struct ConfigError(String);

/// Configures a [`Harness`]; see [`Harness::builder`].
#[derive(Debug)]
#[must_use]
pub struct HarnessBuilder {
    seed: u64,
    partitions: u32,
    max_parallelism: Option<u32>,
    exact: BTreeMap<String, (Endpoint, EndpointOptions)>,
    namespaces: BTreeMap<String, (Endpoint, EndpointOptions)>,
    egresses: BTreeMap<String, EgressKind>,
    max_batch_requests: usize,
    max_steps: u64,
    egress_semantics: EgressSemantics,
    checkpoint_interval: Option<Duration>,
    call_timeout: Duration,
    batching: Batching,
    faults: Faults,
    plan: schedule::Plan,
    restarts: u32,
    errors: Vec<String>,
}

impl HarnessBuilder {
    /// How egress records become visible (default at least once).
    pub fn egress_semantics(mut self, semantics: EgressSemantics) -> Self {
        self.egress_semantics = semantics;
        self
    }

    /// The runtime's `call` budget (default 2 minutes): a failed attempt
    /// is retried after a backoff of 2 ms doubling per attempt, on the
    /// virtual clock, until the budget is spent; then the job fails (spec
    /// §2.3). A remote attempt may take what is left of the budget (at
    /// least 10 ms) in wall-clock time; one that takes it all spends the
    /// budget, as the runtime's per-attempt timeout does.
    pub fn call_timeout(mut self, timeout: Duration) -> Self {
        self.call_timeout = timeout;
        self
    }

    /// How backlogs are cut into batches (default [`Batching::Natural`]).
    pub fn batching(mut self, batching: Batching) -> Self {
        self.batching = batching;
        self
    }

    /// Faults to inject into calls (default none); they are drawn from the
    /// seed, so a seed still fixes the run.
    pub fn faults(mut self, faults: Faults) -> Self {
        self.faults = faults;
        self
    }

    /// Crashes the job (as [`Harness::crash`]) just before each of these
    /// steps, counted from 0 over the harness's life: a step delivers a
    /// message, attempts a call (the function runs), applies an answer, or
    /// fires timers, so these points cover "before a request is sent",
    /// "after it was sent" and "after the answer arrived, before it was
    /// applied".
    pub fn crash_before_steps(mut self, steps: impl IntoIterator<Item = u64>) -> Self {
        self.plan.crashes.extend(steps);
        self
    }

    /// Takes a checkpoint (as [`Harness::checkpoint`]) just before each of
    /// these steps.
    pub fn checkpoint_before_steps(mut self, steps: impl IntoIterator<Item = u64>) -> Self {
        self.plan.checkpoints.extend(steps);
        self
    }

    /// Restarts the job from its last checkpoint when it fails, as Flink's
    /// restart strategy does, at most `max` times (default 0: a failure is
    /// returned). Each restart takes 1 s of virtual time (Flink's default
    /// fixed delay). A livelock is never restarted.
    pub fn restart_on_failure(mut self, max: u32) -> Self {
        self.restarts = max;
        self
    }

    /// Takes a checkpoint every `interval` of virtual time that
    /// [`Harness::advance`] passes (none by default; take them explicitly
    /// with [`Harness::checkpoint`]).
    pub fn checkpoint_interval(mut self, interval: Duration) -> Self {
        self.checkpoint_interval = Some(interval);
        self
    }

    /// The seed that decides the schedule (default 0).
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// How many parallel partitions (Flink subtasks) to simulate (default 1).
    pub fn partitions(mut self, partitions: u32) -> Self {
        if partitions == 0 {
            self.errors.push("partitions must be at least 1".into());
        }
        self.partitions = partitions.max(1);
        self
    }

    /// Flink's max parallelism, the number of key groups (default: Flink's
    /// rule for the partition count).
    pub fn max_parallelism(mut self, max_parallelism: u32) -> Self {
        self.max_parallelism = Some(max_parallelism);
        self
    }

    /// Serves every function of `functions` in process, through their
    /// request-reply handler.
    pub fn functions(mut self, functions: Functions) -> Self {
        let types: Vec<String> = functions
            .type_names()
            .map(|t| t.as_str().to_owned())
            .collect();
        let endpoint = Endpoint::Handler(RequestReplyHandler::new(functions));
        for t in types {
            self.exact
                .insert(t, (endpoint.clone(), EndpointOptions::default()));
        }
        self
    }

    /// Serves function types matching `pattern` (`ns/name`, or `ns/*` for a
    /// whole namespace) from `endpoint`. An exact type wins over a
    /// namespace, as in module.yaml.
    pub fn endpoint(self, pattern: &str, endpoint: Endpoint) -> Self {
        self.endpoint_with(pattern, endpoint, EndpointOptions::default())
    }

    /// As [`HarnessBuilder::endpoint`], with the endpoint's own call budget
    /// and backlog limit.
    pub fn endpoint_with(
        mut self,
        pattern: &str,
        endpoint: Endpoint,
        options: EndpointOptions,
    ) -> Self {
        match pattern.rsplit_once('/') {
            Some((ns, "*")) if !ns.is_empty() => {
                self.namespaces.insert(ns.to_owned(), (endpoint, options));
            }
            _ => match pattern.parse::<TypeName>() {
                Ok(t) => {
                    self.exact
                        .insert(t.as_str().to_owned(), (endpoint, options));
                }
                Err(e) => self
                    .errors
                    .push(format!("endpoint pattern {pattern:?}: {e}")),
            },
        }
        self
    }

    /// Serves function types matching `pattern` from a remote endpoint, by
    /// its module.yaml `urlPathTemplate` (`{function.name}` is replaced).
    #[cfg(feature = "http")]
    pub fn remote(self, pattern: &str, url_path_template: &str) -> Self {
        self.endpoint(pattern, Endpoint::Http(url_path_template.to_owned()))
    }

    /// As [`HarnessBuilder::remote`], with the endpoint's own call budget
    /// and backlog limit (module.yaml `transport.call`,
    /// `maxNumBatchRequests`).
    #[cfg(feature = "http")]
    pub fn remote_with(
        self,
        pattern: &str,
        url_path_template: &str,
        options: EndpointOptions,
    ) -> Self {
        self.endpoint_with(
            pattern,
            Endpoint::Http(url_path_template.to_owned()),
            options,
        )
    }

    /// Declares an egress that accepts any typed value.
    pub fn egress(self, id: &EgressIdentifier) -> Self {
        self.egress_kind(id, EgressKind::Generic)
    }

    /// Declares a generic Kafka egress (accepts only `KafkaProducerRecord`).
    pub fn kafka_egress(self, id: &EgressIdentifier) -> Self {
        self.egress_kind(id, EgressKind::Kafka)
    }

    /// Declares a generic Kinesis egress (accepts only
    /// `KinesisEgressRecord`).
    pub fn kinesis_egress(self, id: &EgressIdentifier) -> Self {
        self.egress_kind(id, EgressKind::Kinesis)
    }

    fn egress_kind(mut self, id: &EgressIdentifier, kind: EgressKind) -> Self {
        self.egresses
            .insert(id.type_name().as_str().to_owned(), kind);
        self
    }

    /// The endpoint's `maxNumBatchRequests` (default 1000; 0 disables): an
    /// address with this many waiting messages blocks its partition's
    /// ingress.
    pub fn max_batch_requests(mut self, max: usize) -> Self {
        self.max_batch_requests = max;
        self
    }

    /// How many steps [`Harness::run`] may take before it reports a
    /// livelock (default 1,000,000).
    pub fn max_steps(mut self, steps: u64) -> Self {
        self.max_steps = steps;
        self
    }

    /// Builds the harness.
    ///
    /// # Errors
    ///
    /// An invalid endpoint pattern or partition count.
    pub fn build(self) -> Result<Harness, ConfigError> {
        if !self.errors.is_empty() {
            return Err(ConfigError(self.errors.join("; ")));
        }
        if self.faults.highest() > 1000 {
            return Err(ConfigError(format!(
                "a fault rate of {} per mille is more than 1000",
                self.faults.highest()
            )));
        }
        if self.checkpoint_interval == Some(Duration::ZERO) {
            return Err(ConfigError(
                "the checkpoint interval must be longer than zero".into(),
            ));
        }
        let max_parallelism = self
            .max_parallelism
            .unwrap_or_else(|| placement::default_max_parallelism(self.partitions));
        if max_parallelism < self.partitions {
            return Err(ConfigError(format!(
                "max parallelism {max_parallelism} is below the partition count {}",
                self.partitions
            )));
        }
        let route = |(endpoint, options): (Endpoint, EndpointOptions)| Route {
            endpoint,
            call_budget: options.call_timeout.unwrap_or(self.call_timeout),
            max_batch_requests: options
                .max_batch_requests
                .unwrap_or(self.max_batch_requests),
        };
        let exact = self.exact.into_iter().map(|(k, v)| (k, route(v))).collect();
        let namespaces = self
            .namespaces
            .into_iter()
            .map(|(k, v)| (k, route(v)))
            .collect();
        let p = self.partitions as usize;
        let world = World {
            local: vec![VecDeque::new(); p],
            ingress: vec![VecDeque::new(); p],
            blocked: vec![0; p],
            ..World::default()
        };
        Ok(Harness {
            seed: self.seed,
            rng: Rng::new(self.seed),
            // Separate streams, so faults and cuts do not shift the
            // scheduler's choices.
            fault_rng: Rng::new(self.seed ^ 0x6661_756c_7473),
            shape_rng: Rng::new(self.seed ^ 0x6375_7473),
            batching: self.batching,
            faults: self.faults,
            plan: self.plan,
            restarts_left: self.restarts,
            waiting_retries: 0,
            now: Duration::ZERO,
            parallelism: self.partitions,
            max_parallelism,
            exact,
            namespaces,
            egresses: self.egresses,
            max_steps: self.max_steps,
            initial: world.clone(),
            world,
            egress_semantics: self.egress_semantics,
            checkpoint_interval: self.checkpoint_interval,
            last_periodic: None,
            last_checkpoint: None,
            committed: BTreeMap::new(),
            ingress_log: Vec::new(),
            known_ttls: BTreeMap::new(),
            trace: Vec::new(),
            #[cfg(feature = "http")]
            client: http::Client::new(),
        })
    }
}

/// Where `function_type` is served: its exact type's endpoint, else its
/// namespace's.
fn route_in<'a>(
    exact: &'a BTreeMap<String, Route>,
    namespaces: &'a BTreeMap<String, Route>,
    function_type: &TypeName,
) -> Option<&'a Route> {
    exact
        .get(function_type.as_str())
        .or_else(|| namespaces.get(function_type.namespace()))
}

/// The miniature runtime; see the [crate documentation](crate).
pub struct Harness {
    seed: u64,
    rng: Rng,
    fault_rng: Rng,
    shape_rng: Rng,
    batching: Batching,
    faults: Faults,
    plan: schedule::Plan,
    restarts_left: u32,
    /// In-flight requests waiting out a backoff.
    waiting_retries: usize,
    now: Duration,
    parallelism: u32,
    max_parallelism: u32,
    exact: BTreeMap<String, Route>,
    namespaces: BTreeMap<String, Route>,
    egresses: BTreeMap<String, EgressKind>,
    max_steps: u64,
    world: World,
    /// The world at the start, restored by a crash before any checkpoint.
    initial: World,
    egress_semantics: EgressSemantics,
    checkpoint_interval: Option<Duration>,
    last_periodic: Option<Duration>,
    last_checkpoint: Option<checkpoint::Checkpoint>,
    /// Records per egress covered by the last checkpoint.
    committed: BTreeMap<String, usize>,
    /// Ingress sent since the last checkpoint, replayed by a crash.
    ingress_log: Vec<Envelope>,
    /// Every TTL ever registered, by (function type, state): kept across
    /// crashes, for inspection.
    known_ttls: BTreeMap<(String, String), store::Ttl>,
    /// Everything that happened, in order (not part of the world: a
    /// checkpoint does not hold it, a crash does not undo it).
    trace: Vec<TraceEntry>,
    #[cfg(feature = "http")]
    client: http::Client,
}

impl fmt::Debug for Harness {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Harness")
            .field("seed", &self.seed)
            .field("now", &self.now)
            .field("partitions", &self.parallelism)
            .field("counters", &self.world.counters)
            .finish_non_exhaustive()
    }
}

/// A test that panics while holding a harness prints the seed, so the
/// failing schedule can be replayed with `.seed(...)`, and writes the trace
/// as a Mermaid diagram and JSON lines (see [`Harness::write_trace`]).
impl Drop for Harness {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let written = self.write_trace().map_or_else(
                |e| format!("(could not write the trace: {e})"),
                |p| p.display().to_string(),
            );
            #[allow(clippy::print_stderr)] // the one output of a failing test
            {
                eprintln!(
                    "statefun-harness: this run used seed {}; rebuild with `.seed({})` to replay it. Trace: {written} (and .jsonl)",
                    self.seed, self.seed
                );
            }
        }
    }
}

impl Harness {
    /// Starts configuring a harness.
    pub fn builder() -> HarnessBuilder {
        HarnessBuilder {
            seed: 0,
            partitions: 1,
            max_parallelism: None,
            exact: BTreeMap::new(),
            namespaces: BTreeMap::new(),
            egresses: BTreeMap::new(),
            max_batch_requests: 1000,
            max_steps: 1_000_000,
            egress_semantics: EgressSemantics::default(),
            checkpoint_interval: None,
            call_timeout: Duration::from_secs(120),
            batching: Batching::Natural,
            faults: Faults::none(),
            plan: schedule::Plan::default(),
            restarts: 0,
            errors: Vec::new(),
        }
    }

    pub(crate) fn endpoint_for(&self, function_type: &TypeName) -> Option<&Route> {
        route_in(&self.exact, &self.namespaces, function_type)
    }

    /// The seed.
    #[must_use]
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// Virtual time since the harness started.
    #[must_use]
    pub fn now(&self) -> Duration {
        self.now
    }

    /// Sends a message from the ingress (no caller) to `to`.
    ///
    /// # Errors
    ///
    /// When the value does not encode.
    pub fn send(&mut self, to: Address, value: impl IntoTypedBytes) -> Result<(), ValueError> {
        let (type_name, bytes) = value.into_typed_bytes()?.into_parts();
        let partition = self.partition_of(&to);
        self.record(Event::Ingress {
            to: to.clone(),
            type_name: type_name.as_str().to_owned(),
            partition,
        });
        let envelope = Envelope {
            from: None,
            to,
            type_name: type_name.as_str().to_owned(),
            value: Some(bytes),
        };
        self.ingress_log.push(envelope.clone());
        self.world.ingress[partition as usize].push_back(envelope);
        Ok(())
    }

    /// Runs until nothing is left to do: every message delivered, every
    /// request answered, every due timer fired. The virtual clock moves
    /// only to wait out retry backoffs (firing the timers and periodic
    /// checkpoints that fall due meanwhile) and restarts.
    ///
    /// # Errors
    ///
    /// A [`JobFailure`] (when no restart is left, see
    /// [`HarnessBuilder::restart_on_failure`]), including a livelock when
    /// the step limit is reached.
    pub async fn run(&mut self) -> Result<Counters, JobFailure> {
        self.reserve_trace();
        let limit = self.world.counters.steps.saturating_add(self.max_steps);
        loop {
            match self.step().await {
                Ok(true) => {
                    if self.world.counters.steps >= limit {
                        return Err(JobFailure::new(
                            self.seed,
                            None,
                            None,
                            Cause::Livelock(self.max_steps),
                        ));
                    }
                }
                Ok(false) => {
                    if !self.wait_for_retry() {
                        return Ok(self.world.counters);
                    }
                }
                Err(failure) => self.restart(failure)?,
            }
        }
    }

    /// Makes room in the trace for the events the queued messages will
    /// make, so that a run grows it once, rather than doubling it (and
    /// copying every event so far) again and again. At most
    /// [`trace::MAX_RESERVED_EVENTS`] at a time: a million queued messages
    /// run for ten steps must not reserve a gigabyte.
    fn reserve_trace(&mut self) {
        let queued: usize = (self.world.ingress.iter())
            .chain(&self.world.local)
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
        let Some(retry) = self
            .world
            .in_flight
            .values()
            .filter_map(|r| r.retry_at)
            .min()
        else {
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
    /// left.
    fn restart(&mut self, failure: JobFailure) -> Result<(), JobFailure> {
        if self.restarts_left == 0 || matches!(failure.cause(), Cause::Livelock(_)) {
            return Err(failure);
        }
        self.restarts_left -= 1;
        self.record(Event::JobFailed {
            reason: failure.to_string(),
        });
        self.now = self.now.saturating_add(Duration::from_secs(1));
        self.crash();
        Ok(())
    }

    /// Moves the virtual clock forward by `by`, running everything that
    /// falls due on the way, in time order (delayed messages fire at their
    /// time, ties in the order they were sent), then runs until idle.
    ///
    /// # Errors
    ///
    /// As [`Harness::run`].
    pub async fn advance(&mut self, by: Duration) -> Result<Counters, JobFailure> {
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

    /// Reads a state value of `address`, as the next request would send it
    /// (`None` when absent or expired).
    ///
    /// # Errors
    ///
    /// When the stored value has another type or does not decode.
    pub fn state<T: Value>(
        &self,
        address: &Address,
        spec: &ValueSpec<T>,
    ) -> Result<Option<T>, ValueError> {
        match self.state_raw(address, spec.name()) {
            None => Ok(None),
            Some((type_name, bytes)) => {
                let expected = T::type_name();
                if type_name != expected.as_str() {
                    return Err(ValueError::TypeMismatch {
                        expected,
                        actual: type_name,
                    });
                }
                T::from_bytes(&bytes).map(Some)
            }
        }
    }

    /// Reads a state value as its typename and bytes.
    #[must_use]
    pub fn state_raw(&self, address: &Address, name: &str) -> Option<(String, Bytes)> {
        let value = self.world.store.values.get(address)?.get(name)?;
        // The registry is empty after a crash until the handshake; the TTL
        // last registered still decides what inspection shows.
        let function_type = address.function_type().as_str();
        let ttl = match self.world.store.ttl_of(function_type, name) {
            store::Ttl::Never => self
                .known_ttls
                .get(&(function_type.to_owned(), name.to_owned()))
                .copied()
                .unwrap_or(store::Ttl::Never),
            ttl => ttl,
        };
        (!store::Store::expired(value, ttl, self.now))
            .then(|| (value.type_name.to_string(), value.bytes.clone()))
    }

    /// Seeds a state value before (or between) runs, as if the function had
    /// written it now.
    ///
    /// # Errors
    ///
    /// When the value does not encode.
    pub fn set_state<T: Value>(
        &mut self,
        address: &Address,
        spec: &ValueSpec<T>,
        value: &T,
    ) -> Result<(), ValueError> {
        let bytes = value.to_bytes()?;
        let stored = Stored {
            type_name: T::type_name().as_str().into(),
            bytes,
            written: self.now,
            accessed: self.now,
        };
        let name = store::Name::from(spec.name());
        if self.last_checkpoint.is_none() {
            // Seeded state is part of the start a crash goes back to.
            self.initial
                .store
                .values
                .insert(address, &name, stored.clone());
        }
        self.world.store.values.insert(address, &name, stored);
        Ok(())
    }

    /// The records an egress received, in order: with exactly-once
    /// semantics, those committed by a completed checkpoint.
    #[must_use]
    pub fn egress(&self, id: &EgressIdentifier) -> &[EgressRecord] {
        self.visible_egress(id.type_name().as_str())
    }

    fn visible_egress(&self, key: &str) -> &[EgressRecord] {
        let records = self.world.egress.get(key).map_or(&[][..], Vec::as_slice);
        match self.egress_semantics {
            EgressSemantics::AtLeastOnce => records,
            // Only what a completed checkpoint committed.
            EgressSemantics::ExactlyOnce => {
                let committed = self.committed.get(key).copied().unwrap_or(0);
                &records[..committed.min(records.len())]
            }
        }
    }

    /// The records a Kafka egress received, decoded.
    ///
    /// # Errors
    ///
    /// When a record is not a `KafkaProducerRecord`.
    pub fn kafka_records(
        &self,
        id: &EgressIdentifier,
    ) -> Result<Vec<KafkaRecord>, prost::DecodeError> {
        self.egress(id).iter().map(EgressRecord::kafka).collect()
    }

    /// The records a Kinesis egress received, decoded.
    ///
    /// # Errors
    ///
    /// When a record is not a `KinesisEgressRecord`.
    pub fn kinesis_records(
        &self,
        id: &EgressIdentifier,
    ) -> Result<Vec<KinesisRecord>, prost::DecodeError> {
        self.egress(id).iter().map(EgressRecord::kinesis).collect()
    }

    /// What was counted so far.
    #[must_use]
    pub fn counters(&self) -> Counters {
        self.world.counters
    }

    /// Messages waiting at addresses with a request in flight.
    #[must_use]
    pub fn backlog(&self) -> usize {
        self.world.addresses.values().map(|s| s.backlog.len()).sum()
    }

    /// Addresses whose backlog reached `maxNumBatchRequests`.
    #[must_use]
    pub fn blocked_addresses(&self) -> usize {
        self.world.blocked.iter().sum()
    }

    /// Delayed messages not yet fired.
    #[must_use]
    pub fn pending_timers(&self) -> usize {
        self.world.timers.len()
    }

    /// Everything that happened, in order.
    #[must_use]
    pub fn trace(&self) -> &[TraceEntry] {
        &self.trace
    }

    /// The trace as text, one event a line.
    #[must_use]
    pub fn trace_text(&self) -> String {
        let mut text = String::new();
        for entry in &self.trace {
            text.push_str(&entry.to_string());
            text.push('\n');
        }
        text
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// A run reserves trace room for its queued messages, but never more
    /// than a bounded amount at once, however many are queued.
    #[test]
    fn the_trace_reservation_is_bounded() {
        let mut h = Harness::builder().build().unwrap();
        let to = Address::new(TypeName::from_static("bench/counter"), "a");
        for i in 0..20_000_i64 {
            h.send(to.clone(), &i).unwrap();
        }
        let before = h.trace.len();
        h.reserve_trace();
        let room = h.trace.capacity() - before;
        assert!(room >= trace::MAX_RESERVED_EVENTS, "{room}");
        // `Vec` may round up, but not to the 120,000 events asked for.
        assert!(room < 20_000 * trace::EVENTS_PER_MESSAGE, "{room}");
    }
}
