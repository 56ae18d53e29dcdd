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
//! use stateful_functions::{function, Context, FunctionError, FunctionType, Functions, State};
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
//! // A typed address: sending it anything but an `i64` does not compile.
//! let kim = Counter::address("Kim");
//! harness.send(&kim, &2_i64)?;
//! harness.send(&kim, &3_i64)?;
//! harness.run().await?;
//! assert_eq!(harness.state(kim.as_address(), &CounterState::COUNT)?, Some(5));
//! # let _ = CounterState { count: 0 };
//! # Ok(())
//! # }
//! ```
#![cfg_attr(docsrs, feature(doc_cfg))]
#![doc(test(attr(deny(warnings))))]

mod clock;
mod config;
mod egress;
mod endpoint;
mod engine;
mod envelope;
mod error;
mod explore;
mod export;
mod faults;
#[cfg(feature = "http")]
mod http;
mod invariant;
mod live;
mod outcome;
mod placement;
mod plan;
mod rng;
mod schedule;
mod store;
mod trace;
mod transport;

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use stateful_functions::module_yaml::FunctionPattern;
use stateful_functions::{
    Address, Destination, EgressIdentifier, Functions, IntoTypedBytes, RequestReplyHandler,
    TypeName, Value, ValueError, ValueSpec,
};

pub use config::ConfigError;
pub use egress::{EgressRecord, EgressSemantics};
pub use endpoint::{Endpoint, EndpointOptions, RawEndpoint, Transport};
pub use engine::Counters;
pub use engine::checkpoint::{Checkpoint, CheckpointError};
pub use error::{Cause, InvariantViolation, JobFailure};
pub use explore::{Explorer, Report, Violation};
pub use faults::Faults;
pub use invariant::View;
pub use live::Progress;
pub use outcome::Outcome;
pub use plan::{Batching, CallOrder};
pub use schedule::Schedule;
pub use trace::{Event, TraceEntry};

/// The SDK's records of the generic egresses, which
/// [`Harness::kafka_records`] and [`Harness::kinesis_records`] return:
/// the same types a function sends.
pub use stateful_functions::{KafkaRecord, KinesisRecord};

use config::Config;
use egress::EgressKind;
use engine::{Engine, RestCheck};
use invariant::Invariant;

/// Configures a [`Harness`]; see [`Harness::builder`].
#[derive(Debug)]
#[must_use]
pub struct HarnessBuilder {
    config: Config,
    /// Checked at every point at rest, in this order.
    invariants: Vec<Invariant>,
}

impl HarnessBuilder {
    /// The default of
    /// [`max_in_flight_per_partition`](HarnessBuilder::max_in_flight_per_partition):
    /// the runtime's default `statefun.async.max-per-task`, 32 × 1024.
    pub const DEFAULT_MAX_IN_FLIGHT: usize = 32 * 1024;

    /// How egress records become visible (default at least once), for
    /// every egress not declared with its own semantics (see
    /// [`HarnessBuilder::kafka_egress_with`]).
    pub fn egress_semantics(mut self, semantics: EgressSemantics) -> Self {
        self.config.egress_semantics = semantics;
        self
    }

    /// The runtime's `call` budget of every endpoint that sets none
    /// (default: its [`Transport`]'s, 2 minutes for Netty, 1 minute for
    /// OkHttp): a failed attempt is retried after the transport's backoff
    /// (Netty 4, 8, 16… ms; OkHttp 10, 20, 40… ms), on the virtual clock,
    /// until the budget is spent; then the job fails (spec §2.3). A remote attempt may take what is left of the budget (at
    /// least 10 ms) in wall-clock time; one that takes it all spends the
    /// budget, as the runtime's per-attempt timeout does.
    pub fn call_timeout(mut self, timeout: Duration) -> Self {
        self.config.call_timeout = Some(timeout);
        self
    }

    /// How backlogs are cut into batches (default [`Batching::Natural`]).
    pub fn batching(mut self, batching: Batching) -> Self {
        self.config.batching = batching;
        self
    }

    /// Faults to inject into calls (default none); they are drawn from the
    /// seed, so a seed still fixes the run.
    pub fn faults(mut self, faults: Faults) -> Self {
        self.config.faults = faults;
        self
    }

    /// Crashes the job (as [`Harness::crash`]) just before each of these
    /// steps, counted from 0 over the harness's life: a step delivers a
    /// message, attempts a call (the function runs), applies an answer, or
    /// fires timers, so these points cover "before a request is sent",
    /// "after it was sent" and "after the answer arrived, before it was
    /// applied".
    pub fn crash_before_steps(mut self, steps: impl IntoIterator<Item = u64>) -> Self {
        self.config.plan.crashes.extend(steps);
        self
    }

