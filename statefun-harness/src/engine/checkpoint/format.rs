//! The serialized form of a [`Checkpoint`]: a protobuf message of the
//! harness's own (`schema`, written and read by prost), with the state
//! values (field 13) written and read by hand, straight from and into the
//! store, with the primitives of the workspace's one wire codec
//! (`statefun_protocol::wire`).

use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

use bytes::Bytes;
use prost::Message as _;
use stateful_functions::{Address, EgressIdentifier, TypeName};

use super::{Checkpoint, CheckpointError};
use crate::egress::EgressRecord;
use crate::engine::world::{InFlight, World};
use crate::envelope::Envelope;
use crate::store::{AllValues, Name, Stored, Ttl, Values};
use statefun_protocol::wire::{
    DecodeError, LEN, Reader, VARINT, Writer, bytes_field_len, message_field_len, varint_field_len,
};

/// The serialized format's version: 3 adds the max parallelism (field
/// 14), which a restore keeps; 2 (still read) wrote the state values
/// grouped per address, with the names they repeat in one table; 1 (still
/// read) wrote every value with its whole address. Formats 1 and 2 read
/// as checkpoints without a max parallelism.
pub(super) const FORMAT: u32 = 3;

/// The serialized `checkpoint`.
pub(super) fn write(checkpoint: &Checkpoint) -> Bytes {
    let w = &*checkpoint.world;
    let envelopes =
        |queues: &[VecDeque<Envelope>]| queues.iter().flatten().map(wire_envelope).collect();
    // The state values, grouped per address, naming function types,
    // states and typenames by their index in one table: written by
    // hand (field 13, the last), straight from the store, in one pass
    // (a first pass to size them costs more than the buffer's growth),
    // into the buffer that becomes the checkpoint's bytes.
    let mut names = Interner::default();
    let mut states = Vec::new();
    for (address, values) in w.store.values.iter() {
        if !values.is_empty() {
            put_address_values(&mut states, &mut names, address, values);
        }
    }
    let checkpoint = schema::Checkpoint {
        format: FORMAT,
        id: checkpoint.id,
        at_nanos: nanos(checkpoint.at),
        // A partition's own messages, then those from other partitions:
        // both are on their way (a restore routes each again).
        local: (w.local.iter().zip(&w.feedback))
            .flat_map(|(own, other)| own.iter().chain(other))
            .map(wire_envelope)
            .collect(),
        ingress: envelopes(&w.ingress),
        backlogs: w
            .addresses
            .iter()
            .filter(|(_, s)| !s.backlog.is_empty())
            .map(|(a, s)| schema::Backlog {
                address: Some(wire_address(a)),
                messages: s.backlog.iter().map(wire_envelope).collect(),
            })
            .collect(),
        in_flight: w
            .in_flight
            .values()
            .map(|r| schema::Backlog {
                address: Some(wire_address(&r.address)),
                messages: r.invocations.iter().map(wire_envelope).collect(),
            })
            .collect(),
        values: Vec::new(),
        timers: w
            .timers
            .pending
            .iter()
            .map(|((at, _), (envelope, token))| schema::Timer {
                at_nanos: nanos(*at),
                message: Some(wire_envelope(envelope)),
                token: token.clone(),
            })
            .collect(),
        egress: w
            .egress
            .iter()
            .map(|(id, records)| schema::Egress {
                id: id.to_string(),
                records: records
                    .iter()
                    .map(|r| schema::Record {
                        type_name: r.type_name.clone(),
                        value: r.value.clone(),
                    })
                    .collect(),
            })
            .collect(),
        expirations: checkpoint
            .ttls
            .iter()
            .map(|((function_type, state), ttl)| {
                let (mode, d) = match ttl {
                    Ttl::Never => (0, Duration::ZERO),
                    Ttl::AfterWrite(d) => (1, *d),
                    Ttl::AfterInvoke(d) => (2, *d),
                };
                schema::Expiration {
                    function_type: function_type.to_string(),
                    state: state.to_string(),
                    mode,
                    after_nanos: nanos(d),
                }
            })
            .collect(),
        names: names.names.iter().map(|n| (*n).to_owned()).collect(),
        max_parallelism: checkpoint.max_parallelism.unwrap_or(0),
    };
    // The rest goes in front of the state values, which move up within
    // their buffer rather than into a second one.
    let (values, header) = (states.len(), checkpoint.encoded_len());
    states.resize(values + header, 0);
    states.copy_within(..values, header);
    checkpoint.encode_raw(&mut &mut states[..header]);
    // Shrunk in place: the bytes keep no room they do not use.
    states.shrink_to_fit();
    Bytes::from(states)
}

