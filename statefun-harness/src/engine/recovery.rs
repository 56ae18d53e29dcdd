//! Recovery (spec §3.10): completing a checkpoint, crashing back to the
//! last one (or to the start), and restoring one taken elsewhere.

use std::time::Duration;

use stateful_functions::{Address, EgressIdentifier};

use super::Engine;
use super::checkpoint::Checkpoint;
use super::world::World;
use crate::egress::EgressSemantics;
use crate::envelope::Envelope;
use crate::trace::Event;

impl Engine {
    /// Completes a checkpoint now. With exactly-once egress, the records
    /// written so far become visible.
    pub(crate) fn checkpoint(&mut self) -> u64 {
        let id = self.last_checkpoint.as_ref().map_or(0, Checkpoint::id) + 1;
        let world = self.world.snapshot();
        self.committed = self
            .world
            .egress
            .iter()
            .map(|(k, v)| (k.clone(), v.len()))
            .collect();
        self.ingress_log.clear();
        self.last_checkpoint = Some(Checkpoint::new(
            id,
            self.now,
            world,
            self.known_ttls.clone(),
            Some(self.max_parallelism),
        ));
        self.record(Event::Checkpoint { id });
        id
    }

    /// The last completed checkpoint, if any.
    pub(crate) fn last_checkpoint(&self) -> Option<&Checkpoint> {
        self.last_checkpoint.as_ref()
    }

    /// Crashes the job and restarts it from the last checkpoint (or from
    /// the start): state, backlogs, timers and pending messages as they were
    /// then; the registry empty, so every function type goes through the
    /// state handshake again; the ingress sent since replayed; every request
    /// that was in flight at the checkpoint sent again (so invocations are
    /// at least once). The virtual clock does not go back.
    pub(crate) fn crash(&mut self) {
        let (checkpoint, mut world) = match &self.last_checkpoint {
            Some(c) => (c.id(), World::clone(c.world())),
            None => (0, self.initial.clone()),
        };
        let replay: Vec<Envelope> = self.ingress_log.clone();
        // Records already written stay written, for each egress with
        // at-least-once semantics; the others go back to the checkpoint.
        let mut written = std::mem::take(&mut self.world.egress);
        let at_least_once: Vec<EgressIdentifier> = world
            .egress
            .keys()
            .chain(written.keys())
            .filter(|id| self.config.semantics_of(id) == EgressSemantics::AtLeastOnce)
            .cloned()
            .collect();
        for id in at_least_once {
            match written.remove(&id) {
                Some(records) => world.egress.insert(id, records),
                None => world.egress.remove(&id),
            };
        }
        self.install(checkpoint, world, replay);
    }

    /// Starts the job from `checkpoint` (taken by this harness or another,
    /// perhaps with another partition count, and perhaps read from bytes),
    /// as Flink starts a job from a savepoint: its max parallelism (when it
    /// keeps one), state, queues, timers and committed egress (which is what [`Harness::egress`](crate::Harness::egress) shows
    /// next), the registry empty, its in-flight requests sent again.
    /// Ingress sent before this call is not replayed; later crashes go back
    /// to this checkpoint until the next one completes.
    pub(crate) fn restore(&mut self, checkpoint: &Checkpoint) {
        // The key groups are the checkpoint's, as Flink restores a
        // savepoint with its max parallelism (`KeyGroupRangeAssignment`):
        // ids keep their key groups on any partition count.
        if let Some(max_parallelism) = checkpoint.max_parallelism() {
            self.max_parallelism = max_parallelism;
        }
        self.now = self.now.max(checkpoint.taken_at());
        self.last_checkpoint = Some(checkpoint.clone());
        self.known_ttls.extend(checkpoint.ttls().clone());
        self.committed = checkpoint
            .world()
            .egress
            .iter()
            .map(|(k, v)| (k.clone(), v.len()))
            .collect();
        self.ingress_log.clear();
        // The egress shows what the checkpoint committed, whatever this
        // harness wrote before.
        self.install(
            checkpoint.id(),
            World::clone(checkpoint.world()),
            Vec::new(),
        );
    }

    /// Replaces the running world with `world`: queues routed to this
    /// harness's partitions, backlogs re-counted, `replay` appended to the
    /// ingress, in-flight requests sent again; the egress is `world`'s.
    fn install(&mut self, checkpoint: u64, mut world: World, replay: Vec<Envelope>) {
        // The attempts on the network are the old world's: stopped, and
        // their requests sent again below (those the checkpoint holds).
        #[cfg(feature = "http")]
        self.network.drop_all();
        self.ready.clear();
        self.parked = 0;
        world.counters = self.world.counters;
        world.counters.restarts += 1;
        let partitions = self.config.partitions as usize;
        let local = std::mem::replace(&mut world.local, vec![Default::default(); partitions]);
        let feedback = std::mem::replace(&mut world.feedback, vec![Default::default(); partitions]);
        let ingress = std::mem::replace(&mut world.ingress, vec![Default::default(); partitions]);
        world.blocked = vec![Default::default(); partitions];
        // Counted again as the requests in flight are sent again below.
        world.pending = vec![0; partitions];
        // Empty registries, and every type's next request on a partition
        // its first there (blocking it), as after any restart.
        self.world = world.with_partitions(partitions);
        // Messages on their way go where `route` puts them on this
        // harness's partitions (an old checkpoint keeps them all in one
        // queue).
        for envelope in local
            .into_iter()
            .flatten()
            .chain(feedback.into_iter().flatten())
        {
            self.route(envelope);
        }
        let replayed = replay.len();
        for envelope in ingress.into_iter().flatten().chain(replay) {
            let p = self.partition_of(&envelope.to) as usize;
            self.world.ingress[p].push_back(envelope);
        }
        // The blocked addresses: those whose backlog is at or over the
        // limit (the last append to each blocked it). The runtime's valve
        // is not in a checkpoint: it starts empty, and such an address
        // blocks again at its next append; the harness blocks it at once.
        let full: Vec<(usize, Address)> = self
            .world
            .addresses
            .iter()
            .filter(|(a, s)| {
                let limit = self.max_batch_requests(a);
                limit > 0 && s.backlog.len() >= limit
            })
            .map(|(a, _)| (self.index(a), a.clone()))
            .collect();
        for (p, address) in full {
            self.world.blocked[p].insert(address);
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
        // A backlog with nothing in flight (a checkpoint taken after a
        // failure dropped its request) goes out as the next batch.
        let stranded: Vec<Address> = self
            .world
            .addresses
            .iter()
            .filter(|(_, s)| s.in_flight.is_none() && !s.backlog.is_empty())
            .map(|(a, _)| a.clone())
            .collect();
        for address in &stranded {
            self.next_batch(address);
        }
        self.record(Event::Restored {
            checkpoint,
            resent,
            replayed,
        });
    }

    /// Takes a checkpoint at every multiple of the configured interval
    /// that `advance` passes.
    pub(super) fn next_checkpoint_at(&self) -> Option<Duration> {
        let interval = self.config.checkpoint_interval?;
        let done = self.last_periodic.unwrap_or(Duration::ZERO);
        Some(done.saturating_add(interval))
    }
}