    /// Takes a checkpoint (as [`Harness::checkpoint`]) just before each of
    /// these steps.
    pub fn checkpoint_before_steps(mut self, steps: impl IntoIterator<Item = u64>) -> Self {
        self.config.plan.checkpoints.extend(steps);
        self
    }

    /// Restarts the job from its last checkpoint when it fails, as Flink's
    /// restart strategy does, at most `max` times (default 0: a failure is
    /// returned). Each restart takes 1 s of virtual time (Flink's default
    /// fixed delay). A livelock is never restarted.
    pub fn restart_on_failure(mut self, max: u32) -> Self {
        self.config.restarts = max;
        self
    }

    /// Takes a checkpoint every `interval` of virtual time that
    /// [`Harness::advance`] passes (none by default; take them explicitly
    /// with [`Harness::checkpoint`]).
    pub fn checkpoint_interval(mut self, interval: Duration) -> Self {
        self.config.checkpoint_interval = Some(interval);
        self
    }

    /// The seed that decides the schedule (default 0).
    pub fn seed(mut self, seed: u64) -> Self {
        self.config.seed = seed;
        self
    }

    /// How many parallel partitions (Flink subtasks) to simulate (default 1).
    pub fn partitions(mut self, partitions: u32) -> Self {
        if partitions == 0 {
            self.config
                .errors
                .push("partitions must be at least 1".into());
        }
        self.config.partitions = partitions.max(1);
        self
    }

    /// Flink's max parallelism, the number of key groups (default: Flink's
    /// rule for the partition count).
    pub fn max_parallelism(mut self, max_parallelism: u32) -> Self {
        self.config.max_parallelism = Some(max_parallelism);
        self
    }

    /// Serves every function of `functions` in process, through their
    /// request-reply handler.
    pub fn functions(mut self, functions: Functions) -> Self {
        let types: Vec<TypeName> = functions.type_names().cloned().collect();
        let endpoint = Endpoint::Handler(RequestReplyHandler::new(functions));
        for t in types {
            self.config
                .exact
                .insert(t, (endpoint.clone(), EndpointOptions::default()));
        }
        self
    }

    /// Serves the function types of `pattern` from `endpoint`: a
    /// [`FunctionPattern`] (as module.yaml's `spec.functions` reads), a
    /// [`TypeName`], or its text (`ns/name`, or `ns/*` for a whole
    /// namespace), which [`build`](HarnessBuilder::build) refuses when it
    /// is not a pattern. An exact type wins over a namespace, as in
    /// module.yaml.
    ///
    /// ```
    /// use statefun_harness::{Endpoint, Harness};
    /// use stateful_functions::module_yaml::FunctionPattern;
    ///
    /// let answer = || Endpoint::raw(|_request| Ok(bytes::Bytes::from_static(b"\xa2\x06\x00")));
    /// let harness = Harness::builder()
    ///     .endpoint("shop/*", answer())
    ///     .endpoint(FunctionPattern::Namespace("bank".to_owned()), answer())
    ///     .build()?;
    /// # let _ = harness;
    /// assert!(Harness::builder().endpoint("shop", answer()).build().is_err());
    /// # Ok::<(), statefun_harness::ConfigError>(())
    /// ```
    pub fn endpoint<P>(self, pattern: P, endpoint: Endpoint) -> Self
    where
        P: TryInto<FunctionPattern>,
        P::Error: fmt::Display,
    {
        self.endpoint_with(pattern, endpoint, EndpointOptions::default())
    }

    /// As [`HarnessBuilder::endpoint`], with the endpoint's own call budget
    /// and backlog limit.
    pub fn endpoint_with<P>(
        mut self,
        pattern: P,
        endpoint: Endpoint,
        options: EndpointOptions,
    ) -> Self
    where
        P: TryInto<FunctionPattern>,
        P::Error: fmt::Display,
    {
        match pattern.try_into() {
            Ok(FunctionPattern::Type(t)) => {
                self.config.exact.insert(t, (endpoint, options));
            }
            Ok(FunctionPattern::Namespace(ns)) => {
                self.config
                    .namespaces
                    .insert(ns.into(), (endpoint, options));
            }
            Err(e) => self.config.errors.push(format!("endpoint pattern: {e}")),
        }
        self
    }