/// Reads a serialized checkpoint (of this format or an older one).
pub(super) fn read(bytes: &[u8]) -> Result<Checkpoint, CheckpointError> {
    // Decoded from one shared copy, so every value's bytes are a slice
    // of it rather than a copy of their own.
    let bytes = Bytes::copy_from_slice(bytes);
    let c = schema::Checkpoint::decode(bytes.clone())?;
    if !(1..=FORMAT).contains(&c.format) {
        return Err(CheckpointError::Format { found: c.format });
    }
    let mut types = Types::default();
    let mut envelope = |e: &schema::Envelope| types.envelope(e);
    // Queues go to one partition here; `Harness::restore` routes them
    // to the restoring harness's partitions.
    let mut world = World {
        local: vec![
            c.local
                .iter()
                .map(&mut envelope)
                .collect::<Result<_, _>>()?,
        ],
        ingress: vec![
            c.ingress
                .iter()
                .map(&mut envelope)
                .collect::<Result<_, _>>()?,
        ],
        ..World::default()
    };
    for backlog in &c.backlogs {
        let address = types.address(backlog.address.as_ref())?;
        let messages = backlog
            .messages
            .iter()
            .map(|e| types.envelope(e))
            .collect::<Result<_, _>>()?;
        world.addresses.entry(address).or_default().backlog = messages;
    }
    for (id, request) in (0_u64..).zip(&c.in_flight) {
        let address = types.address(request.address.as_ref())?;
        let invocations = request
            .messages
            .iter()
            .map(|e| types.envelope(e))
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
                // Placed again when the restore sends it.
                partition: 0,
                invocations,
                body: Bytes::new(),
                started: Duration::ZERO,
                attempts: 0,
                retry_at: None,
                give_up: None,
                response: None,
                ticket: None,
                parked: false,
            },
        );
        world.next_request = id + 1;
    }
    world.store.values = if c.format == 1 {
        values_v1(&mut types, c.values)?
    } else {
        values_v2(&mut types, c.names, &bytes)?
    };
    for timer in &c.timers {
        let message = types.envelope(timer.message.as_ref().ok_or_else(|| {
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
        let id = egress
            .id
            .parse::<TypeName>()
            .and_then(EgressIdentifier::new)
            .map_err(|e| CheckpointError::Invalid(format!("egress {:?}: {e}", egress.id)))?;
        world.egress.insert(id, records);
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
        let function_type = types.get(&e.function_type)?;
        ttls.insert((function_type, Name::from(e.state.as_str())), ttl);
    }
    // Formats 1 and 2 did not keep it; 0 is none either.
    let max_parallelism = (c.format >= 3 && c.max_parallelism > 0).then_some(c.max_parallelism);
    Ok(Checkpoint::new(
        c.id,
        Duration::from_nanos(c.at_nanos),
        world,
        ttls,
        max_parallelism,
    ))
}

/// Format 1's values: each with its whole address.
fn values_v1(types: &mut Types, values: Vec<schema::Value>) -> Result<AllValues, CheckpointError> {
    let mut names = Names::default();
    let mut all: BTreeMap<Address, Values> = BTreeMap::new();
    for v in values {
        let address = types.address(v.address.as_ref())?;
        all.entry(address).or_default().insert(
            &names.get(v.name),
            Stored {
                type_name: names.get(v.type_name),
                bytes: v.bytes,
                written: Duration::from_nanos(v.written_nanos),
                accessed: Duration::from_nanos(v.accessed_nanos),
            },
        );
    }
    Ok(AllValues::from_sorted(all))
}

/// Format 2's values: grouped per address (the checkpoint's fields 13),
/// names by their index in `table`.
///
/// Built with as few allocations as the store's types allow, each of its
/// final size: the address list sized by a first walk over the fields, one
/// id and one value list (exactly as long as the address's values) per
/// address, the value bytes slices of `checkpoint` (not copies).
fn values_v2(
    types: &mut Types,
    table: Vec<String>,
    checkpoint: &Bytes,
) -> Result<AllValues, CheckpointError> {
    let table: Vec<Name> = table.into_iter().map(Name::from).collect();
    let name = |i: u32| {
        table.get(i as usize).ok_or_else(|| {
            CheckpointError::Invalid(format!(
                "name {i} is not in the table of {} names",
                table.len()
            ))
        })
    };
    // The function type at each index of the table, parsed once.
    let mut function_types: Vec<Option<TypeName>> = vec![None; table.len()];
    // Sized from a count of the entries, before any is checked: a crafted
    // input of empty entries asks for far more memory than its own size,
    // so an impossible size is an error, not an abort.
    let count = count_address_values(checkpoint)?;
    let mut all = Vec::new();
    all.try_reserve_exact(count)
        .map_err(|_| CheckpointError::Invalid(format!("{count} addresses do not fit in memory")))?;
    // One address's values as read, before they move to a list of their
    // own of the right length.
    let mut values: Vec<(Name, Stored)> = Vec::new();
    // Whether the addresses so far came in strictly increasing order (as
    // written), and the last one's function type (index) and id.
    let mut ordered = true;
    let mut last: Option<(u32, &[u8])> = None;
    let mut top = Reader::new(checkpoint, "Checkpoint");
    while let Some((tag, wire_type)) = top.key()? {
        if tag != 13 || wire_type != LEN {
            top.skip(tag, wire_type)?;
            continue;
        }
        let mut state = top.nested("values", LEN, "Checkpoint.AddressValues")?;
        let (mut function_type, mut id) = (0, "");
        while let Some((tag, wire_type)) = state.key()? {
            match (tag, wire_type) {
                (1, VARINT) => function_type = index(state.varint()?),
                (2, LEN) => id = state.text("id", LEN)?.str(checkpoint),
                (3, LEN) => {
                    let mut value = state.nested("values", LEN, "Checkpoint.StateValue")?;
                    let (mut n, mut t, mut bytes, mut written, mut accessed) =
                        (0, 0, Bytes::new(), 0, 0);
                    while let Some((tag, wire_type)) = value.key()? {
                        match (tag, wire_type) {
                            (1, VARINT) => n = index(value.varint()?),
                            (2, VARINT) => t = index(value.varint()?),
                            (3, LEN) => {
                                bytes = checkpoint.slice(value.bytes("bytes", LEN)?.range());
                            }
                            (4, VARINT) => written = value.varint()?,
                            (5, VARINT) => accessed = value.varint()?,
                            _ => value.skip(tag, wire_type)?,
                        }
                    }
                    values.push((
                        Name::clone(name(n)?),
                        Stored {
                            type_name: Name::clone(name(t)?),
                            bytes,
                            written: Duration::from_nanos(written),
                            accessed: Duration::from_nanos(accessed),
                        },
                    ));
                }
                _ => state.skip(tag, wire_type)?,
            }
        }
        let i = function_type as usize;
        let parsed = match function_types.get(i) {
            Some(Some(t)) => t.clone(),
            _ => {
                let t = types.get(name(function_type)?)?;
                function_types[i] = Some(t.clone());
                t
            }
        };
        // In order after the last address (as `Address` orders: function
        // type, then id), compared without building either.
        if let (true, Some((last_type, last_id))) = (ordered, last) {
            let by_type = if last_type == function_type {
                std::cmp::Ordering::Equal
            } else {
                name(last_type)?.cmp(name(function_type)?)
            };
            ordered = by_type.then_with(|| last_id.cmp(id.as_bytes())).is_lt();
        }
        last = Some((function_type, id.as_bytes()));
        let address = Address::new(parsed, id);
        // Written in name order; anything else is sorted, and a name twice
        // refused.
        if !values.windows(2).all(|w| w[0].0 < w[1].0) {
            values.sort_by(|a, b| a.0.cmp(&b.0));
            if let Some(w) = values.windows(2).find(|w| w[0].0 == w[1].0) {
                return Err(CheckpointError::Invalid(format!(
                    "state {:?} of {address} has two values",
                    w[0].0
                )));
            }
        }
        let mut exact = Vec::with_capacity(values.len());
        exact.append(&mut values);
        all.push((address, Values::from_sorted(exact)));
    }
    // Written in address order, likewise.
    if !ordered {
        all.sort_by(|a, b| a.0.cmp(&b.0));
        if let Some(w) = all.windows(2).find(|w| w[0].0 == w[1].0) {
            return Err(CheckpointError::Invalid(format!(
                "the values of {} appear twice",
                w[0].0
            )));
        }
    }
    Ok(AllValues::from_sorted(all))
}

/// How many `AddressValues` (fields 13) the checkpoint holds.
fn count_address_values(checkpoint: &[u8]) -> Result<usize, CheckpointError> {
    let mut count = 0;
    let mut top = Reader::new(checkpoint, "Checkpoint");
    while let Some((tag, wire_type)) = top.key()? {
        count += usize::from(tag == 13 && wire_type == LEN);
        top.skip(tag, wire_type)?;
    }
    Ok(count)
}

/// An index in the name table (one that does not fit is no index).
fn index(varint: u64) -> u32 {
    u32::try_from(varint).unwrap_or(u32::MAX)
}

impl From<DecodeError> for CheckpointError {
    fn from(error: DecodeError) -> Self {
        Self::Invalid(format!(
            "the state values end early or are damaged: {error}"
        ))
    }
}

/// Writes one `AddressValues` (the checkpoint's field 13): function type
/// (1, index), id (2), values (3, each a `StateValue`: name 1 and typename
/// 2 by index, bytes 3, written 4 and accessed 5 in nanoseconds), exactly
/// as prost would: sized first (interning the names on the way), then
/// written into exactly that room.
fn put_address_values<'a>(
    buf: &mut Vec<u8>,
    names: &mut Interner<'a>,
    address: &'a Address,
    values: &'a Values,
) {
    let id = address.id().as_bytes();
    let function_type = names.index(address.function_type().as_str());
    let len = varint_field_len(1, u64::from(function_type))
        + bytes_field_len(2, id.len())
        + values
            .iter()
            .map(|(name, v)| {
                let (n, t) = (names.index(name), names.index(&v.type_name));
                message_field_len(3, state_value_len(n, t, v))
            })
            .sum::<usize>();
    Writer::append(buf, message_field_len(13, len), |w| {
        w.message_header(13, len);
        w.varint_field(1, u64::from(function_type));
        w.bytes_field(2, id);
        for (name, v) in values.iter() {
            // Interned above: looked up again.
            let (n, t) = (names.index(name), names.index(&v.type_name));
            w.message_header(3, state_value_len(n, t, v));
            w.varint_field(1, u64::from(n));
            w.varint_field(2, u64::from(t));
            w.bytes_field(3, &v.bytes);
            w.varint_field(4, nanos(v.written));
            w.varint_field(5, nanos(v.accessed));
        }
    });
}

fn state_value_len(name: u32, type_name: u32, v: &Stored) -> usize {
    varint_field_len(1, u64::from(name))
        + varint_field_len(2, u64::from(type_name))
        + bytes_field_len(3, v.bytes.len())
        + varint_field_len(4, nanos(v.written))
        + varint_field_len(5, nanos(v.accessed))
}

/// The names a serialized checkpoint repeats (function types, state names,
/// typenames), each written once: their table, and their indexes in it.
#[derive(Default)]
struct Interner<'a> {
    names: Vec<&'a str>,
    index: BTreeMap<&'a str, u32>,
    /// The last names looked up, by where they are in memory: the values
    /// share a few names, so most lookups end here without comparing text.
    recent: Vec<(*const u8, usize, u32)>,
}

