//! `FromFunction`, a function's answer: written by functions (the SDK),
//! read in place by runtimes (the harness, statefun-local).
//!
//! A function's side effects are written as they happen, each as the
//! entry of `InvocationResponse` it becomes ([`push_message`],
//! [`push_delayed`], [`push_cancellation`], [`push_egress`]), into one
//! buffer per repeated field; [`write_result`] then puts the state
//! mutations and those buffers together.

use super::error::DecodeError;
use super::read::{Reader, Span, check_size};
use super::write::{Writer, bytes_field_len, int64_bits, message_field_len, varint_field_len};
use super::{Address, AddressRef, TypedValue, ValueRef, merge_address, merge_typed_value};

/// `FromFunction.invocation_result` (field 100, length-delimited).
const KEY_INVOCATION_RESULT: [u8; 2] = [0xa2, 0x06];
/// `FromFunction.incomplete_invocation_context` (field 101).
const KEY_INCOMPLETE_CONTEXT: [u8; 2] = [0xaa, 0x06];

// --- Reading ----------------------------------------------------------------

/// `FromFunction.response`, as read: ranges of the answer's bytes.
#[derive(Debug, Clone, PartialEq)]
pub enum Response {
    /// `invocation_result` (100): the batch ran.
    Result(Results),
    /// `incomplete_invocation_context` (101): the state values missing.
    Incomplete(Vec<MissingValue>),
}

/// `FromFunction.InvocationResponse`: its four repeated fields in one
/// list (one allocation), each field's entries in their order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Results(Vec<Effect>);

/// One entry of a repeated field of `FromFunction.InvocationResponse`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Effect {
    /// `state_mutations` (1).
    Mutation(Mutation),
    /// `outgoing_messages` (2).
    Message(Outgoing),
    /// `delayed_invocations` (3).
    Delayed(Delayed),
    /// `outgoing_egresses` (4).
    Egress(Egress),
}

impl Results {
    /// Every entry, in the order read.
    pub fn effects(&self) -> impl Iterator<Item = &Effect> {
        self.0.iter()
    }

    /// `state_mutations`, in order.
    pub fn state_mutations(&self) -> impl Iterator<Item = &Mutation> {
        self.0.iter().filter_map(|e| match e {
            Effect::Mutation(m) => Some(m),
            _ => None,
        })
    }

    /// `outgoing_messages`, in order.
    pub fn outgoing_messages(&self) -> impl Iterator<Item = &Outgoing> {
        self.0.iter().filter_map(|e| match e {
            Effect::Message(m) => Some(m),
            _ => None,
        })
    }

    /// `delayed_invocations`, in order.
    pub fn delayed_invocations(&self) -> impl Iterator<Item = &Delayed> {
        self.0.iter().filter_map(|e| match e {
            Effect::Delayed(d) => Some(d),
            _ => None,
        })
    }

    /// `outgoing_egresses`, in order.
    pub fn outgoing_egresses(&self) -> impl Iterator<Item = &Egress> {
        self.0.iter().filter_map(|e| match e {
            Effect::Egress(e) => Some(e),
            _ => None,
        })
    }
}

/// `FromFunction.PersistedValueMutation`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Mutation {
    /// `mutation_type` (1): 0 DELETE, 1 MODIFY.
    pub mutation_type: i32,
    /// `state_name` (2).
    pub state_name: Span,
    /// `state_value` (3).
    pub state_value: Option<TypedValue>,
}

/// `FromFunction.Invocation`: a message to another function.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Outgoing {
    /// `target` (1).
    pub target: Option<Address>,
    /// `argument` (2).
    pub argument: Option<TypedValue>,
}

/// `FromFunction.DelayedInvocation`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Delayed {
    /// `delay_in_ms` (1).
    pub delay_in_ms: i64,
    /// `target` (2).
    pub target: Option<Address>,
    /// `argument` (3).
    pub argument: Option<TypedValue>,
    /// `is_cancellation_request` (10).
    pub is_cancellation_request: bool,
    /// `cancellation_token` (11).
    pub cancellation_token: Span,
}

/// `FromFunction.EgressMessage`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Egress {
    /// `egress_namespace` (1).
    pub egress_namespace: Span,
    /// `egress_type` (2).
    pub egress_type: Span,
    /// `argument` (3).
    pub argument: Option<TypedValue>,
}

/// `FromFunction.PersistedValueSpec`: a state value the function needs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MissingValue {
    /// `state_name` (1).
    pub state_name: Span,
    /// `expiration_spec` (2).
    pub expiration_spec: Option<Expiration>,
    /// `type_typename` (3).
    pub type_typename: Span,
}

/// `FromFunction.ExpirationSpec`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Expiration {
    /// `mode` (1): 0 NONE, 1 AFTER_WRITE, 2 AFTER_INVOKE.
    pub mode: i32,
    /// `expire_after_millis` (2).
    pub expire_after_millis: i64,
}