    /// Serves function types matching `pattern` (as in
    /// [`HarnessBuilder::endpoint`]) from a remote endpoint, by its
    /// module.yaml `urlPathTemplate` (`{function.name}` is replaced).
    #[cfg(feature = "http")]
    #[cfg_attr(docsrs, doc(cfg(feature = "http")))]
    pub fn remote<P>(self, pattern: P, url_path_template: &str) -> Self
    where
        P: TryInto<FunctionPattern>,
        P::Error: fmt::Display,
    {
        self.endpoint(pattern, Endpoint::Http(url_path_template.to_owned()))
    }

    /// As [`HarnessBuilder::remote`], with the endpoint's own call budget
    /// and backlog limit (module.yaml `transport.call`,
    /// `maxNumBatchRequests`).
    #[cfg(feature = "http")]
    #[cfg_attr(docsrs, doc(cfg(feature = "http")))]
    pub fn remote_with<P>(
        self,
        pattern: P,
        url_path_template: &str,
        options: EndpointOptions,
    ) -> Self
    where
        P: TryInto<FunctionPattern>,
        P::Error: fmt::Display,
    {
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

    /// Declares an egress that accepts any typed value, whose records become
    /// visible as `semantics` says, whatever
    /// [`HarnessBuilder::egress_semantics`] says for the others.
    pub fn egress_with(self, id: &EgressIdentifier, semantics: EgressSemantics) -> Self {
        self.egress_kind(id, EgressKind::Generic)
            .egress_semantics_of(id, semantics)
    }

    /// Declares a generic Kafka egress (accepts only `KafkaProducerRecord`)
    /// with its own semantics, as module.yaml's `deliverySemantic` gives
    /// each Kafka egress its own: at least once (the runtime's default) or
    /// exactly once (a transactional producer).
    ///
    /// ```
    /// use statefun_harness::{EgressSemantics, Harness};
    /// use stateful_functions::EgressIdentifier;
    ///
    /// let harness = Harness::builder()
    ///     .kafka_egress_with(
    ///         &EgressIdentifier::from_static("shop/receipts"),
    ///         EgressSemantics::ExactlyOnce,
    ///     )
    ///     .kafka_egress(&EgressIdentifier::from_static("shop/log"))
    ///     .build();
    /// assert!(harness.is_ok());
    /// ```
    pub fn kafka_egress_with(self, id: &EgressIdentifier, semantics: EgressSemantics) -> Self {
        self.egress_kind(id, EgressKind::Kafka)
            .egress_semantics_of(id, semantics)
    }

    /// Declares a generic Kinesis egress (accepts only
    /// `KinesisEgressRecord`) with its own semantics.
    pub fn kinesis_egress_with(self, id: &EgressIdentifier, semantics: EgressSemantics) -> Self {
        self.egress_kind(id, EgressKind::Kinesis)
            .egress_semantics_of(id, semantics)
    }

    fn egress_semantics_of(mut self, id: &EgressIdentifier, semantics: EgressSemantics) -> Self {
        self.config
            .egress_semantics_of
            .insert(id.clone(), semantics);
        self
    }

    fn egress_kind(mut self, id: &EgressIdentifier, kind: EgressKind) -> Self {
        self.config.egresses.insert(id.clone(), kind);
        self
    }

    /// The endpoint's `maxNumBatchRequests` (default 1000; 0 disables): an
    /// address with this many waiting messages blocks its partition's
    /// input (ingress and messages from other partitions) until a request
    /// of it completes.
    pub fn max_batch_requests(mut self, max: usize) -> Self {
        self.config.max_batch_requests = max;
        self
    }

    /// The runtime's `statefun.async.max-per-task`: how many requests may
    /// be in flight on one partition before it stops taking input
    /// (ingress and messages from other partitions; messages its own
    /// functions send still go through). Default
    /// [`DEFAULT_MAX_IN_FLIGHT`](HarnessBuilder::DEFAULT_MAX_IN_FLIGHT),
    /// 32 × 1024; 0 disables the bound.
    ///
    /// ```
    /// use statefun_harness::Harness;
    ///
    /// // At most two requests in flight per partition.
    /// let harness = Harness::builder()
    ///     .max_in_flight_per_partition(2)
    ///     .build()
    ///     .unwrap();
    /// # drop(harness);
    /// ```
    pub fn max_in_flight_per_partition(mut self, max: usize) -> Self {
        self.config.max_in_flight = max;
        self
    }

    /// Checks `invariant` at every point at rest: whenever a step, a crash
    /// or a restore leaves nothing in flight (no message queued, no request
    /// in flight; delayed messages may be pending, see
    /// [`View::is_at_rest`]), such as the end of every [`Harness::run`].
    /// The first that does not hold fails the run: [`Harness::run`],
    /// [`Harness::advance`] and [`Harness::step`] return a [`JobFailure`]
    /// whose cause is [`Cause::Invariant`], naming the invariant, its
    /// message, the step and the virtual time, and the job is not
    /// restarted. The [`Explorer`] checks them in every schedule it
    /// explores (see [`Explorer::invariant`]).
    ///
    /// An invariant reads the harness through a [`View`] and returns `Err`
    /// with a message when it does not hold. What is on its way in a
    /// message is in no state, so an invariant checked between any two
    /// steps would see money leave one account before it reaches the
    /// other; at rest, nothing is on its way.
    ///
    /// ```
    /// use statefun_harness::{Cause, Harness, View};
    /// use stateful_functions::{function, Address, Context, FunctionError, FunctionType, Functions, State, Value};
    ///
    /// #[derive(serde::Serialize, serde::Deserialize, Value)]
    /// #[statefun(typename = "example/Deposit")]
    /// struct Deposit {
    ///     amount: i64,
    /// }
    ///
    /// #[derive(State)]
    /// struct Account {
    ///     balance: i64,
    /// }
    ///
    /// #[derive(Default)]
    /// struct Bank;
    ///
    /// #[function(typename = "example/account", state = Account, auto_register = false)]
    /// impl Bank {
    ///     /// Moves `amount` to account "b". A bug: only half of it arrives.
    ///     #[handler]
    ///     async fn transfer(&self, ctx: &mut Context, amount: i64) -> Result<(), FunctionError> {
    ///         let balance = ctx.storage().get(&Account::BALANCE)?.unwrap_or(0);
    ///         ctx.storage().set(&Account::BALANCE, &(balance - amount))?;
    ///         ctx.send(account("b"), &Deposit { amount: amount / 2 })?;
    ///         Ok(())
    ///     }
    ///
    ///     #[handler]
    ///     async fn deposit(&self, ctx: &mut Context, deposit: Deposit) -> Result<(), FunctionError> {
    ///         let balance = ctx.storage().get(&Account::BALANCE)?.unwrap_or(0);
    ///         ctx.storage().set(&Account::BALANCE, &(balance + deposit.amount))?;
    ///         Ok(())
    ///     }
    /// }
    ///
    /// fn account(id: &str) -> Address {
    ///     Address::new(Bank::TYPE_NAME, id)
    /// }
    ///
    /// /// The money in both accounts.
    /// fn total(view: &View<'_>) -> Result<i64, Box<dyn std::error::Error>> {
    ///     let mut total = 0;
    ///     for id in ["a", "b"] {
    ///         total += view.state(&account(id), &Account::BALANCE)?.unwrap_or(0);
    ///     }
    ///     Ok(total)
    /// }
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let mut h = Harness::builder()
    ///     .functions(Functions::new().with(Bank.spec()?)?)
    ///     .invariant("money is conserved", |view: &View<'_>| match total(view) {
    ///         Ok(100) => Ok(()),
    ///         Ok(total) => Err(format!("the accounts hold {total}, not 100")),
    ///         Err(e) => Err(e.to_string()),
    ///     })
    ///     .build()?;
    /// h.set_state(&account("a"), &Account::BALANCE, &100)?;
    /// h.send(account("a"), &10_i64)?;
    /// let failure = h.run().await.unwrap_err();
    /// let Cause::Invariant(violation) = failure.cause() else { panic!("{failure}") };
    /// assert_eq!(violation.name, "money is conserved");
    /// assert_eq!(violation.message, "the accounts hold 95, not 100");
    /// // Checked at rest: not while the deposit was on its way.
    /// assert_eq!(h.state(&account("b"), &Account::BALANCE)?, Some(5));
    /// # let _ = Account { balance: 0 };
    /// # Ok(())
    /// # }
    /// ```
    pub fn invariant<E: fmt::Display>(
        mut self,
        name: &str,
        invariant: impl Fn(&View<'_>) -> Result<(), E> + Send + Sync + 'static,
    ) -> Self {
        self.invariants.push(Invariant::new(name, invariant));
        self
    }

    /// Adds an invariant an explorer shares between its harnesses.
    pub(crate) fn with_invariant(mut self, invariant: Invariant) -> Self {
        self.invariants.push(invariant);
        self
    }

    /// When the outcomes of calls to remote endpoints are taken (default
    /// [`CallOrder::Scheduled`]: traces as if each call were made at its
    /// step). Remote calls start on the network when their request is
    /// sent whatever the order, so calls to different addresses overlap.
    ///
    /// ```
    /// use statefun_harness::{CallOrder, Harness};
    ///
    /// let harness = Harness::builder().call_order(CallOrder::Arrival).build()?;
    /// # let _ = harness;
    /// # Ok::<(), statefun_harness::ConfigError>(())
    /// ```
    pub fn call_order(mut self, order: CallOrder) -> Self {
        self.config.call_order = order;
        self
    }

    /// How many steps [`Harness::run`] may take before it reports a
    /// livelock (default 1,000,000).
    pub fn max_steps(mut self, steps: u64) -> Self {
        self.config.max_steps = steps;
        self
    }

    /// Builds the harness.
    ///
    /// # Errors
    ///
    /// An invalid endpoint pattern or partition count.
    pub fn build(self) -> Result<Harness, ConfigError> {
        Ok(Harness {
            engine: Engine::new(
                self.config,
                (self.invariants.into_iter())
                    .map(|invariant| Arc::new(invariant) as Arc<dyn RestCheck>)
                    .collect(),
            )?,
        })
    }
}

/// The miniature runtime; see the [crate documentation](crate).
pub struct Harness {
    engine: Engine,
}

impl fmt::Debug for Harness {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Harness")
            .field("seed", &self.engine.seed())
            .field("now", &self.engine.now())
            .field("partitions", &self.engine.partitions())
            .field("counters", &self.engine.counters())
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
            let seed = self.seed();
            #[allow(clippy::print_stderr)] // the one output of a failing test
            {
                eprintln!(
                    "statefun-harness: this run used seed {seed}; rebuild with `.seed({seed})` to replay it. Trace: {written} (and .jsonl)"
                );
            }
        }
    }
}