impl<'a> Interner<'a> {
    fn index(&mut self, name: &'a str) -> u32 {
        let at = (name.as_ptr(), name.len());
        if let Some(&(_, _, i)) = self.recent.iter().find(|(p, n, _)| (*p, *n) == at) {
            return i;
        }
        let next = u32::try_from(self.names.len()).unwrap_or(u32::MAX);
        let i = *self.index.entry(name).or_insert_with(|| {
            self.names.push(name);
            next
        });
        if self.recent.len() < 16 {
            self.recent.push((at.0, at.1, i));
        }
        i
    }
}

/// Names read from a format 1 checkpoint, shared.
#[derive(Default)]
struct Names(BTreeMap<String, Name>);

impl Names {
    fn get(&mut self, name: String) -> Name {
        Name::clone(
            self.0
                .entry(name)
                .or_insert_with_key(|n| Name::from(n.as_str())),
        )
    }
}

/// Function types read from a checkpoint, each parsed once.
#[derive(Default)]
struct Types(BTreeMap<String, TypeName>);

impl Types {
    fn get(&mut self, function_type: &str) -> Result<TypeName, CheckpointError> {
        if let Some(t) = self.0.get(function_type) {
            return Ok(t.clone());
        }
        let t: TypeName = function_type.parse().map_err(|e| {
            CheckpointError::Invalid(format!("function type {function_type:?}: {e}"))
        })?;
        self.0.insert(function_type.to_owned(), t.clone());
        Ok(t)
    }