/// Reads a `FromFunction`, as prost's `FromFunction::decode` does: `None`
/// when the answer sets no response.
///
/// ```
/// use statefun_protocol::wire::from_function::{self, Response};
///
/// let answer = from_function::read(b"\xa2\x06\x00")?;
/// assert!(matches!(answer, Some(Response::Result(r)) if r.effects().count() == 0));
/// # Ok::<(), statefun_protocol::wire::DecodeError>(())
/// ```
///
/// # Errors
///
/// Bytes that are not a `FromFunction`.
pub fn read(body: &[u8]) -> Result<Option<Response>, DecodeError> {
    check_size(body, "FromFunction")?;
    let mut reader = Reader::new(body, "FromFunction");
    let mut response = None;
    while let Some((field, wire_type)) = reader.key()? {
        match field {
            // A oneof: a piece of the variant already set merges into it;
            // another variant starts afresh.
            100 => {
                let mut nested = reader.nested(
                    "invocation_result",
                    wire_type,
                    "FromFunction.InvocationResponse",
                )?;
                if let Some(Response::Result(results)) = &mut response {
                    merge_results(results, &mut nested)?;
                } else {
                    let mut results = Results::default();
                    merge_results(&mut results, &mut nested)?;
                    response = Some(Response::Result(results));
                }
            }
            101 => {
                let mut nested = reader.nested(
                    "incomplete_invocation_context",
                    wire_type,
                    "FromFunction.IncompleteInvocationContext",
                )?;
                if let Some(Response::Incomplete(missing)) = &mut response {
                    merge_incomplete(missing, &mut nested)?;
                } else {
                    let mut missing = Vec::new();
                    merge_incomplete(&mut missing, &mut nested)?;
                    response = Some(Response::Incomplete(missing));
                }
            }
            _ => reader.skip(field, wire_type)?,
        }
    }
    Ok(response)
}

fn merge_results(m: &mut Results, r: &mut Reader<'_>) -> Result<(), DecodeError> {
    while let Some((field, wire)) = r.key()? {
        let effect = match field {
            1 => {
                let mut nested = r.nested(
                    "state_mutations",
                    wire,
                    "FromFunction.PersistedValueMutation",
                )?;
                Effect::Mutation(merged(&mut nested, merge_mutation)?)
            }
            2 => {
                let mut nested = r.nested("outgoing_messages", wire, "FromFunction.Invocation")?;
                Effect::Message(merged(&mut nested, merge_outgoing)?)
            }
            3 => {
                let mut nested = r.nested(
                    "delayed_invocations",
                    wire,
                    "FromFunction.DelayedInvocation",
                )?;
                Effect::Delayed(merged(&mut nested, merge_delayed)?)
            }
            4 => {
                let mut nested =
                    r.nested("outgoing_egresses", wire, "FromFunction.EgressMessage")?;
                Effect::Egress(merged(&mut nested, merge_egress)?)
            }
            _ => {
                r.skip(field, wire)?;
                continue;
            }
        };
        m.0.push(effect);
    }
    Ok(())
}