/// Running.
impl Harness {
    /// Starts configuring a harness.
    pub fn builder() -> HarnessBuilder {
        HarnessBuilder {
            config: Config::default(),
            invariants: Vec::new(),
        }
    }

    /// The seed.
    #[must_use]
    pub fn seed(&self) -> u64 {
        self.engine.seed()
    }

    /// Virtual time since the harness started.
    #[must_use]
    pub fn now(&self) -> Duration {
        self.engine.now()
    }

    /// The partition that owns `address` (by its id only, as Flink does).
    #[must_use]
    pub fn partition_of(&self, address: &Address) -> u32 {
        self.engine.partition_of(address)
    }

    /// Sends a message from the ingress (no caller) to `to`: a
    /// [`TypedAddress`](stateful_functions::TypedAddress) such as
    /// `Counter::address("Kim")`, which takes only a message its function
    /// handles (anything else is a compile error), or an [`Address`], which
    /// takes any payload; by value or by reference, as
    /// [`Context::send`](stateful_functions::Context::send).
    ///
    /// # Errors
    ///
    /// When the value does not encode.
    pub fn send<P: IntoTypedBytes>(
        &mut self,
        to: impl Destination<P>,
        value: P,
    ) -> Result<(), ValueError> {
        let (type_name, bytes) = value.into_typed_bytes()?.into_parts();
        self.engine
            .send(to.into_address(), type_name.as_str(), bytes);
        Ok(())
    }