    fn address(&mut self, a: Option<&schema::Address>) -> Result<Address, CheckpointError> {
        let a = a.ok_or_else(|| CheckpointError::Invalid("an address is missing".into()))?;
        Ok(Address::new(self.get(&a.function_type)?, a.id.clone()))
    }

    fn envelope(&mut self, e: &schema::Envelope) -> Result<Envelope, CheckpointError> {
        Ok(Envelope {
            from: e.from.as_ref().map(|a| self.address(Some(a))).transpose()?,
            to: self.address(e.to.as_ref())?,
            type_name: e.type_name.clone(),
            value: e.value.clone(),
        })
    }
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

fn wire_address(a: &Address) -> schema::Address {
    schema::Address {
        function_type: a.function_type().as_str().to_owned(),
        id: a.id().to_owned(),
    }
}

fn wire_envelope(e: &Envelope) -> schema::Envelope {
    schema::Envelope {
        from: e.from.as_ref().map(wire_address),
        to: Some(wire_address(&e.to)),
        type_name: e.type_name.clone(),
        value: e.value.clone(),
    }
}

/// The serialized form (field numbers are the format: only add fields).
mod schema {
    use bytes::Bytes;

    #[derive(Clone, PartialEq, prost::Message)]
    pub(super) struct Checkpoint {
        #[prost(uint32, tag = "1")]
        pub(super) format: u32,
        #[prost(uint64, tag = "2")]
        pub(super) id: u64,
        #[prost(uint64, tag = "3")]
        pub(super) at_nanos: u64,
        /// Messages on their way, in partition order (per partition: its
        /// own, then those from other partitions).
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
        /// Format 1: the state values, each with its address.
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
        /// Format 2: the names `states` refers to by index (function types,
        /// state names, typenames), each once.
        #[prost(string, repeated, tag = "12")]
        pub(super) names: Vec<String>,
        // Format 2: field 13, repeated `AddressValues`, the state values per
        // address in address order, is written and read by hand (see
        // `put_address_values` and `values_v2`): decoding skips it.
        /// Format 3: the job's max parallelism (0: none kept).
        #[prost(uint32, tag = "14")]
        pub(super) max_parallelism: u32,
    }

