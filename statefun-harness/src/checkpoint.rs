//! Checkpoints, crashes and restores (spec §3.10): what a checkpoint holds,
//! what a restart does with it, and its serialized form.

use std::collections::BTreeMap;
use std::time::Duration;

use bytes::Bytes;
use prost::Message as _;
use statefun_sdk::{Address, TypeName};

use crate::engine::{Envelope, InFlight, World};
use crate::store::{Stored, Ttl};
use crate::trace::Event;
use crate::{EgressRecord, Harness};

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
/// not part of it, as in the runtime, so a restore goes through the state
/// handshake again.
///
/// A checkpoint serializes ([`Checkpoint::to_bytes`]), so a test can keep
/// one as a fixture and start from it with [`Harness::restore`], even with
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
    pub(crate) world: World,
    /// The expiration last registered per (function type, state): not the
    /// registry, only what inspecting a value after a restore needs.
    ttls: BTreeMap<(String, String), Ttl>,
}

/// A serialized checkpoint that cannot be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CheckpointError {
    /// The bytes are not a checkpoint.
    #[error("not a statefun-harness checkpoint: {0}")]
    Decode(#[from] prost::DecodeError),
    /// A checkpoint of another format version.
    #[error("checkpoint format {found} is not supported (this harness reads format {FORMAT})")]
    Format {
        /// The format found.
        found: u32,
    },
    /// A field that does not make sense.
    #[error("invalid checkpoint: {0}")]
    Invalid(String),
}

/// The serialized format's version.
const FORMAT: u32 = 1;