    /// Sends bytes typed `type_name` from the ingress (no caller) to `to`,
    /// the typename taken as it is: an ingress topic's `valueType`, which
    /// the runtime passes on verbatim (`RoutableKafkaIngressSpec.java`
    /// reads it with `textValue()`, never as a `TypeName`), even without a
    /// `/`.
    ///
    /// ```
    /// use statefun_harness::Harness;
    /// use stateful_functions::{Address, TypeName};
    ///
    /// let mut harness = Harness::builder().build()?;
    /// let to = Address::new(TypeName::from_static("shop/cart"), "kim");
    /// harness.send_bytes(to, "PlainText", bytes::Bytes::from_static(b"hi"));
    /// # Ok::<(), statefun_harness::ConfigError>(())
    /// ```
    pub fn send_bytes(&mut self, to: Address, type_name: &str, bytes: Bytes) {
        self.engine.send(to, type_name, bytes);
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
        self.engine.run().await
    }

    /// Takes one step: delivers one message, completes one request, or
    /// fires the timers that are due; which one is the seed's choice.
    /// Returns `false` when there is nothing to do (idle).
    ///
    /// # Errors
    ///
    /// A [`JobFailure`] when the step does something that would fail the
    /// real job.
    pub async fn step(&mut self) -> Result<bool, JobFailure> {
        self.engine.step().await
    }