    /// Format 2: the values of one address (the checkpoint's field 13;
    /// here to check the hand-written encoding against prost).
    #[cfg(test)]
    #[derive(Clone, PartialEq, prost::Message)]
    pub(super) struct AddressValues {
        /// Index in `names`.
        #[prost(uint32, tag = "1")]
        pub(super) function_type: u32,
        #[prost(string, tag = "2")]
        pub(super) id: String,
        /// In name order.
        #[prost(message, repeated, tag = "3")]
        pub(super) values: Vec<StateValue>,
    }

    /// Format 2: one state value.
    #[cfg(test)]
    #[derive(Clone, PartialEq, prost::Message)]
    pub(super) struct StateValue {
        /// Index in `names`.
        #[prost(uint32, tag = "1")]
        pub(super) name: u32,
        /// Index in `names`.
        #[prost(uint32, tag = "2")]
        pub(super) type_name: u32,
        #[prost(bytes = "bytes", tag = "3")]
        pub(super) bytes: Bytes,
        #[prost(uint64, tag = "4")]
        pub(super) written_nanos: u64,
        #[prost(uint64, tag = "5")]
        pub(super) accessed_nanos: u64,
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

#[cfg(test)]
mod tests {
    use stateful_functions::TypeName;

    use super::*;

    fn stored(type_name: &str, bytes: &'static [u8], written: u64, accessed: u64) -> Stored {
        Stored {
            type_name: Name::from(type_name),
            bytes: Bytes::from_static(bytes),
            written: Duration::from_nanos(written),
            accessed: Duration::from_nanos(accessed),
        }
    }

