//! [`JobFailure`]: what would fail the real StateFun job.

use std::time::Duration;

use stateful_functions::Address;

/// Something the real runtime answers by failing (and restarting) the job.
/// Carries the seed, so the run can be reproduced, and the address and
/// batch where known.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "job failed (seed {}){}: {}{}",
    self.0.seed,
    context(self.0.address.as_ref(), self.0.batch_size),
    self.0.cause,
    attempts(self.0.attempts, self.0.not_retried_by)
)]
pub struct JobFailure(Box<Details>);

#[derive(Debug, Clone, PartialEq, Eq)]
struct Details {
    seed: u64,
    address: Option<Address>,
    batch_size: Option<usize>,
    cause: Cause,
    attempts: Option<u32>,
    /// The transport that does not retry the last attempt's failure.
    not_retried_by: Option<&'static str>,
}

impl JobFailure {
    pub(crate) fn new(
        seed: u64,
        address: Option<Address>,
        batch_size: Option<usize>,
        cause: Cause,
    ) -> Self {
        Self(Box::new(Details {
            seed,
            address,
            batch_size,
            cause,
            attempts: None,
            not_retried_by: None,
        }))
    }

    /// The same failure, after `attempts` failed call attempts.
    pub(crate) fn after_attempts(mut self, attempts: u32) -> Self {
        self.0.attempts = Some(attempts);
        self
    }

    /// The same failure, which `transport` does not retry.
    pub(crate) fn not_retried_by(mut self, transport: &'static str) -> Self {
        self.0.not_retried_by = Some(transport);
        self
    }

    /// How many call attempts failed before the call budget ran out (or
    /// before one failed in a way the transport does not retry), for a
    /// failure of a call.
    #[must_use]
    pub fn attempts(&self) -> Option<u32> {
        self.0.attempts
    }

    /// The harness seed: build a harness with it to reproduce the run.
    #[must_use]
    pub fn seed(&self) -> u64 {
        self.0.seed
    }

    /// The address whose request or response failed, if any.
    #[must_use]
    pub fn address(&self) -> Option<&Address> {
        self.0.address.as_ref()
    }

    /// Invocations in the failing batch, if any.
    #[must_use]
    pub fn batch_size(&self) -> Option<usize> {
        self.0.batch_size
    }

    /// What happened.
    #[must_use]
    pub fn cause(&self) -> &Cause {
        &self.0.cause
    }
}

fn attempts(attempts: Option<u32>, not_retried_by: Option<&str>) -> String {
    match (attempts, not_retried_by) {
        (Some(1), None) => " (1 attempt)".to_owned(),
        (Some(n), None) => format!(" ({n} attempts, the call budget is spent)"),
        (Some(1), Some(t)) => format!(" (1 attempt; {t} does not retry this)"),
        (Some(n), Some(t)) => format!(" ({n} attempts; {t} does not retry the last one)"),
        (None, _) => String::new(),
    }
}

fn context(address: Option<&Address>, batch_size: Option<usize>) -> String {
    match (address, batch_size) {
        (Some(a), Some(n)) => format!(" at {a} (batch of {n})"),
        (Some(a), None) => format!(" at {a}"),
        _ => String::new(),
    }
}