/// An entry of a repeated message field.
fn merged<T: Default>(
    r: &mut Reader<'_>,
    merge: impl FnOnce(&mut T, &mut Reader<'_>) -> Result<(), DecodeError>,
) -> Result<T, DecodeError> {
    let mut item = T::default();
    merge(&mut item, r)?;
    Ok(item)
}

fn merge_incomplete(m: &mut Vec<MissingValue>, r: &mut Reader<'_>) -> Result<(), DecodeError> {
    while let Some((field, wire)) = r.key()? {
        if field == 1 {
            let mut nested = r.nested("missing_values", wire, "FromFunction.PersistedValueSpec")?;
            m.push(merged(&mut nested, merge_missing)?);
        } else {
            r.skip(field, wire)?;
        }
    }
    Ok(())
}

/// A singular message field: a second piece merges into the first.
fn merge_optional<T: Default>(
    value: &mut Option<T>,
    r: &mut Reader<'_>,
    (field, wire, message): (&'static str, u8, &'static str),
    merge: impl FnOnce(&mut Reader<'_>, &mut T) -> Result<(), DecodeError>,
) -> Result<(), DecodeError> {
    let mut nested = r.nested(field, wire, message)?;
    merge(&mut nested, value.get_or_insert_with(T::default))
}

fn merge_mutation(m: &mut Mutation, r: &mut Reader<'_>) -> Result<(), DecodeError> {
    while let Some((field, wire)) = r.key()? {
        match field {
            1 => m.mutation_type = r.int32("mutation_type", wire)?,
            2 => m.state_name = r.text("state_name", wire)?,
            3 => merge_optional(
                &mut m.state_value,
                r,
                ("state_value", wire, "TypedValue"),
                merge_typed_value,
            )?,
            _ => r.skip(field, wire)?,
        }
    }
    Ok(())
}

fn merge_outgoing(m: &mut Outgoing, r: &mut Reader<'_>) -> Result<(), DecodeError> {
    while let Some((field, wire)) = r.key()? {
        match field {
            1 => merge_optional(&mut m.target, r, ("target", wire, "Address"), merge_address)?,
            2 => merge_optional(
                &mut m.argument,
                r,
                ("argument", wire, "TypedValue"),
                merge_typed_value,
            )?,
            _ => r.skip(field, wire)?,
        }
    }
    Ok(())
}

fn merge_delayed(m: &mut Delayed, r: &mut Reader<'_>) -> Result<(), DecodeError> {
    while let Some((field, wire)) = r.key()? {
        match field {
            1 => m.delay_in_ms = r.int64("delay_in_ms", wire)?,
            2 => merge_optional(&mut m.target, r, ("target", wire, "Address"), merge_address)?,
            3 => merge_optional(
                &mut m.argument,
                r,
                ("argument", wire, "TypedValue"),
                merge_typed_value,
            )?,
            10 => m.is_cancellation_request = r.bool("is_cancellation_request", wire)?,
            11 => m.cancellation_token = r.text("cancellation_token", wire)?,
            _ => r.skip(field, wire)?,
        }
    }
    Ok(())
}

fn merge_egress(m: &mut Egress, r: &mut Reader<'_>) -> Result<(), DecodeError> {
    while let Some((field, wire)) = r.key()? {
        match field {
            1 => m.egress_namespace = r.text("egress_namespace", wire)?,
            2 => m.egress_type = r.text("egress_type", wire)?,
            3 => merge_optional(
                &mut m.argument,
                r,
                ("argument", wire, "TypedValue"),
                merge_typed_value,
            )?,
            _ => r.skip(field, wire)?,
        }
    }
    Ok(())
}

fn merge_missing(m: &mut MissingValue, r: &mut Reader<'_>) -> Result<(), DecodeError> {
    while let Some((field, wire)) = r.key()? {
        match field {
            1 => m.state_name = r.text("state_name", wire)?,
            2 => merge_optional(
                &mut m.expiration_spec,
                r,
                ("expiration_spec", wire, "FromFunction.ExpirationSpec"),
                merge_expiration,
            )?,
            3 => m.type_typename = r.text("type_typename", wire)?,
            _ => r.skip(field, wire)?,
        }
    }
    Ok(())
}

fn merge_expiration(r: &mut Reader<'_>, m: &mut Expiration) -> Result<(), DecodeError> {
    while let Some((field, wire)) = r.key()? {
        match field {
            1 => m.mode = r.int32("mode", wire)?,
            2 => m.expire_after_millis = r.int64("expire_after_millis", wire)?,
            _ => r.skip(field, wire)?,
        }
    }
    Ok(())
}

// --- Writing ----------------------------------------------------------------

/// Appends an `outgoing_messages` entry (field 2 of `InvocationResponse`):
/// `value` to `target`.
#[inline]
pub fn push_message(out: &mut Vec<u8>, target: AddressRef<'_>, value: ValueRef<'_>) {
    let (target_len, value_len) = (target.encoded_len(), value.encoded_len());
    let body = message_field_len(1, target_len) + message_field_len(2, value_len);
    Writer::append(out, message_field_len(2, body), |w| {
        w.message_header(2, body);
        target.write(w, 1, target_len);
        value.write(w, 2, value_len);
    });
}

/// Appends a `delayed_invocations` entry (field 3) sending `value` to
/// `target` after `delay_ms`, cancellable with `token` when there is one.
#[inline]
pub fn push_delayed(
    out: &mut Vec<u8>,
    delay_ms: i64,
    target: AddressRef<'_>,
    value: ValueRef<'_>,
    token: Option<&[u8]>,
) {
    let (target_len, value_len) = (target.encoded_len(), value.encoded_len());
    let body = varint_field_len(1, int64_bits(delay_ms))
        + message_field_len(2, target_len)
        + message_field_len(3, value_len)
        + token.map_or(0, |t| bytes_field_len(11, t.len()));
    Writer::append(out, message_field_len(3, body), |w| {
        w.message_header(3, body);
        w.varint_field(1, int64_bits(delay_ms));
        target.write(w, 2, target_len);
        value.write(w, 3, value_len);
        if let Some(token) = token {
            w.bytes_field(11, token);
        }
    });
}

/// Appends a `delayed_invocations` entry (field 3) cancelling the delayed
/// message sent with `token`.
#[inline]
pub fn push_cancellation(out: &mut Vec<u8>, token: &[u8]) {
    let body = varint_field_len(10, 1) + bytes_field_len(11, token.len());
    Writer::append(out, message_field_len(3, body), |w| {
        w.message_header(3, body);
        w.varint_field(10, 1);
        w.bytes_field(11, token);
    });
}

/// Appends an `outgoing_egresses` entry (field 4): `value` to the egress
/// `namespace/name`.
#[inline]
pub fn push_egress(out: &mut Vec<u8>, (namespace, name): (&[u8], &[u8]), value: ValueRef<'_>) {
    let value_len = value.encoded_len();
    let body = bytes_field_len(1, namespace.len())
        + bytes_field_len(2, name.len())
        + message_field_len(3, value_len);
    Writer::append(out, message_field_len(4, body), |w| {
        w.message_header(4, body);
        w.bytes_field(1, namespace);
        w.bytes_field(2, name);
        value.write(w, 3, value_len);
    });
}

/// A state mutation to write: the state's name and its new value, or
/// `None` to delete it.
#[derive(Debug, Clone, Copy)]
pub struct MutationRef<'a> {
    /// `state_name`.
    pub name: &'a [u8],
    /// `state_value` with `mutation_type` MODIFY; `None`: DELETE.
    pub value: Option<ValueRef<'a>>,
}

impl MutationRef<'_> {
    /// The size of its body, and of its value's body.
    #[inline]
    fn sizes(&self) -> (usize, usize) {
        let name = bytes_field_len(2, self.name.len());
        match self.value {
            Some(v) => {
                let typed = v.encoded_len();
                (
                    varint_field_len(1, 1) + name + message_field_len(3, typed),
                    typed,
                )
            }
            // DELETE is the enum's default and is omitted.
            None => (name, 0),
        }
    }
}