    /// Some values: several types, names shared or not, empty ids and
    /// bytes, times of every size.
    fn sample() -> BTreeMap<Address, Values> {
        let mut all = BTreeMap::new();
        let types = [TypeName::from_static("a/b"), "x.y/z".parse().expect("type")];
        for (i, id) in ["", "k", "\u{e9}t\u{e9}", "a-much-longer-id-than-the-others"]
            .into_iter()
            .enumerate()
        {
            let mut values = Values::default();
            values.insert(&Name::from("count"), stored("t/long", b"\x05", 0, 0));
            if i % 2 == 0 {
                values.insert(&Name::from("log"), stored("t/string", b"", 1, 300));
            }
            if i == 3 {
                values.insert(
                    &Name::from("big"),
                    stored("t/raw", &[7; 200], u64::MAX, 1 << 40),
                );
            }
            all.insert(Address::new(types[i % 2].clone(), id), values);
        }
        all
    }

    #[test]
    fn state_values_are_the_bytes_prost_writes_and_read_back() {
        let all = sample();
        let mut names = Interner::default();
        let mut ours = Vec::new();
        for (address, values) in &all {
            put_address_values(&mut ours, &mut names, address, values);
        }
        // The same with prost.
        let index = |s: &str| {
            u32::try_from(names.names.iter().position(|n| *n == s).expect("named")).expect("small")
        };
        let mut theirs = Vec::new();
        for (address, values) in &all {
            let message = schema::AddressValues {
                function_type: index(address.function_type().as_str()),
                id: address.id().to_owned(),
                values: values
                    .iter()
                    .map(|(name, v)| schema::StateValue {
                        name: index(name),
                        type_name: index(&v.type_name),
                        bytes: v.bytes.clone(),
                        written_nanos: nanos(v.written),
                        accessed_nanos: nanos(v.accessed),
                    })
                    .collect(),
            };
            prost::encoding::message::encode(13, &message, &mut theirs);
        }
        assert_eq!(ours, theirs);

        let table: Vec<String> = names.names.iter().map(|n| (*n).to_owned()).collect();
        let read = values_v2(&mut Types::default(), table, &Bytes::from(ours)).expect("read");
        let shown = |all: &dyn std::fmt::Debug| format!("{all:?}");
        assert_eq!(shown(&read), shown(&all));
    }

