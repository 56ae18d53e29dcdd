//! What a harness is built from: every setting of
//! [`HarnessBuilder`](crate::HarnessBuilder), gathered in one [`Config`]
//! that the builder hands to the engine whole.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::egress::{EgressKind, EgressSemantics};
use stateful_functions::{EgressIdentifier, TypeName};

use crate::endpoint::{Endpoint, EndpointOptions, Namespace, Routes};
use crate::faults::Faults;
use crate::placement;
use crate::plan::{Batching, CallOrder, Plan};

/// A configuration the harness refuses.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid harness configuration: {0}")]
pub struct ConfigError(String);

/// The settings of a harness, as the builder collects them.
#[derive(Debug)]
pub(crate) struct Config {
    pub(crate) seed: u64,
    pub(crate) partitions: u32,
    pub(crate) max_parallelism: Option<u32>,
    /// Endpoints by exact function type, and by namespace.
    pub(crate) exact: BTreeMap<TypeName, (Endpoint, EndpointOptions)>,
    pub(crate) namespaces: BTreeMap<Namespace, (Endpoint, EndpointOptions)>,
    /// What each declared egress accepts.
    pub(crate) egresses: BTreeMap<EgressIdentifier, EgressKind>,
    pub(crate) max_batch_requests: usize,
    /// Requests in flight per partition before it stops taking input
    /// (`statefun.async.max-per-task`; 0: no bound).
    pub(crate) max_in_flight: usize,
    pub(crate) max_steps: u64,
    pub(crate) egress_semantics: EgressSemantics,
    /// Egresses declared with their own semantics, which win over
    /// `egress_semantics`.
    pub(crate) egress_semantics_of: BTreeMap<EgressIdentifier, EgressSemantics>,
    pub(crate) checkpoint_interval: Option<Duration>,
    /// The harness-wide call budget; unset: each transport's default.
    pub(crate) call_timeout: Option<Duration>,
    pub(crate) batching: Batching,
    /// When the outcomes of remote calls are taken.
    pub(crate) call_order: CallOrder,
    pub(crate) faults: Faults,
    pub(crate) plan: Plan,
    /// Restarts allowed after a failed job.
    pub(crate) restarts: u32,
    /// What the builder already refused (reported by `build`).
    pub(crate) errors: Vec<String>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            seed: 0,
            partitions: 1,
            max_parallelism: None,
            exact: BTreeMap::new(),
            namespaces: BTreeMap::new(),
            egresses: BTreeMap::new(),
            max_batch_requests: 1000,
            max_in_flight: crate::HarnessBuilder::DEFAULT_MAX_IN_FLIGHT,
            max_steps: 1_000_000,
            egress_semantics: EgressSemantics::default(),
            egress_semantics_of: BTreeMap::new(),
            checkpoint_interval: None,
            call_timeout: None,
            batching: Batching::Natural,
            call_order: CallOrder::Scheduled,
            faults: Faults::none(),
            plan: Plan::default(),
            restarts: 0,
            errors: Vec::new(),
        }
    }
}

impl Config {
    /// How the records of egress `id` become visible: its own semantics
    /// when it was declared with them, else the harness's.
    pub(crate) fn semantics_of(&self, id: &EgressIdentifier) -> EgressSemantics {
        self.egress_semantics_of
            .get(id)
            .copied()
            .unwrap_or(self.egress_semantics)
    }

    /// Checks the settings and resolves them for the engine: Flink's max
    /// parallelism, and the endpoint tables (moved out of the config) with
    /// each endpoint's call budget and backlog limit.
    ///
    /// # Errors
    ///
    /// An invalid endpoint pattern, partition count, fault rate,
    /// checkpoint interval or max parallelism.
    pub(crate) fn resolve(&mut self) -> Result<(u32, Routes), ConfigError> {
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
        let routes = Routes::new(
            std::mem::take(&mut self.exact),
            std::mem::take(&mut self.namespaces),
            self.call_timeout,
            self.max_batch_requests,
        );
        Ok((max_parallelism, routes))
    }
}