impl Checkpoint {
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
        let w = &self.world;
        let envelopes = |queues: &[std::collections::VecDeque<Envelope>]| {
            queues.iter().flatten().map(wire_envelope).collect()
        };
        let checkpoint = wire::Checkpoint {
            format: FORMAT,
            id: self.id,
            at_nanos: nanos(self.at),
            local: envelopes(&w.local),
            ingress: envelopes(&w.ingress),
            backlogs: w
                .addresses
                .iter()
                .filter(|(_, s)| !s.backlog.is_empty())
                .map(|(a, s)| wire::Backlog {
                    address: Some(wire_address(a)),
                    messages: s.backlog.iter().map(wire_envelope).collect(),
                })
                .collect(),
            in_flight: w
                .in_flight
                .values()
                .map(|r| wire::Backlog {
                    address: Some(wire_address(&r.address)),
                    messages: r.invocations.iter().map(wire_envelope).collect(),
                })
                .collect(),
            values: w
                .store
                .values
                .iter()
                .flat_map(|(a, values)| {
                    values.iter().map(|(name, v)| wire::Value {
                        address: Some(wire_address(a)),
                        name: name.clone(),
                        type_name: v.type_name.clone(),
                        bytes: v.bytes.clone(),
                        written_nanos: nanos(v.written),
                        accessed_nanos: nanos(v.accessed),
                    })
                })
                .collect(),
            timers: w
                .timers
                .pending
                .iter()
                .map(|((at, _), (envelope, token))| wire::Timer {
                    at_nanos: nanos(*at),
                    message: Some(wire_envelope(envelope)),
                    token: token.clone(),
                })
                .collect(),
            egress: w
                .egress
                .iter()
                .map(|(id, records)| wire::Egress {
                    id: id.clone(),
                    records: records
                        .iter()
                        .map(|r| wire::Record {
                            type_name: r.type_name.clone(),
                            value: r.value.clone(),
                        })
                        .collect(),
                })
                .collect(),
            expirations: self
                .ttls
                .iter()
                .map(|((function_type, state), ttl)| {
                    let (mode, d) = match ttl {
                        Ttl::Never => (0, Duration::ZERO),
                        Ttl::AfterWrite(d) => (1, *d),
                        Ttl::AfterInvoke(d) => (2, *d),
                    };
                    wire::Expiration {
                        function_type: function_type.clone(),
                        state: state.clone(),
                        mode,
                        after_nanos: nanos(d),
                    }
                })
                .collect(),
        };
        Bytes::from(checkpoint.encode_to_vec())
    }

    /// Reads a serialized checkpoint.
    ///
    /// # Errors
    ///
    /// When the bytes are not a checkpoint of this format.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, CheckpointError> {
        let c = wire::Checkpoint::decode(bytes)?;
        if c.format != FORMAT {
            return Err(CheckpointError::Format { found: c.format });
        }
        // Queues go to one partition here; `Harness::restore` routes them
        // to the restoring harness's partitions.
        let mut world = World {
            local: vec![c.local.iter().map(envelope).collect::<Result<_, _>>()?],
            ingress: vec![c.ingress.iter().map(envelope).collect::<Result<_, _>>()?],
            ..World::default()
        };
        for backlog in &c.backlogs {
            let address = address(backlog.address.as_ref())?;
            let messages = backlog
                .messages
                .iter()
                .map(envelope)
                .collect::<Result<_, _>>()?;
            world.addresses.entry(address).or_default().backlog = messages;
        }
        for (id, request) in (0_u64..).zip(&c.in_flight) {
            let address = address(request.address.as_ref())?;
            let invocations = request
                .messages
                .iter()
                .map(envelope)
                .collect::<Result<_, _>>()?;
            let state = world.addresses.entry(address.clone()).or_default();
            if state.in_flight.replace(id).is_some() {
                return Err(CheckpointError::Invalid(format!(
                    "two requests in flight for {address}"
                )));
            }
            world.in_flight.insert(
                id,
                InFlight {
                    address,
                    invocations,
                    body: Bytes::new(),
                    started: Duration::ZERO,
                    attempts: 0,
                    retry_at: None,
                    response: None,
                },
            );
            world.next_request = id + 1;
        }
        for v in c.values {
            let address = address(v.address.as_ref())?;
            world.store.values.entry(address).or_default().insert(
                v.name,
                Stored {
                    type_name: v.type_name,
                    bytes: v.bytes,
                    written: Duration::from_nanos(v.written_nanos),
                    accessed: Duration::from_nanos(v.accessed_nanos),
                },
            );
        }
        for timer in &c.timers {
            let message = envelope(timer.message.as_ref().ok_or_else(|| {
                CheckpointError::Invalid("a delayed message without a message".into())
            })?)?;
            let at = Duration::from_nanos(timer.at_nanos);
            world
                .timers
                .schedule(at, message, timer.token.clone())
                .map_err(|()| {
                    CheckpointError::Invalid(format!(
                        "cancellation token {:?} is pending twice",
                        timer.token.as_deref().unwrap_or_default()
                    ))
                })?;
        }
        for egress in c.egress {
            let records = egress
                .records
                .into_iter()
                .map(|r| EgressRecord {
                    type_name: r.type_name,
                    value: r.value,
                })
                .collect();
            world.egress.insert(egress.id, records);
        }
        let mut ttls = BTreeMap::new();
        for e in c.expirations {
            let d = Duration::from_nanos(e.after_nanos);
            let ttl = match e.mode {
                0 => Ttl::Never,
                1 => Ttl::AfterWrite(d),
                2 => Ttl::AfterInvoke(d),
                other => {
                    return Err(CheckpointError::Invalid(format!(
                        "expiration mode {other} of state {:?}",
                        e.state
                    )));
                }
            };
            ttls.insert((e.function_type, e.state), ttl);
        }
        Ok(Self {
            id: c.id,
            at: Duration::from_nanos(c.at_nanos),
            world,
            ttls,
        })
    }
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

fn wire_address(a: &Address) -> wire::Address {
    wire::Address {
        function_type: a.function_type().as_str().to_owned(),
        id: a.id().to_owned(),
    }
}

fn wire_envelope(e: &Envelope) -> wire::Envelope {
    wire::Envelope {
        from: e.from.as_ref().map(wire_address),
        to: Some(wire_address(&e.to)),
        type_name: e.type_name.clone(),
        value: e.value.clone(),
    }
}

fn address(a: Option<&wire::Address>) -> Result<Address, CheckpointError> {
    let a = a.ok_or_else(|| CheckpointError::Invalid("an address is missing".into()))?;
    let function_type: TypeName = a.function_type.parse().map_err(|e| {
        CheckpointError::Invalid(format!("function type {:?}: {e}", a.function_type))
    })?;
    Ok(Address::new(function_type, a.id.clone()))
}

fn envelope(e: &wire::Envelope) -> Result<Envelope, CheckpointError> {
    Ok(Envelope {
        from: e.from.as_ref().map(|a| address(Some(a))).transpose()?,
        to: address(e.to.as_ref())?,
        type_name: e.type_name.clone(),
        value: e.value.clone(),
    })
}