    /// Moves the virtual clock forward by `by`, running everything that
    /// falls due on the way, in time order (delayed messages fire at their
    /// time, ties in the order they were sent), then runs until idle.
    ///
    /// # Errors
    ///
    /// As [`Harness::run`].
    pub async fn advance(&mut self, by: Duration) -> Result<Counters, JobFailure> {
        self.engine.advance(by).await
    }
}

/// Live driving (see `statefun-local`).
impl Harness {
    /// Takes at most `max_steps` steps at the current virtual time, without
    /// moving the clock (unlike [`Harness::run`], a retry backoff is not
    /// waited out here: it shows as the wake-up time). A failed job
    /// restarts as configured by
    /// [`HarnessBuilder::restart_on_failure`](crate::HarnessBuilder::restart_on_failure),
    /// after Flink's restart delay: the call then returns at once, idle
    /// with the wake-up at the time the job resumes, and the caller waits
    /// until its own clock gets there before running again.
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use statefun_harness::{Harness, Progress};
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let mut harness = Harness::builder().build()?;
    /// // A real-time loop: run a slice of work, then sleep until the wake-up
    /// // (or until input arrives) and move the clock to the wall clock.
    /// match harness.run_steps(10_000).await? {
    ///     Progress::Busy => { /* take input, then run again */ }
    ///     Progress::Idle { wake_up } => {
    ///         let now = wake_up.unwrap_or(harness.now() + Duration::from_secs(1));
    ///         harness.move_clock_to(now);
    ///     }
    ///     _ => {}
    /// }
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// A [`JobFailure`] when no restart is left.
    pub async fn run_steps(&mut self, max_steps: u64) -> Result<Progress, JobFailure> {
        live::run_steps(&mut self.engine, max_steps).await
    }

    /// The earliest time a request waiting out a backoff is retried.
    #[must_use]
    pub fn next_retry(&self) -> Option<Duration> {
        self.engine.next_retry()
    }

    /// The earliest time a delayed message or a retry falls due.
    #[must_use]
    pub fn next_wake_up(&self) -> Option<Duration> {
        self.engine.next_wake_up()
    }

    /// Moves the virtual clock to `at` (never back) without running
    /// anything: the next steps fire what fell due, oldest first.
    pub fn move_clock_to(&mut self, at: Duration) {
        self.engine.move_clock_to(at);
    }

    /// Takes the egress records that completed checkpoints committed (with
    /// at-least-once semantics, every record written so far) out of the
    /// harness, per egress in order, so a long run does not keep them: a
    /// later crash, or a restore from the last checkpoint as it is now
    /// (serialized after this call), will not bring them back (a copy
    /// serialized before still holds them). [`Harness::egress`] then shows
    /// only what came after.
    ///
    /// ```
    /// # use statefun_harness::Harness;
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let mut harness = Harness::builder().build()?;
    /// harness.checkpoint();
    /// assert!(harness.take_committed_egress().is_empty());
    /// # Ok(())
    /// # }
    /// ```
    pub fn take_committed_egress(&mut self) -> Vec<(EgressIdentifier, Vec<EgressRecord>)> {
        live::take_committed_egress(&mut self.engine)
    }

    /// Attempts at remote calls on the network whose outcome has not
    /// arrived yet. With [`CallOrder::Arrival`], a driver whose
    /// [`run_steps`](Harness::run_steps) returns idle while some are on
    /// their way waits for them with [`wait_for_answer`](Harness::wait_for_answer).
    /// After a failed job restarts, the requests it sends again are not on
    /// the network until its restart delay is over: `run_steps` returns
    /// idle with a `wake_up` at that time, and the step taken there starts
    /// them.
    #[must_use]
    pub fn calls_in_flight(&self) -> usize {
        self.engine.calls_in_flight()
    }

    /// Waits until the outcome of a remote call arrives (at once when one
    /// arrived that no step has taken in yet); forever when none is on its
    /// way, so a driver waits for it alongside its other events. Cancel-safe.
    ///
    /// ```
    /// # use statefun_harness::{CallOrder, Harness, Progress};
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let mut harness = Harness::builder().call_order(CallOrder::Arrival).build()?;
    /// loop {
    ///     match harness.run_steps(256).await? {
    ///         Progress::Busy => continue,
    ///         _ if harness.calls_in_flight() > 0 => harness.wait_for_answer().await,
    ///         // A delayed message, a retry, or the end of a restart delay
    ///         // (on a real clock, sleep until then first).
    ///         Progress::Idle { wake_up: Some(at) } => harness.move_clock_to(at),
    ///         _ => break,
    ///     }
    /// }
    /// # Ok(())
    /// # }
    /// ```
    pub async fn wait_for_answer(&mut self) {
        self.engine.wait_for_answer().await;
    }

