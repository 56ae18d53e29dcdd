//! Driving a harness from outside, as a long-lived runtime does
//! (`statefun-local`): a bounded number of steps at a time, a clock moved by
//! the caller, and committed egress and trace events taken out as they
//! come, so memory stays flat however long it runs.

use std::time::Duration;

use bytes::Bytes;
use prost::Message as _;
use statefun_sdk::{Address, EgressIdentifier};

use crate::trace::TraceEntry;
use crate::{EgressRecord, Harness, JobFailure, KafkaRecord, KinesisRecord};

/// What [`Harness::run_steps`] left behind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Progress {
    /// The step budget ran out with work left to do now.
    Busy,
    /// Nothing to do at the current time. `wake_up` is the earliest time
    /// something falls due (a delayed message, or a retry after its
    /// backoff), if anything is scheduled.
    Idle {
        /// When to move the clock to and run again.
        wake_up: Option<Duration>,
    },
}

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
        for _ in 0..max_steps {
            match self.step().await {
                Ok(true) => {}
                Ok(false) => {
                    return Ok(Progress::Idle {
                        wake_up: self.next_wake_up(),
                    });
                }
                Err(failure) => {
                    self.restart(failure)?;
                    // The job resumes after the restart delay: the caller
                    // waits for its clock to get there.
                    return Ok(Progress::Idle {
                        wake_up: Some(self.now),
                    });
                }
            }
        }
        Ok(Progress::Busy)
    }

    /// The earliest time a request waiting out a backoff is retried.
    #[must_use]
    pub fn next_retry(&self) -> Option<Duration> {
        self.world
            .in_flight
            .values()
            .filter_map(|r| r.retry_at)
            .min()
    }

    /// The earliest time a delayed message or a retry falls due.
    #[must_use]
    pub fn next_wake_up(&self) -> Option<Duration> {
        let retry = self
            .world
            .in_flight
            .values()
            .filter_map(|r| r.retry_at)
            .min();
        [retry, self.world.timers.next_due()]
            .into_iter()
            .flatten()
            .min()
    }

    /// Moves the virtual clock to `at` (never back) without running
    /// anything: the next steps fire what fell due, oldest first.
    pub fn move_clock_to(&mut self, at: Duration) {
        self.now = self.now.max(at);
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
        let mut taken = Vec::new();
        let keys: Vec<String> = self.world.egress.keys().cloned().collect();
        for key in keys {
            // Only declared egresses take records, and they are named by an
            // `EgressIdentifier`.
            let Some(id) = key
                .parse::<statefun_sdk::TypeName>()
                .ok()
                .and_then(|t| EgressIdentifier::new(t).ok())
            else {
                continue;
            };
            let visible = self.visible_egress(&key).len();
            let Some(records) = self.world.egress.get_mut(&key) else {
                continue;
            };
            let out: Vec<EgressRecord> = records.drain(..visible).collect();
            if let Some(committed) = self.committed.get_mut(&key) {
                *committed = committed.saturating_sub(visible);
            }
            if let Some(checkpoint) = &mut self.last_checkpoint {
                // What a checkpoint holds of an egress is what it
                // committed: all of it has been taken now.
                if checkpoint
                    .world
                    .egress
                    .get(&key)
                    .is_some_and(|kept| !kept.is_empty())
                    && visible > 0
                {
                    let world = std::sync::Arc::make_mut(&mut checkpoint.world);
                    if let Some(kept) = world.egress.get_mut(&key) {
                        kept.drain(..visible.min(kept.len()));
                    }
                }
            }
            if !out.is_empty() {
                taken.push((id, out));
            }
        }
        taken
    }

    /// Takes the trace recorded so far out of the harness (for a long run,
    /// which would otherwise keep every event).
    pub fn take_trace(&mut self) -> Vec<TraceEntry> {
        std::mem::take(&mut self.trace)
    }

    /// Every state value of `address` that has not expired, by name: its
    /// typename and bytes.
    #[must_use]
    pub fn states(&self, address: &Address) -> Vec<(String, String, Bytes)> {
        let Some(values) = self.world.store.values.get(address) else {
            return Vec::new();
        };
        values
            .keys()
            .filter_map(|name| {
                let (type_name, bytes) = self.state_raw(address, name)?;
                Some((name.to_string(), type_name, bytes))
            })
            .collect()
    }

    /// The addresses that hold state values, in order.
    pub fn addresses_with_state(&self) -> impl Iterator<Item = &Address> {
        self.world
            .store
            .values
            .iter()
            .filter(|(_, values)| !values.is_empty())
            .map(|(address, _)| address)
    }
}

impl EgressRecord {
    /// The record as a `KafkaProducerRecord`.
    ///
    /// # Errors
    ///
    /// When it is not one.
    pub fn kafka(&self) -> Result<KafkaRecord, prost::DecodeError> {
        let record = statefun_proto::egress::KafkaProducerRecord::decode(self.value.clone())?;
        Ok(KafkaRecord {
            topic: record.topic,
            key: (!record.key.is_empty()).then_some(record.key),
            value: record.value_bytes,
        })
    }

    /// The record as a `KinesisEgressRecord`.
    ///
    /// # Errors
    ///
    /// When it is not one.
    pub fn kinesis(&self) -> Result<KinesisRecord, prost::DecodeError> {
        let record = statefun_proto::egress::KinesisEgressRecord::decode(self.value.clone())?;
        Ok(KinesisRecord {
            stream: record.stream,
            partition_key: record.partition_key,
            explicit_hash_key: (!record.explicit_hash_key.is_empty())
                .then_some(record.explicit_hash_key),
            value: record.value_bytes,
        })
    }
}
