//! What the scheduler is told besides the seed: how backlogs are cut into
//! batches ([`Batching`]) and where crashes and checkpoints are planned
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

/// Crashes and checkpoints planned at step counts: before the step with
/// that number (counted from 0 over the harness's life) runs.
#[derive(Debug, Clone, Default)]
pub(crate) struct Plan {
    pub(crate) crashes: BTreeSet<u64>,
    pub(crate) checkpoints: BTreeSet<u64>,
}
