//! Checkpoints, crashes and restores (spec §3.10): what a checkpoint holds,
//! and what a restart does with it.

use std::time::Duration;

use crate::Harness;
use crate::engine::{Envelope, World};
use crate::trace::Event;

/// How egress records become visible.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum EgressSemantics {
    /// At least once (the runtime's default for Kafka): records are visible
    /// at once, and after a crash the replayed work writes them again.
    #[default]
    AtLeastOnce,
    /// Exactly once (a transactional Kafka sink): records become visible
    /// when the checkpoint that covers them completes; a crash discards the
    /// records written since the last checkpoint.
    ExactlyOnce,
}

/// A completed checkpoint: every state value, every address's backlog and
/// in-flight request, the delayed messages and their tokens, the messages
/// on their way, and the egress committed so far. The state registry is
/// not part of it, as in the runtime.
#[derive(Debug, Clone)]
pub(crate) struct Checkpoint {
    pub(crate) id: u64,
    pub(crate) world: World,
}

impl Harness {
    /// Completes a checkpoint now. With exactly-once egress, the records
    /// written so far become visible.
    pub fn checkpoint(&mut self) -> u64 {
        let id = self.last_checkpoint.as_ref().map_or(0, |c| c.id) + 1;
        let mut world = self.world.clone();
        world.trace = Vec::new();
        world.store.registry.clear();
        self.committed = self
            .world
            .egress
            .iter()
            .map(|(k, v)| (k.clone(), v.len()))
            .collect();
        self.ingress_log.clear();
        self.last_checkpoint = Some(Checkpoint { id, world });
        self.record(Event::Checkpoint { id });
        id
    }

    /// Crashes the job and restarts it from the last checkpoint (or from
    /// the start): state, backlogs, timers and pending messages as they were
    /// then; the registry empty, so every function type goes through the
    /// state handshake again; the ingress sent since replayed; every request
    /// that was in flight at the checkpoint sent again (so invocations are
    /// at least once). The virtual clock does not go back.
    pub fn crash(&mut self) {
        let (checkpoint, mut world) = match &self.last_checkpoint {
            Some(c) => (c.id, c.world.clone()),
            None => (0, self.initial.clone()),
        };
        world.trace = std::mem::take(&mut self.world.trace);
        world.counters = self.world.counters;
        world.counters.restarts += 1;
        if self.egress_semantics == EgressSemantics::AtLeastOnce {
            // Records already written stay written.
            world.egress = std::mem::take(&mut self.world.egress);
        }
        self.world = world;
        let replay: Vec<Envelope> = self.ingress_log.clone();
        let replayed = replay.len();
        for envelope in replay {
            let p = self.partition_of(&envelope.to) as usize;
            self.world.ingress[p].push_back(envelope);
        }
        self.waiting_retries = 0;
        let in_flight = std::mem::take(&mut self.world.in_flight);
        let resent = in_flight.len();
        for request in in_flight.into_values() {
            if let Some(state) = self.world.addresses.get_mut(&request.address) {
                state.in_flight = None;
            }
            self.send_request(&request.address, request.invocations);
        }
        self.record(Event::Restored {
            checkpoint,
            resent,
            replayed,
        });
    }

    /// Takes a checkpoint at every multiple of the configured interval
    /// that `advance` passes.
    pub(crate) fn next_checkpoint_at(&self) -> Option<Duration> {
        let interval = self.checkpoint_interval?;
        let done = self.last_periodic.unwrap_or(Duration::ZERO);
        Some(done + interval)
    }
}