/// The serialized form (field numbers are the format: only add fields).
mod wire {
    use bytes::Bytes;

    #[derive(Clone, PartialEq, prost::Message)]
    pub(super) struct Checkpoint {
        #[prost(uint32, tag = "1")]
        pub(super) format: u32,
        #[prost(uint64, tag = "2")]
        pub(super) id: u64,
        #[prost(uint64, tag = "3")]
        pub(super) at_nanos: u64,
        /// Messages on their way, in partition order.
        #[prost(message, repeated, tag = "4")]
        pub(super) local: Vec<Envelope>,
        /// Ingress not yet read, in partition order.
        #[prost(message, repeated, tag = "5")]
        pub(super) ingress: Vec<Envelope>,
        #[prost(message, repeated, tag = "6")]
        pub(super) backlogs: Vec<Backlog>,
        /// Requests in flight, in the order they were sent.
        #[prost(message, repeated, tag = "7")]
        pub(super) in_flight: Vec<Backlog>,
        #[prost(message, repeated, tag = "8")]
        pub(super) values: Vec<Value>,
        /// Delayed messages, in firing order.
        #[prost(message, repeated, tag = "9")]
        pub(super) timers: Vec<Timer>,
        #[prost(message, repeated, tag = "10")]
        pub(super) egress: Vec<Egress>,
        /// The expiration last registered per state (for inspection).
        #[prost(message, repeated, tag = "11")]
        pub(super) expirations: Vec<Expiration>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub(super) struct Expiration {
        #[prost(string, tag = "1")]
        pub(super) function_type: String,
        #[prost(string, tag = "2")]
        pub(super) state: String,
        /// 0 never, 1 after write, 2 after invoke.
        #[prost(uint32, tag = "3")]
        pub(super) mode: u32,
        #[prost(uint64, tag = "4")]
        pub(super) after_nanos: u64,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub(super) struct Address {
        #[prost(string, tag = "1")]
        pub(super) function_type: String,
        #[prost(string, tag = "2")]
        pub(super) id: String,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub(super) struct Envelope {
        #[prost(message, optional, tag = "1")]
        pub(super) from: Option<Address>,
        #[prost(message, optional, tag = "2")]
        pub(super) to: Option<Address>,
        #[prost(string, tag = "3")]
        pub(super) type_name: String,
        #[prost(bytes = "bytes", optional, tag = "4")]
        pub(super) value: Option<Bytes>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub(super) struct Backlog {
        #[prost(message, optional, tag = "1")]
        pub(super) address: Option<Address>,
        #[prost(message, repeated, tag = "2")]
        pub(super) messages: Vec<Envelope>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub(super) struct Value {
        #[prost(message, optional, tag = "1")]
        pub(super) address: Option<Address>,
        #[prost(string, tag = "2")]
        pub(super) name: String,
        #[prost(string, tag = "3")]
        pub(super) type_name: String,
        #[prost(bytes = "bytes", tag = "4")]
        pub(super) bytes: Bytes,
        #[prost(uint64, tag = "5")]
        pub(super) written_nanos: u64,
        #[prost(uint64, tag = "6")]
        pub(super) accessed_nanos: u64,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub(super) struct Timer {
        #[prost(uint64, tag = "1")]
        pub(super) at_nanos: u64,
        #[prost(message, optional, tag = "2")]
        pub(super) message: Option<Envelope>,
        #[prost(string, optional, tag = "3")]
        pub(super) token: Option<String>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub(super) struct Egress {
        #[prost(string, tag = "1")]
        pub(super) id: String,
        #[prost(message, repeated, tag = "2")]
        pub(super) records: Vec<Record>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub(super) struct Record {
        #[prost(string, tag = "1")]
        pub(super) type_name: String,
        #[prost(bytes = "bytes", tag = "2")]
        pub(super) value: Bytes,
    }
}

impl Harness {
    /// Completes a checkpoint now. With exactly-once egress, the records
    /// written so far become visible.
    pub fn checkpoint(&mut self) -> u64 {
        let id = self.last_checkpoint.as_ref().map_or(0, |c| c.id) + 1;
        let mut world = self.world.clone();
        world.trace = Vec::new();
        world.store.registry.clear();
        for request in world.in_flight.values_mut() {
            // An answer not yet applied is not part of the checkpoint: the
            // restore sends the request again.
            request.response = None;
        }
        self.committed = self
            .world
            .egress
            .iter()
            .map(|(k, v)| (k.clone(), v.len()))
            .collect();
        self.ingress_log.clear();
        self.last_checkpoint = Some(Checkpoint {
            id,
            at: self.now,
            world,
            ttls: self.known_ttls.clone(),
        });
        self.record(Event::Checkpoint { id });
        id
    }

    /// The last completed checkpoint, if any.
    #[must_use]
    pub fn last_checkpoint(&self) -> Option<&Checkpoint> {
        self.last_checkpoint.as_ref()
    }

    /// Crashes the job and restarts it from the last checkpoint (or from
    /// the start): state, backlogs, timers and pending messages as they were
    /// then; the registry empty, so every function type goes through the
    /// state handshake again; the ingress sent since replayed; every request
    /// that was in flight at the checkpoint sent again (so invocations are
    /// at least once). The virtual clock does not go back.
    pub fn crash(&mut self) {
        let (checkpoint, world) = match &self.last_checkpoint {
            Some(c) => (c.id, c.world.clone()),
            None => (0, self.initial.clone()),
        };
        let replay: Vec<Envelope> = self.ingress_log.clone();
        self.install(checkpoint, world, replay);
    }

    /// Starts the job from `checkpoint` (taken by this harness or another,
    /// perhaps with another partition count, and perhaps read from bytes),
    /// as Flink starts a job from a savepoint: its state, queues, timers
    /// and committed egress (which is what [`Harness::egress`] shows
    /// next), the registry empty, its in-flight requests sent again.
    /// Ingress sent before this call is not replayed; later crashes go back
    /// to this checkpoint until the next one completes.
    pub fn restore(&mut self, checkpoint: &Checkpoint) {
        self.now = self.now.max(checkpoint.at);
        self.last_checkpoint = Some(checkpoint.clone());
        self.known_ttls.extend(checkpoint.ttls.clone());
        self.committed = checkpoint
            .world
            .egress
            .iter()
            .map(|(k, v)| (k.clone(), v.len()))
            .collect();
        self.ingress_log.clear();
        // The egress shows what the checkpoint committed, whatever this
        // harness wrote before.
        self.world.egress.clone_from(&checkpoint.world.egress);
        self.install(checkpoint.id, checkpoint.world.clone(), Vec::new());
    }

    /// Replaces the running world with `world`: queues routed to this
    /// harness's partitions, backlogs re-counted, `replay` appended to the
    /// ingress, in-flight requests sent again.
    fn install(&mut self, checkpoint: u64, mut world: World, replay: Vec<Envelope>) {
        world.trace = std::mem::take(&mut self.world.trace);
        world.counters = self.world.counters;
        world.counters.restarts += 1;
        if self.egress_semantics == EgressSemantics::AtLeastOnce {
            // Records already written stay written.
            world.egress = std::mem::take(&mut self.world.egress);
        }
        let partitions = self.parallelism as usize;
        let local = std::mem::replace(&mut world.local, vec![Default::default(); partitions]);
        let ingress = std::mem::replace(&mut world.ingress, vec![Default::default(); partitions]);
        world.blocked = vec![0; partitions];
        self.world = world;
        for envelope in local.into_iter().flatten() {
            self.route(envelope);
        }
        let replayed = replay.len();
        for envelope in ingress.into_iter().flatten().chain(replay) {
            let p = self.partition_of(&envelope.to) as usize;
            self.world.ingress[p].push_back(envelope);
        }
        let full: Vec<usize> = self
            .world
            .addresses
            .iter()
            .filter(|(a, s)| {
                let limit = self.max_batch_requests(a);
                limit > 0 && s.backlog.len() >= limit
            })
            .map(|(a, _)| self.partition_of(a) as usize)
            .collect();
        for p in full {
            self.world.blocked[p] += 1;
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
    pub(crate) fn next_checkpoint_at(&self) -> Option<Duration> {
        let interval = self.checkpoint_interval?;
        let done = self.last_periodic.unwrap_or(Duration::ZERO);
        Some(done.saturating_add(interval))
    }
}