/// Why the job failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Cause {
    /// No endpoint serves the function type ("Cannot find a provider").
    #[error("no endpoint serves function type {0}")]
    UnknownFunctionType(String),
    /// The function answered with an error (HTTP 5xx or a handler error);
    /// the runtime retries it until its call budget runs out, then fails.
    #[error("the function failed: {0}")]
    FunctionFailed(String),
    /// The response is not a valid `FromFunction`.
    #[error("malformed response: {0}")]
    MalformedResponse(String),
    /// A handshake registered a state name with another type than before.
    #[error("state {state:?} was registered with type {previous}, and now with type {new}")]
    StateTypeChanged {
        /// The state.
        state: String,
        /// The registered type.
        previous: String,
        /// The type in the new spec.
        new: String,
    },
    /// A state typename that is not of the form `namespace/name`, in a
    /// handshake or a MODIFY: the runtime's `TypeName.parseFrom` refuses it
    /// (`reqreply/PersistedRemoteFunctionValues.java`).
    #[error(
        "state {state:?}: Invalid type name string: {type_name}. Must be of format <namespace>/<name>."
    )]
    InvalidTypeName {
        /// The state.
        state: String,
        /// The typename as written.
        type_name: String,
    },
    /// A handshake registering a state that expires (after write or after
    /// invoke) after zero or fewer milliseconds: Flink's `StateTtlConfig`
    /// refuses it.
    #[error("state {state:?} expires after {millis} ms: TTL is expected to be positive.")]
    NonPositiveTtl {
        /// The state.
        state: String,
        /// The expiration as written.
        millis: i64,
    },
    /// A mutation for a state the function never registered.
    #[error("mutation of state {0:?}, which is not registered")]
    UnregisteredState(String),
    /// A MODIFY whose typename is not the registered one.
    #[error(
        "state {state:?} is registered with type {registered}, but was written with type {written}"
    )]
    ModifyTypeMismatch {
        /// The state.
        state: String,
        /// The registered type.
        registered: String,
        /// The typename of the written value.
        written: String,
    },
    /// A mutation type the runtime does not know.
    #[error("unknown mutation type {0}")]
    UnknownMutationType(i32),
    /// A record for an egress that is not declared.
    #[error("egress {0} is not declared")]
    UnknownEgress(String),
    /// A Kafka or Kinesis egress received a value of another type: its
    /// serializer fails the job (the io bundle's
    /// `GenericKafkaEgressSerializer.java`,
    /// `GenericKinesisEgressSerializer.java`), in its words.
    #[error(
        "egress {egress}: The generic {} egress expects only messages of type {} (received {actual:?})",
        egress_kind(expected),
        record_class(expected)
    )]
    EgressTypeMismatch {
        /// The egress.
        egress: String,
        /// The accepted typename.
        expected: String,
        /// The received typename.
        actual: String,
    },
    /// A Kafka or Kinesis egress received a value of its type whose bytes
    /// are not a record of that type: its serializer fails the job (the io
    /// bundle's `GenericKafkaEgressSerializer.java`,
    /// `GenericKinesisEgressSerializer.java`), in its words.
    #[error(
        "egress {egress}: Unable to unpack message as a {}: {reason}",
        record_class(type_name)
    )]
    MalformedEgressRecord {
        /// The egress.
        egress: String,
        /// The record's typename (the one the egress accepts).
        type_name: String,
        /// Why the bytes do not decode.
        reason: String,
    },
    /// A delayed message with a negative delay.
    #[error("delayed message with a negative delay of {0} ms")]
    NegativeDelay(i64),
    /// A cancellation token still pending for the same id.
    #[error("cancellation token {token:?} is already pending for id {id:?}")]
    DuplicateToken {
        /// The sender id.
        id: String,
        /// The token.
        token: String,
    },
    /// A cancellation request without a token.
    #[error("cancellation request with an empty token")]
    EmptyCancellationToken,
    /// A message to an address whose type is not a valid type name.
    #[error("message to an invalid address {0}")]
    InvalidAddress(String),
    /// The run did not become idle within the step limit.
    #[error("not idle after {0} steps: a livelock (functions keep messaging each other)")]
    Livelock(u64),
    /// An invariant did not hold at a point at rest (see
    /// [`HarnessBuilder::invariant`](crate::HarnessBuilder::invariant)):
    /// not something the runtime checks, so the job is not restarted.
    #[error("{0}")]
    Invariant(InvariantViolation),
    /// Calling a remote endpoint failed.
    #[error("calling {url} failed: {reason}")]
    Transport {
        /// The URL.
        url: String,
        /// What went wrong.
        reason: String,
    },
}

/// The Java class the runtime names for a generic egress's record type
/// (`type.googleapis.com/io.statefun.sdk.egress.KafkaProducerRecord`).
fn record_class(type_name: &str) -> String {
    let short = type_name.rsplit('.').next().unwrap_or(type_name);
    format!("org.apache.flink.statefun.sdk.egress.generated.{short}")
}

/// "Kafka" or "Kinesis", from the record type a generic egress accepts.
fn egress_kind(type_name: &str) -> &'static str {
    if type_name.ends_with("KafkaProducerRecord") {
        "Kafka"
    } else {
        "Kinesis"
    }
}

/// An invariant that did not hold: its name and message, and the point of
/// the run where it failed (the step count and the virtual time), which
/// the same seed and schedule reach again.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "invariant {name:?} does not hold at step {step} ({} ms of virtual time): {message}",
    at.as_millis()
)]
#[non_exhaustive]
pub struct InvariantViolation {
    /// The invariant's name.
    pub name: String,
    /// What its check said.
    pub message: String,
    /// Steps taken before the point it was checked at (see
    /// [`Counters::steps`](crate::Counters::steps)).
    pub step: u64,
    /// The virtual time then.
    pub at: Duration,
}