    #[test]
    fn truncated_state_values_are_refused() {
        let all = sample();
        let mut names = Interner::default();
        let mut bytes = Vec::new();
        for (address, values) in &all {
            put_address_values(&mut bytes, &mut names, address, values);
        }
        let table: Vec<String> = names.names.iter().map(|n| (*n).to_owned()).collect();
        // Cut inside the first address's values: its length runs past the end.
        let cut = Bytes::copy_from_slice(&bytes[..10]);
        let error = values_v2(&mut Types::default(), table, &cut).expect_err("cut");
        assert!(error.to_string().contains("end early"), "{error}");
    }

    /// The addresses of `sample` written in reverse order (their names
    /// interned in that order too): read back sorted; one written twice,
    /// refused.
    #[test]
    fn state_values_out_of_order_are_sorted_and_duplicates_refused() {
        let all = sample();
        let mut names = Interner::default();
        let mut parts = Vec::new();
        for (address, values) in all.iter().rev() {
            let mut part = Vec::new();
            put_address_values(&mut part, &mut names, address, values);
            parts.push(part);
        }
        let table: Vec<String> = names.names.iter().map(|n| (*n).to_owned()).collect();
        let shown = |all: &dyn std::fmt::Debug| format!("{all:?}");
        let reversed = Bytes::from(parts.concat());
        let read = values_v2(&mut Types::default(), table.clone(), &reversed).expect("read");
        assert_eq!(shown(&read), shown(&all));

        let twice = Bytes::from([parts.concat(), parts[1].clone()].concat());
        let error = values_v2(&mut Types::default(), table, &twice).expect_err("twice");
        assert!(error.to_string().contains("appear twice"), "{error}");
    }

    /// A checkpoint of [`sample`]'s values.
    fn sample_checkpoint() -> Checkpoint {
        let world = World {
            store: crate::store::Store {
                values: AllValues::from_sorted(sample()),
                ..Default::default()
            },
            ..World::default()
        };
        Checkpoint::new(
            3,
            Duration::from_millis(5),
            world,
            BTreeMap::new(),
            Some(128),
        )
    }

    /// Every cut and many a damaged byte of a checkpoint: read or refused,
    /// never a panic.
    #[test]
    fn damaged_checkpoints_are_refused_without_panicking() {
        let checkpoint = sample_checkpoint();
        let bytes = checkpoint.to_bytes();
        for cut in 0..bytes.len() {
            drop(Checkpoint::from_bytes(&bytes[..cut]));
        }
        for i in 0..bytes.len() {
            for flip in [0x01, 0x07, 0x80, 0xff] {
                let mut damaged = bytes.to_vec();
                damaged[i] ^= flip;
                drop(Checkpoint::from_bytes(&damaged));
            }
        }
    }

    #[test]
    fn a_checkpoint_round_trips_through_format_3() {
        let checkpoint = sample_checkpoint();
        let bytes = checkpoint.to_bytes();
        let read = Checkpoint::from_bytes(&bytes).expect("read");
        assert_eq!(read.to_bytes(), bytes);
        assert_eq!(
            format!("{:?}", read.world().store.values),
            format!("{:?}", checkpoint.world().store.values)
        );
        assert_eq!((read.id(), read.taken_at()), (3, Duration::from_millis(5)));
        assert_eq!(read.max_parallelism(), Some(128));
    }
}
