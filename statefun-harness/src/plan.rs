//! What the scheduler is told besides the seed: how backlogs are cut into
//! batches ([`Batching`]), when the outcomes of remote calls are taken
//! ([`CallOrder`]) and where crashes and checkpoints are planned
//! ([`Plan`]).

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

/// How messages that wait at an address are cut into batches.
///
/// The runtime sends an address's whole backlog as the next batch, so the
/// batches it forms depend on timing. Each shape here is one the runtime
/// can produce; a function whose results change with the shape has a bug
/// that timing will expose in production.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Batching {
    /// Whatever the seeded schedule produces (the default).
    #[default]
    Natural,
    /// Every request carries one invocation: as if each message arrived
    /// after the previous answer.
    Singleton,
    /// Messages are delivered before any request proceeds, so backlogs
    /// grow as long as they can.
    Maximal,
    /// Each batch takes a seeded random prefix of the backlog.
    RandomCuts,
}

impl Batching {
    /// Every shape, the default first.
    pub const ALL: [Self; 4] = [
        Self::Natural,
        Self::Singleton,
        Self::Maximal,
        Self::RandomCuts,
    ];
}

impl fmt::Display for Batching {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Natural => "natural",
            Self::Singleton => "singleton",
            Self::Maximal => "maximal",
            Self::RandomCuts => "random-cuts",
        })
    }
}

impl FromStr for Batching {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|b| b.to_string() == s)
            .ok_or_else(|| {
                format!(
                    "unknown batching {s:?} (expected natural, singleton, maximal or random-cuts)"
                )
            })
    }
}

/// When the scheduler takes the outcome of a call to a remote (HTTP)
/// endpoint.
///
/// Whatever the order, a remote call starts on the network as soon as its
/// request is sent, in the background, as the runtime's asynchronous
/// operations do (`functions/AsyncSink.java`), so calls to different
/// addresses overlap in wall-clock time; one request is in flight per
/// address, with the messages that arrive meanwhile batched behind it
/// (`reqreply/RequestReplyFunction.java`). The orders differ in when the
/// outcome (an answer, or a failed attempt) enters the run. In-process
/// endpoints, and every endpoint while [`Faults`](crate::Faults) are
/// injected, are called at the step that takes the call, as before.
///
/// ```
/// use statefun_harness::{CallOrder, Harness};
///
/// // statefun-local on its virtual clock: deterministic for a seed, and
/// // the calls of a round overlap.
/// let harness = Harness::builder().call_order(CallOrder::Rounds).build()?;
/// # let _ = harness;
/// # Ok::<(), statefun_harness::ConfigError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum CallOrder {
    /// The seed's scheduler picks each call's step among all the possible
    /// actions, and the step waits for that call's outcome (which may have
    /// arrived already): a trace is the same as if each call were made at
    /// its step, so a seed replays exactly. The default.
    ///
    /// That holds while calls end within their budget: a call's timeout
    /// counts from when its request went on the network, including any
    /// wait for one of the endpoint's pooled connections (as Netty counts
    /// acquiring a connection), so a slow function with more calls in
    /// flight than [`EndpointOptions::pool_size`](crate::EndpointOptions::pool_size)
    /// connections, or steps that keep a `current_thread` runtime busy
    /// for longer than the budget, can turn a call into a timeout that a
    /// run at another speed would not see; and a wait for a pooled
    /// connection longer than the endpoint's
    /// [connect timeout](crate::EndpointOptions::connect_timeout) fails an
    /// attempt (retried) that a faster run would not.
    #[default]
    Scheduled,
    /// Calls are taken in rounds: a call sent after the current round began
    /// waits until nothing else can be done, then every such call forms the
    /// next round, whose calls the seed's scheduler takes in its order
    /// among the other actions. Which calls a round holds does not depend
    /// on timing, so a run is deterministic for a seed whatever the
    /// network's timing, and a round takes about as long as its slowest
    /// call. What `statefun-local --clock virtual` uses.
    Rounds,
    /// Each call's outcome is taken once it arrives, in arrival order among
    /// the seed's other choices, as the runtime applies answers: not
    /// deterministic. While only calls on the network are left,
    /// [`Harness::run_steps`](crate::Harness::run_steps) returns idle and
    /// [`Harness::wait_for_answer`](crate::Harness::wait_for_answer) waits
    /// for the next outcome; [`Harness::run`](crate::Harness::run) waits by
    /// itself. What `statefun-local --clock real` uses.
    Arrival,
}

impl CallOrder {
    /// Whether a call started in the background waits to be released
    /// (by its round, or by its arrival) before a step may take it.
    pub(crate) fn parks(self) -> bool {
        self != Self::Scheduled
    }
}

/// Crashes and checkpoints planned at step counts: before the step with
/// that number (counted from 0 over the harness's life) runs.
#[derive(Debug, Clone, Default)]
pub(crate) struct Plan {
    pub(crate) crashes: BTreeSet<u64>,
    pub(crate) checkpoints: BTreeSet<u64>,
}
