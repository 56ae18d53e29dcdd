//! Checkpoints (spec §3.10): what a completed checkpoint holds, and what it
//! gives back to a restart. Its serialized form is `format`'s (the
//! hand-written protobuf primitives it uses, `wire`'s); taking one,
//! crashing and restoring are the engine's (`recovery`).

mod format;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use stateful_functions::{EgressIdentifier, TypeName};

use super::world::World;
use crate::store::{Name, Ttl};

/// A completed checkpoint: every state value, every address's backlog and
/// in-flight request, the delayed messages and their tokens, the messages
/// on their way, and the egress committed so far. The state registry is
/// not part of it, as in the runtime, so a restore goes through the state
/// handshake again.
///
/// A checkpoint serializes ([`Checkpoint::to_bytes`]), so a test can keep
/// one as a fixture and start from it with [`Harness::restore`](crate::Harness::restore), even with
/// another partition count (as Flink rescales from a savepoint).
///
/// ```
/// # use statefun_harness::{Checkpoint, Harness};
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let mut harness = Harness::builder().build()?;
/// harness.checkpoint();
/// let bytes = harness.last_checkpoint().expect("taken").to_bytes();
///
/// let mut fresh = Harness::builder().partitions(4).build()?;
/// fresh.restore(&Checkpoint::from_bytes(&bytes)?);
/// fresh.run().await?;
/// assert_eq!(fresh.last_checkpoint().map(Checkpoint::id), Some(1));
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct Checkpoint {
    id: u64,
    at: Duration,
    /// Shared: cloning a checkpoint, and restoring one, copies nothing
    /// until something is changed.
    world: Arc<World>,
    /// The expiration last registered per (function type, state): not the
    /// registry, only what inspecting a value after a restore needs.
    ttls: BTreeMap<(TypeName, Name), Ttl>,
    /// The max parallelism (key groups) it was taken with; `None` when
    /// read from a format that did not keep it (1 and 2).
    max_parallelism: Option<u32>,
}

/// A serialized checkpoint that cannot be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CheckpointError {
    /// The bytes are not a checkpoint.
    #[error("not a statefun-harness checkpoint: {0}")]
    Decode(#[from] prost::DecodeError),
    /// A checkpoint of another format version.
    #[error(
        "checkpoint format {found} is not supported (this harness reads formats 1 to {})",
        format::FORMAT
    )]
    Format {
        /// The format found.
        found: u32,
    },
    /// A field that does not make sense.
    #[error("invalid checkpoint: {0}")]
    Invalid(String),
}

impl Checkpoint {
    /// A checkpoint numbered `id`, taken at `at`, of `world` (the engine
    /// makes one with [`World::snapshot`]), the expirations last
    /// registered and the max parallelism of the job.
    pub(in crate::engine) fn new(
        id: u64,
        at: Duration,
        world: World,
        ttls: BTreeMap<(TypeName, Name), Ttl>,
        max_parallelism: Option<u32>,
    ) -> Self {
        Self {
            id,
            at,
            world: Arc::new(world),
            ttls,
            max_parallelism,
        }
    }

    /// The max parallelism (the number of key groups) of the job it was
    /// taken in, which a restore keeps, as Flink keeps a savepoint's: ids
    /// stay in their key groups whatever the new partition count. `None`
    /// for a checkpoint read from format 1 or 2, which did not keep it
    /// (restored with the restoring harness's own).
    #[must_use]
    pub fn max_parallelism(&self) -> Option<u32> {
        self.max_parallelism
    }

    /// Its number: 1 for the first checkpoint of a run, then counting up.
    #[must_use]
    pub fn id(&self) -> u64 {
        self.id
    }

    /// The virtual time it was taken at.
    #[must_use]
    pub fn taken_at(&self) -> Duration {
        self.at
    }

    /// The serialized checkpoint (a protobuf message of the harness's own,
    /// with a format version).
    #[must_use]
    pub fn to_bytes(&self) -> Bytes {
        format::write(self)
    }

    /// Reads a serialized checkpoint (of this format or an older one).
    ///
    /// # Errors
    ///
    /// When the bytes are not a checkpoint of a format this harness reads.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, CheckpointError> {
        format::read(bytes)
    }

    /// The world it holds (shared: cloning it copies the parts changed).
    pub(in crate::engine) fn world(&self) -> &World {
        &self.world
    }

    /// The expiration last registered per (function type, state).
    pub(in crate::engine) fn ttls(&self) -> &BTreeMap<(TypeName, Name), Ttl> {
        &self.ttls
    }

    /// The first `taken` records of egress `key` were taken out of the
    /// harness: a restore from this checkpoint does not bring them back.
    pub(in crate::engine) fn forget_egress(&mut self, key: &EgressIdentifier, taken: usize) {
        if taken > 0
            && self
                .world
                .egress
                .get(key)
                .is_some_and(|kept| !kept.is_empty())
        {
            let world = Arc::make_mut(&mut self.world);
            if let Some(kept) = world.egress.get_mut(key) {
                kept.drain(..taken.min(kept.len()));
            }
        }
    }
}