    /// Takes the trace recorded so far out of the harness (for a long run,
    /// which would otherwise keep every event).
    pub fn take_trace(&mut self) -> Vec<TraceEntry> {
        self.engine.take_trace()
    }
}

/// Checkpoints, crashes and restores.
impl Harness {
    /// Completes a checkpoint now. With exactly-once egress, the records
    /// written so far become visible.
    pub fn checkpoint(&mut self) -> u64 {
        self.engine.checkpoint()
    }

    /// The last completed checkpoint, if any.
    #[must_use]
    pub fn last_checkpoint(&self) -> Option<&Checkpoint> {
        self.engine.last_checkpoint()
    }

    /// Crashes the job and restarts it from the last checkpoint (or from
    /// the start): state, backlogs, timers and pending messages as they were
    /// then; the registry empty, so every function type goes through the
    /// state handshake again; the ingress sent since replayed; every request
    /// that was in flight at the checkpoint sent again (so invocations are
    /// at least once). The virtual clock does not go back.
    pub fn crash(&mut self) {
        self.engine.crash();
    }

    /// Starts the job from `checkpoint` (taken by this harness or another,
    /// perhaps with another partition count, and perhaps read from bytes),
    /// as Flink starts a job from a savepoint: its state, queues, timers
    /// and committed egress (which is what [`Harness::egress`] shows
    /// next), the registry empty, its in-flight requests sent again.
    /// Ingress sent before this call is not replayed; later crashes go back
    /// to this checkpoint until the next one completes.
    pub fn restore(&mut self, checkpoint: &Checkpoint) {
        self.engine.restore(checkpoint);
    }
}

/// Inspection.
impl Harness {
    /// Reads a state value of `address`, as the next request would send it
    /// (`None` when absent or expired).
    ///
    /// # Errors
    ///
    /// When the address's function type's states are known and `spec` is
    /// not one of them ([`ValueError::Undeclared`]): from its spec when it
    /// is served in process (before any call), from its first handshake
    /// when it is remote (before that, any name is read as stored). Or
    /// when the stored value has another type or does not decode.
    pub fn state<T: Value>(
        &self,
        address: &Address,
        spec: &ValueSpec<T>,
    ) -> Result<Option<T>, ValueError> {
        self.view().state(address, spec)
    }

    /// Reads a state value as its typename and bytes.
    #[must_use]
    pub fn state_raw(&self, address: &Address, name: &str) -> Option<(String, Bytes)> {
        self.engine.state_raw(address, name)
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
        (self.engine).set_state(address, spec.name(), T::type_name().as_str(), bytes);
        Ok(())
    }

    /// Every state value of `address` that has not expired, by name: its
    /// typename and bytes.
    #[must_use]
    pub fn states(&self, address: &Address) -> Vec<(String, String, Bytes)> {
        self.engine.states(address)
    }

    /// The addresses that hold state values, in order.
    pub fn addresses_with_state(&self) -> impl Iterator<Item = &Address> {
        self.engine.addresses_with_state()
    }

    /// The records an egress received, in order: with exactly-once
    /// semantics, those committed by a completed checkpoint.
    #[must_use]
    pub fn egress(&self, id: &EgressIdentifier) -> &[EgressRecord] {
        self.engine.visible_egress(id)
    }

    /// The records a Kafka egress received, decoded into the SDK's
    /// [`KafkaRecord`], the type the functions sent.
    ///
    /// # Errors
    ///
    /// When a record is not a `KafkaProducerRecord`.
    pub fn kafka_records(&self, id: &EgressIdentifier) -> Result<Vec<KafkaRecord>, ValueError> {
        self.egress(id).iter().map(EgressRecord::kafka).collect()
    }

    /// The records a Kinesis egress received, decoded into the SDK's
    /// [`KinesisRecord`], the type the functions sent.
    ///
    /// # Errors
    ///
    /// When a record is not a `KinesisEgressRecord`.
    pub fn kinesis_records(&self, id: &EgressIdentifier) -> Result<Vec<KinesisRecord>, ValueError> {
        self.egress(id).iter().map(EgressRecord::kinesis).collect()
    }

    /// What was counted so far.
    #[must_use]
    pub fn counters(&self) -> Counters {
        self.engine.counters()
    }

    /// Messages waiting at addresses with a request in flight.
    #[must_use]
    pub fn backlog(&self) -> usize {
        self.engine.backlog()
    }

