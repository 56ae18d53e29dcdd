//! Encoding `FromFunction` and the egress records straight into exactly
//! sized buffers.
//!
//! Each message has a `*_len` function giving its encoded size and a
//! `put_*` function writing it; an embedded message is written as its key,
//! its length and its body. Fields follow proto3's canonical form, as
//! prost and the Python SDK write it: in field-number order, with default
//! scalars omitted and present sub-messages always written.

use bytes::Bytes;

use crate::context::Effects;
use crate::state::StateSpec;
use crate::{Address, CancellationToken, EgressIdentifier, Expiration, Storage, TypeName};

/// `FromFunction.invocation_result` (field 100, length-delimited).
const KEY_INVOCATION_RESULT: [u8; 2] = [0xa2, 0x06];
/// `FromFunction.incomplete_invocation_context` (field 101).
const KEY_INCOMPLETE_CONTEXT: [u8; 2] = [0xaa, 0x06];

/// Key byte of field `n` (< 16) with wire type length-delimited.
const fn len_key(field: u8) -> u8 {
    (field << 3) | 2
}

/// Key byte of field `n` (< 16) with wire type varint.
const fn varint_key(field: u8) -> u8 {
    field << 3
}

#[inline]
fn varint_len(value: u64) -> usize {
    // One byte per started group of seven bits, at least one: with
    // `b = 63 - leading zeros` (the top bit's index), `(9b + 73) / 64` is
    // `b / 7 + 1` for every b in 0..64, without a division (as prost does).
    let top_bit = (value | 1).leading_zeros() ^ 63;
    ((top_bit * 9 + 73) / 64) as usize
}

/// Writes into a buffer already sized for what is written, so that each
/// byte is a store rather than a `Vec::push` (whose length the compiler
/// must reload after every byte stored, as a byte may alias it).
///
/// The sizes come from the `*_len` functions; were one wrong, the bytes
/// past the end would be dropped (and a debug build would panic), never
/// written out of bounds.
struct Buf<'a> {
    out: &'a mut [u8],
    pos: usize,
}

impl Buf<'_> {
    #[inline(always)]
    fn push(&mut self, byte: u8) {
        if let Some(slot) = self.out.get_mut(self.pos) {
            *slot = byte;
        }
        self.pos += 1;
    }

    #[inline(always)]
    fn extend_from_slice(&mut self, bytes: &[u8]) {
        let end = self.pos + bytes.len();
        if let Some(slots) = self.out.get_mut(self.pos..end) {
            slots.copy_from_slice(bytes);
        }
        self.pos = end;
    }

    /// Checks (in debug builds) that exactly the computed size was written.
    fn done(&self) {
        debug_assert_eq!(
            self.pos,
            self.out.len(),
            "encoded length differs from the computed one"
        );
    }
}

#[inline]
fn put_varint(buf: &mut Buf<'_>, mut value: u64) {
    while value >= 0x80 {
        // The mask keeps the value within a byte.
        buf.push(u8::try_from(value & 0x7f).unwrap_or_default() | 0x80);
        value >>= 7;
    }
    buf.push(u8::try_from(value).unwrap_or_default());
}

