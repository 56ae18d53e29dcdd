//! Invariants: named checks over a read-only [`View`] of the harness,
//! evaluated at every point at rest (see [`View::is_at_rest`]), and the
//! [`InvariantViolation`](crate::InvariantViolation) the first one that
//! fails reports.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use stateful_functions::{
    Address, EgressIdentifier, KafkaRecord, KinesisRecord, Value, ValueError, ValueSpec,
};

use crate::egress::EgressRecord;
use crate::engine::{Engine, RestCheck};
use crate::outcome::Outcome;

/// The check an invariant runs: `Err` with a message when it does not
/// hold.
type Check = dyn Fn(&View<'_>) -> Result<(), String> + Send + Sync;

/// A named invariant, shared by every harness an explorer builds.
#[derive(Clone)]
pub(crate) struct Invariant {
    name: Arc<str>,
    check: Arc<Check>,
}

impl Invariant {
    pub(crate) fn new<E: fmt::Display>(
        name: &str,
        check: impl Fn(&View<'_>) -> Result<(), E> + Send + Sync + 'static,
    ) -> Self {
        Self {
            name: name.into(),
            check: Arc::new(move |view: &View<'_>| check(view).map_err(|e| e.to_string())),
        }
    }
}

impl RestCheck for Invariant {
    fn name(&self) -> &str {
        &self.name
    }

    fn check(&self, engine: &Engine) -> Result<(), String> {
        (self.check)(&View::new(engine))
    }
}

impl fmt::Debug for Invariant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Invariant").field(&self.name).finish()
    }
}

/// A read-only view of a harness, what an invariant looks at (see
/// [`HarnessBuilder::invariant`](crate::HarnessBuilder::invariant)); the
/// same reads as [`Harness`](crate::Harness)'s, which gives one with
/// [`Harness::view`](crate::Harness::view).
#[derive(Clone, Copy)]
pub struct View<'a> {
    engine: &'a Engine,
}

impl fmt::Debug for View<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("View")
            .field("seed", &self.seed())
            .field("now", &self.now())
            .field("steps", &self.steps())
            .finish_non_exhaustive()
    }
}

impl<'a> View<'a> {
    pub(crate) fn new(engine: &'a Engine) -> Self {
        Self { engine }
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

    /// Steps taken so far (see [`Counters::steps`](crate::Counters::steps)).
    #[must_use]
    pub fn steps(&self) -> u64 {
        self.engine.counters().steps
    }

    /// Whether the harness is **at rest**: nothing is in flight. No message
    /// waits on any partition (from the ingress, from the partition's own
    /// functions, or from another partition) and no request is in flight
    /// (being attempted, waiting out a retry's backoff, or answered and not
    /// yet applied), so no message waits in an address's backlog either,
    /// since a backlog waits for its address's request. Delayed messages
    /// that are not yet due may be pending: like state, they are what the
    /// job keeps between inputs, and a job can rest for hours with them.
    ///
    /// The harness checks its invariants at every point at rest that a
    /// step, a crash or a restore leads to: at the end of every
    /// [`run`](crate::Harness::run), between the delayed messages an
    /// [`advance`](crate::Harness::advance) fires at different times, and
    /// in the middle of a run when a crash restores a checkpoint taken at
    /// rest. Moving the clock alone (which may expire state) is not a new
    /// point; the next step is.
    #[must_use]
    pub fn is_at_rest(&self) -> bool {
        self.engine.at_rest()
    }

    /// Reads a state value of `address`, as the next request would send it
    /// (`None` when absent or expired); see
    /// [`Harness::state`](crate::Harness::state).
    ///
    /// # Errors
    ///
    /// When the address's function type's states are known (from its spec
    /// in process, else from its first handshake) and `spec` is not one of
    /// them ([`ValueError::Undeclared`]), or when the stored value has
    /// another type or does not decode.
    pub fn state<T: Value>(
        &self,
        address: &Address,
        spec: &ValueSpec<T>,
    ) -> Result<Option<T>, ValueError> {
        if let Some(declared) = self.engine.declared_states(address.function_type()) {
            if !declared.iter().any(|name| name == spec.name()) {
                return Err(ValueError::Undeclared {
                    function_type: address.function_type().clone(),
                    state: spec.name().to_owned(),
                    declared,
                });
            }
        }
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
        self.engine.state_raw(address, name)
    }

    /// Every state value of `address` that has not expired, by name: its
    /// typename and bytes.
    #[must_use]
    pub fn states(&self, address: &Address) -> Vec<(String, String, Bytes)> {
        self.engine.states(address)
    }

    /// The addresses that hold state values, in order.
    pub fn addresses_with_state(&self) -> impl Iterator<Item = &'a Address> + use<'a> {
        self.engine.addresses_with_state()
    }

    /// The records an egress received, in order: with exactly-once
    /// semantics, those committed by a completed checkpoint.
    #[must_use]
    pub fn egress(&self, id: &EgressIdentifier) -> &'a [EgressRecord] {
        self.engine.visible_egress(id)
    }

    /// The records a Kafka egress received, decoded.
    ///
    /// # Errors
    ///
    /// When a record is not a `KafkaProducerRecord`.
    pub fn kafka_records(&self, id: &EgressIdentifier) -> Result<Vec<KafkaRecord>, ValueError> {
        self.egress(id).iter().map(EgressRecord::kafka).collect()
    }

    /// The records a Kinesis egress received, decoded.
    ///
    /// # Errors
    ///
    /// When a record is not a `KinesisEgressRecord`.
    pub fn kinesis_records(&self, id: &EgressIdentifier) -> Result<Vec<KinesisRecord>, ValueError> {
        self.egress(id).iter().map(EgressRecord::kinesis).collect()
    }

    /// Delayed messages not yet fired.
    #[must_use]
    pub fn pending_timers(&self) -> usize {
        self.engine.pending_timers()
    }

    /// Every live state value and the egress records visible now.
    #[must_use]
    pub fn outcome(&self) -> Outcome {
        Outcome::of(self.engine)
    }
}