    /// Addresses that block their partition's input: a message was
    /// appended to their backlog at or over `maxNumBatchRequests`, and no
    /// request of theirs (a handshake answer included) completed since.
    #[must_use]
    pub fn blocked_addresses(&self) -> usize {
        self.engine.blocked_addresses()
    }

    /// Ingress messages sent and not yet delivered to their address
    /// (held back while their partition is back-pressured). A driver that
    /// reads input as fast as it comes bounds its memory by taking no more
    /// while this is high, as a Kafka source reads no faster than its
    /// operator takes records.
    ///
    /// ```
    /// # use statefun_harness::Harness;
    /// # use stateful_functions::{Address, TypeName};
    /// let mut harness = Harness::builder().build()?;
    /// let to = Address::new(TypeName::from_static("shop/cart"), "kim");
    /// harness.send_bytes(to, "PlainText", bytes::Bytes::from_static(b"hi"));
    /// assert_eq!(harness.pending_ingress(), 1);
    /// # Ok::<(), statefun_harness::ConfigError>(())
    /// ```
    #[must_use]
    pub fn pending_ingress(&self) -> usize {
        self.engine.pending_ingress()
    }

    /// Delayed messages not yet fired.
    #[must_use]
    pub fn pending_timers(&self) -> usize {
        self.engine.pending_timers()
    }

    /// A read-only view of the harness as it is now: what an invariant
    /// reads (see [`HarnessBuilder::invariant`]), for helpers shared
    /// between invariants and tests.
    #[must_use]
    pub fn view(&self) -> View<'_> {
        View::new(&self.engine)
    }

    /// Whether nothing is in flight now (see [`View::is_at_rest`]).
    #[must_use]
    pub fn is_at_rest(&self) -> bool {
        self.engine.at_rest()
    }

    /// Runs the invariants added with [`HarnessBuilder::invariant`] now,
    /// at rest or not.
    ///
    /// ```
    /// # use statefun_harness::{Harness, View};
    /// let h = Harness::builder()
    ///     .invariant("no state", |view: &View<'_>| match view.addresses_with_state().count() {
    ///         0 => Ok(()),
    ///         n => Err(format!("{n} addresses hold state")),
    ///     })
    ///     .build()?;
    /// assert!(h.is_at_rest());
    /// h.check_invariants()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    ///
    /// The first that does not hold, in the order they were added.
    pub fn check_invariants(&self) -> Result<(), InvariantViolation> {
        self.engine.check_invariants()
    }

    /// The first invariant that did not hold at a point at rest.
    pub(crate) fn broken_invariant(&self) -> Option<&InvariantViolation> {
        self.engine.broken_invariant()
    }

    /// Every live state value and the egress records visible now (see
    /// [`Harness::egress`]), for comparing runs.
    ///
    /// ```
    /// # use statefun_harness::Harness;
    /// let harness = Harness::builder().build()?;
    /// assert_eq!(harness.outcome(), Harness::builder().seed(9).build()?.outcome());
    /// # Ok::<(), statefun_harness::ConfigError>(())
    /// ```
    #[must_use]
    pub fn outcome(&self) -> Outcome {
        Outcome::of(&self.engine)
    }
}

/// The trace.
impl Harness {
    /// Everything that happened, in order.
    #[must_use]
    pub fn trace(&self) -> &[TraceEntry] {
        self.engine.trace()
    }

    /// The trace as text, one event a line.
    #[must_use]
    pub fn trace_text(&self) -> String {
        let mut text = String::new();
        for entry in self.trace() {
            text.push_str(&entry.to_string());
            text.push('\n');
        }
        text
    }

    /// The trace as JSON lines: one object per event, with the virtual time
    /// in milliseconds.
    #[must_use]
    pub fn trace_json_lines(&self) -> String {
        export::json_lines(&self.engine)
    }

    /// The trace as a Mermaid sequence diagram: one participant per address
    /// (with its partition), messages as arrows, batches, state changes,
    /// timers, egress, checkpoints and crashes as notes. Paste it into any
    /// Mermaid viewer.
    #[must_use]
    pub fn trace_mermaid(&self) -> String {
        export::mermaid(&self.engine)
    }

    /// Writes the trace as `.mmd` and `.jsonl` files into
    /// `$STATEFUN_HARNESS_TRACE_DIR` (default: `statefun-harness` in the
    /// temporary directory) and returns the path of the diagram.
    ///
    /// # Errors
    ///
    /// When the files cannot be written.
    pub fn write_trace(&self) -> std::io::Result<PathBuf> {
        export::write(&self.engine)
    }
}