/// A buffer of exactly `len` bytes, filled by `fill`, as [`Bytes`] (which
/// then neither reallocates nor allocates a shared header).
fn finish(len: usize, fill: impl FnOnce(&mut Buf<'_>)) -> Bytes {
    // Not `vec![0; len]`: that is calloc, which skips glibc's per-thread
    // cache and costs more than allocating and then clearing.
    #[allow(clippy::slow_vector_initialization)]
    let mut out = Vec::with_capacity(len);
    out.resize(len, 0);
    let mut buf = Buf {
        out: &mut out,
        pos: 0,
    };
    fill(&mut buf);
    buf.done();
    Bytes::from(out)
}

/// Appends exactly `len` bytes to `out`, filled by `fill`.
#[inline]
fn append(out: &mut Vec<u8>, len: usize, fill: impl FnOnce(&mut Buf<'_>)) {
    /// Zeroed by fixed-size stores in line, where `resize` would call
    /// memset; most entries are shorter.
    const RUN: usize = 128;
    let start = out.len();
    // Only into room already there: reserving a whole run for a short
    // entry could grow the buffer when the entry alone would fit.
    if len <= RUN && out.capacity() - start >= RUN {
        out.extend_from_slice(&[0; RUN]);
        out.truncate(start + len);
    } else {
        out.resize(start + len, 0);
    }
    let mut buf = Buf {
        out: out.get_mut(start..).unwrap_or_default(),
        pos: 0,
    };
    fill(&mut buf);
    buf.done();
}

/// Size of a length-delimited field with a one-byte key, omitted when empty.
fn bytes_field_len(len: usize) -> usize {
    if len == 0 {
        0
    } else {
        1 + varint_len(len as u64) + len
    }
}

#[inline]
fn put_bytes_field(buf: &mut Buf<'_>, field: u8, bytes: &[u8]) {
    if !bytes.is_empty() {
        buf.push(len_key(field));
        put_varint(buf, bytes.len() as u64);
        buf.extend_from_slice(bytes);
    }
}

/// Size of an embedded message field with a one-byte key (always written).
fn message_field_len(body: usize) -> usize {
    1 + varint_len(body as u64) + body
}

#[inline]
fn put_message_header(buf: &mut Buf<'_>, field: u8, body: usize) {
    buf.push(len_key(field));
    put_varint(buf, body as u64);
}

/// Size of a varint field with a one-byte key, omitted when zero.
fn varint_field_len(value: u64) -> usize {
    if value == 0 { 0 } else { 1 + varint_len(value) }
}

fn put_varint_field(buf: &mut Buf<'_>, field: u8, value: u64) {
    if value != 0 {
        buf.push(varint_key(field));
        put_varint(buf, value);
    }
}

/// `int64` on the wire: two's complement, so negatives take ten bytes.
#[allow(clippy::cast_sign_loss)]
fn int64(value: i64) -> u64 {
    value as u64
}

// --- Address ---------------------------------------------------------------

fn address_len(a: &Address) -> usize {
    let (namespace, name) = a.function_type().parts_bytes();
    bytes_field_len(namespace.len())
        + bytes_field_len(name.len())
        + bytes_field_len(a.id_bytes().len())
}

/// Writes `a`, whose [`address_len`] is `len`.
#[inline(always)]
fn put_address(buf: &mut Buf<'_>, field: u8, a: &Address, len: usize) {
    put_message_header(buf, field, len);
    let (namespace, name) = a.function_type().parts_bytes();
    put_bytes_field(buf, 1, namespace);
    put_bytes_field(buf, 2, name);
    put_bytes_field(buf, 3, a.id_bytes());
}

// --- TypedValue ------------------------------------------------------------

/// A `TypedValue` with `has_value = true`.
fn typed_len(type_name: &TypeName, value: &[u8]) -> usize {
    bytes_field_len(type_name.as_str().len()) + 2 + bytes_field_len(value.len())
}

/// Writes a `TypedValue` whose [`typed_len`] is `len`.
#[inline(always)]
fn put_typed(buf: &mut Buf<'_>, field: u8, type_name: &TypeName, value: &[u8], len: usize) {
    put_message_header(buf, field, len);
    put_bytes_field(buf, 1, type_name.as_str().as_bytes());
    buf.extend_from_slice(&[varint_key(2), 1]);
    put_bytes_field(buf, 3, value);
}

// --- InvocationResponse ----------------------------------------------------

/// The size of a mutation, and of its `TypedValue` (0 when deleted).
fn mutation_sizes(spec: &StateSpec, value: Option<&[u8]>) -> (usize, usize) {
    let name = bytes_field_len(spec.name().len());
    match value {
        // mutation_type MODIFY (1) takes two bytes.
        Some(v) => {
            let typed = typed_len(spec.type_name(), v);
            (2 + name + message_field_len(typed), typed)
        }
        // DELETE is the enum default and is omitted.
        None => (name, 0),
    }
}

/// Writes a mutation whose [`mutation_sizes`] are `(len, typed)`.
fn put_mutation(
    buf: &mut Buf<'_>,
    spec: &StateSpec,
    value: Option<&[u8]>,
    (len, typed): (usize, usize),
) {
    put_message_header(buf, 1, len);
    if let Some(v) = value {
        put_varint_field(buf, 1, 1);
        put_bytes_field(buf, 2, spec.name().as_bytes());
        put_typed(buf, 3, spec.type_name(), v, typed);
    } else {
        put_bytes_field(buf, 2, spec.name().as_bytes());
    }
}

/// Appends an `outgoing_messages` entry (field 2 of `InvocationResponse`):
/// `value`, of type `type_name`, to `target`.
pub(crate) fn push_message(
    out: &mut Vec<u8>,
    target: &Address,
    type_name: &TypeName,
    value: &[u8],
) {
    let (target_len, value_len) = (address_len(target), typed_len(type_name, value));
    let body = message_field_len(target_len) + message_field_len(value_len);
    append(out, message_field_len(body), |buf| {
        put_message_header(buf, 2, body);
        put_address(buf, 1, target, target_len);
        put_typed(buf, 2, type_name, value, value_len);
    });
}

/// Appends a `delayed_invocations` entry (field 3) sending `value` to
/// `target` after `delay_ms`, cancellable with `token`.
pub(crate) fn push_delayed(
    out: &mut Vec<u8>,
    delay_ms: i64,
    target: &Address,
    (type_name, value): (&TypeName, &[u8]),
    token: Option<&CancellationToken>,
) {
    let (target_len, value_len) = (address_len(target), typed_len(type_name, value));
    let body = varint_field_len(int64(delay_ms))
        + message_field_len(target_len)
        + message_field_len(value_len)
        + token.map_or(0, |t| bytes_field_len(t.as_str().len()));
    append(out, message_field_len(body), |buf| {
        put_message_header(buf, 3, body);
        put_varint_field(buf, 1, int64(delay_ms));
        put_address(buf, 2, target, target_len);
        put_typed(buf, 3, type_name, value, value_len);
        if let Some(token) = token {
            put_bytes_field(buf, 11, token.as_str().as_bytes());
        }
    });
}

/// Appends a `delayed_invocations` entry (field 3) cancelling the delayed
/// message sent with `token`.
pub(crate) fn push_cancellation(out: &mut Vec<u8>, token: &CancellationToken) {
    // is_cancellation_request = true takes two bytes.
    let body = 2 + bytes_field_len(token.as_str().len());
    append(out, message_field_len(body), |buf| {
        put_message_header(buf, 3, body);
        put_varint_field(buf, 10, 1);
        put_bytes_field(buf, 11, token.as_str().as_bytes());
    });
}

/// Appends an `outgoing_egresses` entry (field 4): `value`, of type
/// `type_name`, to `egress`.
pub(crate) fn push_egress(
    out: &mut Vec<u8>,
    egress: &EgressIdentifier,
    type_name: &TypeName,
    value: &[u8],
) {
    let (namespace, name) = egress.type_name().parts_bytes();
    let value_len = typed_len(type_name, value);
    let body = bytes_field_len(namespace.len())
        + bytes_field_len(name.len())
        + message_field_len(value_len);
    append(out, message_field_len(body), |buf| {
        put_message_header(buf, 4, body);
        put_bytes_field(buf, 1, namespace);
        put_bytes_field(buf, 2, name);
        put_typed(buf, 3, type_name, value, value_len);
    });
}

/// The `InvocationResponse` of a batch: one mutation per touched state
/// value (in declaration order), then messages, delayed messages and egress
/// records in call order (each already encoded as it was sent).
pub(crate) fn encode_result(effects: &Effects, storage: &Storage) -> Bytes {
    let mut body = effects.messages.len() + effects.delayed.len() + effects.egress.len();
    for (spec, value) in storage.mutations() {
        body += message_field_len(mutation_sizes(spec, value).0);
    }
    finish(2 + varint_len(body as u64) + body, |buf| {
        buf.extend_from_slice(&KEY_INVOCATION_RESULT);
        put_varint(buf, body as u64);
        for (spec, value) in storage.mutations() {
            put_mutation(buf, spec, value, mutation_sizes(spec, value));
        }
        // Each copy skipped when empty: a call to copy nothing costs as
        // much as a short copy.
        for entries in [&effects.messages, &effects.delayed, &effects.egress] {
            if !entries.is_empty() {
                buf.extend_from_slice(entries);
            }
        }
    })
}

// --- IncompleteInvocationContext -------------------------------------------

fn expiration(spec: &StateSpec) -> (u64, u64) {
    let (mode, ttl) = match spec.expiration() {
        Expiration::Never => (0, None),
        Expiration::AfterWrite(d) => (1, Some(d)),
        Expiration::AfterCall(d) => (2, Some(d)),
    };
    // Validated when the spec was declared; saturate rather than panic
    // should that ever be bypassed.
    let millis = ttl.map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
    (mode, int64(millis))
}

fn expiration_len(spec: &StateSpec) -> usize {
    let (mode, millis) = expiration(spec);
    varint_field_len(mode) + varint_field_len(millis)
}

fn spec_len(spec: &StateSpec) -> usize {
    bytes_field_len(spec.name().len())
        + message_field_len(expiration_len(spec))
        + bytes_field_len(spec.type_name().as_str().len())
}

/// `IncompleteInvocationContext` listing `missing`, each with its type and
/// expiration. Like the Python and Go SDKs, the expiration is always
/// present, with mode NONE when the value never expires.
pub(crate) fn encode_incomplete<'a>(missing: impl Iterator<Item = &'a StateSpec> + Clone) -> Bytes {
    let body: usize = missing
        .clone()
        .map(|s| message_field_len(spec_len(s)))
        .sum();
    finish(2 + varint_len(body as u64) + body, |buf| {
        buf.extend_from_slice(&KEY_INCOMPLETE_CONTEXT);
        put_varint(buf, body as u64);
        for spec in missing {
            put_message_header(buf, 1, spec_len(spec));
            put_bytes_field(buf, 1, spec.name().as_bytes());
            put_message_header(buf, 2, expiration_len(spec));
            let (mode, millis) = expiration(spec);
            put_varint_field(buf, 1, mode);
            put_varint_field(buf, 2, millis);
            put_bytes_field(buf, 3, spec.type_name().as_str().as_bytes());
        }
    })
}

// --- Egress records --------------------------------------------------------

/// A `KafkaProducerRecord`; an empty key is omitted on the wire.
pub(crate) fn encode_kafka_record(key: &str, value: &[u8], topic: &str) -> Bytes {
    let len =
        bytes_field_len(key.len()) + bytes_field_len(value.len()) + bytes_field_len(topic.len());
    finish(len, |buf| {
        put_bytes_field(buf, 1, key.as_bytes());
        put_bytes_field(buf, 2, value);
        put_bytes_field(buf, 3, topic.as_bytes());
    })
}

/// A `KinesisEgressRecord`; an empty explicit hash key is omitted.
pub(crate) fn encode_kinesis_record(
    partition_key: &str,
    value: &[u8],
    stream: &str,
    explicit_hash_key: &str,
) -> Bytes {
    let len = bytes_field_len(partition_key.len())
        + bytes_field_len(value.len())
        + bytes_field_len(stream.len())
        + bytes_field_len(explicit_hash_key.len());
    finish(len, |buf| {
        put_bytes_field(buf, 1, partition_key.as_bytes());
        put_bytes_field(buf, 2, value);
        put_bytes_field(buf, 3, stream.as_bytes());
        put_bytes_field(buf, 4, explicit_hash_key.as_bytes());
    })
}