/// The `FromFunction` of a batch that ran: its state `mutations`, then the
/// entries of `messages`, `delayed` and `egress` (each appended by the
/// `push_*` functions) in the order they were pushed.
#[inline]
pub fn write_result<'a>(
    mutations: impl Iterator<Item = MutationRef<'a>> + Clone,
    messages: &[u8],
    delayed: &[u8],
    egress: &[u8],
) -> Vec<u8> {
    let mut body = messages.len() + delayed.len() + egress.len();
    for mutation in mutations.clone() {
        body += message_field_len(1, mutation.sizes().0);
    }
    Writer::exact(message_field_len(100, body), |w| {
        w.raw(&KEY_INVOCATION_RESULT);
        w.varint(body as u64);
        for mutation in mutations {
            let (len, typed) = mutation.sizes();
            w.message_header(1, len);
            if let Some(value) = mutation.value {
                w.varint_field(1, 1);
                w.bytes_field(2, mutation.name);
                value.write(w, 3, typed);
            } else {
                w.bytes_field(2, mutation.name);
            }
        }
        // Each copy skipped when empty: a call to copy nothing costs as
        // much as a short copy.
        for entries in [messages, delayed, egress] {
            if !entries.is_empty() {
                w.raw(entries);
            }
        }
    })
}

/// A state value the function needs and did not get.
#[derive(Debug, Clone, Copy)]
pub struct MissingRef<'a> {
    /// `state_name`.
    pub name: &'a [u8],
    /// `type_typename`.
    pub type_name: &'a [u8],
    /// `expiration_spec.mode`: 0 NONE, 1 AFTER_WRITE, 2 AFTER_INVOKE.
    pub mode: u64,
    /// `expiration_spec.expire_after_millis`.
    pub expire_after_millis: i64,
}

impl MissingRef<'_> {
    fn expiration_len(&self) -> usize {
        varint_field_len(1, self.mode) + varint_field_len(2, int64_bits(self.expire_after_millis))
    }

    fn encoded_len(&self) -> usize {
        bytes_field_len(1, self.name.len())
            + message_field_len(2, self.expiration_len())
            + bytes_field_len(3, self.type_name.len())
    }
}

/// The `FromFunction` asking for `missing` state values. Like the Python
/// and Go SDKs, the expiration is always written, with mode NONE when the
/// value never expires.
pub fn write_incomplete<'a>(missing: impl Iterator<Item = MissingRef<'a>> + Clone) -> Vec<u8> {
    let body: usize = missing
        .clone()
        .map(|m| message_field_len(1, m.encoded_len()))
        .sum();
    Writer::exact(message_field_len(101, body), |w| {
        w.raw(&KEY_INCOMPLETE_CONTEXT);
        w.varint(body as u64);
        for m in missing {
            w.message_header(1, m.encoded_len());
            w.bytes_field(1, m.name);
            w.message_header(2, m.expiration_len());
            w.varint_field(1, m.mode);
            w.varint_field(2, int64_bits(m.expire_after_millis));
            w.bytes_field(3, m.type_name);
        }
    })
}
