//! Protobuf decoding by hand, for the hot path: the `FromFunction` of every
//! answer, read in place. Strings and bytes are spans of the response body,
//! so nothing is copied until the harness keeps it. The result is what
//! prost decodes from the same bytes: the same fields, the same merging of
//! a message that comes in several pieces, the same inputs refused (a
//! varint or key that does not decode, a wrong wire type, a length past the
//! end, a string that is not UTF-8, a stray end-group tag, groups nested
//! past prost's recursion limit). The tests below check that against prost.

use bytes::Bytes;
// The varint and wire-type primitives are prost's own
// (`prost::encoding`); what is written here is the message layout.
use prost::encoding::{WireType, decode_varint};

/// How deep prost lets messages and groups nest (its `RECURSION_LIMIT`).
const RECURSION_LIMIT: u32 = 100;

/// The longest bytes field [`Answer::bytes`] copies rather than shares.
const COPIED: usize = 64;

/// Why a response is not a `FromFunction`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub(crate) enum DecodeError {
    /// A varint that runs past the end of its message, or past 64 bits.
    #[error("a varint runs past the end of its message or past 64 bits")]
    Varint,
    /// A field key with tag 0, a tag past 32 bits, or wire type 6 or 7.
    #[error("invalid field key {0}")]
    Key(u64),
    /// A known field with another wire type than its declared one.
    #[error("field {tag} has wire type {actual:?}, not {expected:?}")]
    WireType {
        /// The field.
        tag: u32,
        /// The wire type found.
        actual: WireType,
        /// The field's wire type.
        expected: WireType,
    },
    /// A length (or fixed-size field) runs past the end of its message.
    #[error("a length runs past the end of its message")]
    Truncated,
    /// A string field that is not UTF-8.
    #[error("string field {tag} is not UTF-8")]
    NotUtf8 {
        /// The field.
        tag: u32,
    },
    /// An end-group tag that closes no group, or another group.
    #[error("an end-group tag that does not close its group")]
    EndGroup,
    /// Groups nested deeper than prost allows.
    #[error("messages or groups nested deeper than {RECURSION_LIMIT}")]
    TooDeep,
}

/// Where a string or bytes field lies in the response body.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Span {
    start: usize,
    end: usize,
}

/// A decoded `FromFunction`: its body, and the response in it.
#[derive(Debug, Clone)]
pub(crate) struct Answer {
    body: Bytes,
    pub(crate) response: Option<Response>,
}

/// `FromFunction.response`.
#[derive(Debug, Clone)]
pub(crate) enum Response {
    /// `invocation_result` (100): the batch ran.
    Result(Results),
    /// `incomplete_invocation_context` (101): the missing values.
    Incomplete(Vec<MissingValue>),
}

/// `FromFunction.InvocationResponse`: its four repeated fields in one
/// list (one allocation, and a small `Answer` for the in-flight request
/// that holds it), each field's items in their order.
#[derive(Debug, Clone, Default)]
pub(crate) struct Results(Vec<Effect>);

/// One item of a repeated field of `FromFunction.InvocationResponse`.
#[derive(Debug, Clone, Copy)]
enum Effect {
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
    pub(crate) fn state_mutations(&self) -> impl Iterator<Item = &Mutation> {
        self.0.iter().filter_map(|e| match e {
            Effect::Mutation(m) => Some(m),
            _ => None,
        })
    }

    pub(crate) fn outgoing_messages(&self) -> impl Iterator<Item = &Outgoing> {
        self.0.iter().filter_map(|e| match e {
            Effect::Message(m) => Some(m),
            _ => None,
        })
    }

    pub(crate) fn delayed_invocations(&self) -> impl Iterator<Item = &Delayed> {
        self.0.iter().filter_map(|e| match e {
            Effect::Delayed(d) => Some(d),
            _ => None,
        })
    }

    pub(crate) fn outgoing_egresses(&self) -> impl Iterator<Item = &Egress> {
        self.0.iter().filter_map(|e| match e {
            Effect::Egress(e) => Some(e),
            _ => None,
        })
    }
}

/// `reqreply.TypedValue`.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct TypedValue {
    pub(crate) typename: Span,
    pub(crate) has_value: bool,
    pub(crate) value: Span,
}

/// `reqreply.Address`.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Address {
    pub(crate) namespace: Span,
    pub(crate) function_type: Span,
    pub(crate) id: Span,
}

/// `FromFunction.PersistedValueMutation`.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Mutation {
    pub(crate) mutation_type: i32,
    pub(crate) state_name: Span,
    pub(crate) state_value: Option<TypedValue>,
}

/// `FromFunction.Invocation`.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Outgoing {
    pub(crate) target: Option<Address>,
    pub(crate) argument: Option<TypedValue>,
}

/// `FromFunction.DelayedInvocation`.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Delayed {
    pub(crate) delay_in_ms: i64,
    pub(crate) target: Option<Address>,
    pub(crate) argument: Option<TypedValue>,
    pub(crate) is_cancellation_request: bool,
    pub(crate) cancellation_token: Span,
}

/// `FromFunction.EgressMessage`.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Egress {
    pub(crate) egress_namespace: Span,
    pub(crate) egress_type: Span,
    pub(crate) argument: Option<TypedValue>,
}

/// `FromFunction.PersistedValueSpec`.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct MissingValue {
    pub(crate) state_name: Span,
    pub(crate) expiration_spec: Option<Expiration>,
    pub(crate) type_typename: Span,
}

/// `FromFunction.ExpirationSpec`.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Expiration {
    pub(crate) mode: i32,
    pub(crate) expire_after_millis: i64,
}

impl Answer {
    /// The answer in `body`, decoded by [`from_function`].
    pub(crate) fn new(body: Bytes, response: Option<Response>) -> Self {
        Self { body, response }
    }

    /// A string field's text (checked to be UTF-8 when decoded).
    pub(crate) fn str(&self, span: Span) -> &str {
        std::str::from_utf8(self.slice(span)).unwrap_or_default()
    }

    /// A bytes field's bytes, to keep: a copy when small, else a slice of
    /// the body. Copying a few bytes costs less than sharing the body (the
    /// first share allocates its reference count, and every share and drop
    /// after is an atomic operation), and a small value kept then does not
    /// keep the whole response alive.
    pub(crate) fn bytes(&self, span: Span) -> Bytes {
        match self.body.get(span.start..span.end) {
            Some(small) if small.len() <= COPIED => Bytes::copy_from_slice(small),
            Some(_) => self.body.slice(span.start..span.end),
            None => Bytes::new(),
        }
    }

    /// A string or bytes field's bytes, borrowed.
    pub(crate) fn slice(&self, span: Span) -> &[u8] {
        self.body.get(span.start..span.end).unwrap_or_default()
    }
}

/// Decodes the response of a `FromFunction`, as `FromFunction::decode`
/// does; its spans are of `body`.
pub(crate) fn from_function(body: &[u8]) -> Result<Option<Response>, DecodeError> {
    let mut reader = Reader {
        body,
        pos: 0,
        end: body.len(),
        depth: RECURSION_LIMIT,
    };
    let mut response = None;
    while let Some((tag, wire)) = reader.key()? {
        match tag {
            // A oneof: a piece of the variant already set merges into it;
            // another variant starts afresh.
            100 => {
                let mut message = reader.message(tag, wire)?;
                if let Some(Response::Result(results)) = &mut response {
                    merge_results(results, &mut message)?;
                } else {
                    let mut results = Results::default();
                    merge_results(&mut results, &mut message)?;
                    response = Some(Response::Result(results));
                }
            }
            101 => {
                let mut message = reader.message(tag, wire)?;
                if let Some(Response::Incomplete(missing)) = &mut response {
                    merge_incomplete(missing, &mut message)?;
                } else {
                    let mut missing = Vec::new();
                    merge_incomplete(&mut missing, &mut message)?;
                    response = Some(Response::Incomplete(missing));
                }
            }
            _ => reader.skip(tag, wire)?,
        }
    }
    Ok(response)
}

/// Reads the fields of one message: `body[pos..end]`, nested `depth`
/// levels short of the recursion limit.
struct Reader<'a> {
    body: &'a [u8],
    pos: usize,
    end: usize,
    depth: u32,
}

impl<'a> Reader<'a> {
    #[inline]
    fn varint(&mut self) -> Result<u64, DecodeError> {
        // Most varints here (keys, lengths, flags) are one byte.
        match self.body.get(self.pos) {
            Some(&byte) if byte < 0x80 && self.pos < self.end => {
                self.pos += 1;
                Ok(u64::from(byte))
            }
            _ => self.long_varint(),
        }
    }

    fn long_varint(&mut self) -> Result<u64, DecodeError> {
        let mut rest = self.body.get(self.pos..self.end).unwrap_or_default();
        let before = rest.len();
        let value = decode_varint(&mut rest).map_err(|_| DecodeError::Varint)?;
        self.pos += before - rest.len();
        Ok(value)
    }

    /// The next field's tag and wire type, or `None` at the end.
    #[inline]
    fn key(&mut self) -> Result<Option<(u32, WireType)>, DecodeError> {
        if self.pos >= self.end {
            return Ok(None);
        }
        let key = self.varint()?;
        let field = u32::try_from(key)
            .ok()
            .filter(|k| k >> 3 != 0)
            .and_then(|k| Some((k >> 3, WireType::try_from(u64::from(k & 7)).ok()?)));
        field.map(Some).ok_or(DecodeError::Key(key))
    }

    /// Advances over `len` bytes.
    #[inline]
    fn take(&mut self, len: u64) -> Result<Span, DecodeError> {
        let left = self.end - self.pos;
        match usize::try_from(len) {
            Ok(len) if len <= left => {
                let span = Span {
                    start: self.pos,
                    end: self.pos + len,
                };
                self.pos = span.end;
                Ok(span)
            }
            _ => Err(DecodeError::Truncated),
        }
    }

    #[inline]
    fn expect(tag: u32, actual: WireType, expected: WireType) -> Result<(), DecodeError> {
        if actual == expected {
            Ok(())
        } else {
            Err(DecodeError::WireType {
                tag,
                actual,
                expected,
            })
        }
    }

    /// A length-delimited field's payload.
    #[inline]
    fn delimited(&mut self, tag: u32, wire: WireType) -> Result<Span, DecodeError> {
        Self::expect(tag, wire, WireType::LengthDelimited)?;
        let len = self.varint()?;
        self.take(len)
    }

    #[inline]
    fn bytes(&mut self, tag: u32, wire: WireType) -> Result<Span, DecodeError> {
        self.delimited(tag, wire)
    }

    #[inline]
    fn string(&mut self, tag: u32, wire: WireType) -> Result<Span, DecodeError> {
        let span = self.delimited(tag, wire)?;
        let text = self.body.get(span.start..span.end).unwrap_or_default();
        // ASCII (the usual case) is UTF-8, and quicker to tell.
        if !text.is_ascii() {
            std::str::from_utf8(text).map_err(|_| DecodeError::NotUtf8 { tag })?;
        }
        Ok(span)
    }

    #[inline]
    fn uint(&mut self, tag: u32, wire: WireType) -> Result<u64, DecodeError> {
        Self::expect(tag, wire, WireType::Varint)?;
        self.varint()
    }

    #[inline]
    fn bool(&mut self, tag: u32, wire: WireType) -> Result<bool, DecodeError> {
        Ok(self.uint(tag, wire)? != 0)
    }

    // protobuf's int32 and int64 are the low bits of the varint, two's
    // complement, as prost reads them.
    #[inline]
    #[allow(clippy::cast_possible_truncation, clippy::cast_possible_wrap)]
    fn int32(&mut self, tag: u32, wire: WireType) -> Result<i32, DecodeError> {
        Ok(self.uint(tag, wire)? as i32)
    }

    #[inline]
    #[allow(clippy::cast_possible_wrap)]
    fn int64(&mut self, tag: u32, wire: WireType) -> Result<i64, DecodeError> {
        Ok(self.uint(tag, wire)? as i64)
    }

    /// A nested message's fields, one level deeper.
    #[inline]
    fn message(&mut self, tag: u32, wire: WireType) -> Result<Reader<'a>, DecodeError> {
        let span = self.delimited(tag, wire)?;
        if self.depth == 0 {
            return Err(DecodeError::TooDeep);
        }
        Ok(Reader {
            body: self.body,
            pos: span.start,
            end: span.end,
            depth: self.depth - 1,
        })
    }

    /// Skips an unknown field, as prost's `skip_field` does.
    fn skip(&mut self, tag: u32, wire: WireType) -> Result<(), DecodeError> {
        if self.depth == 0 {
            return Err(DecodeError::TooDeep);
        }
        match wire {
            WireType::Varint => {
                self.varint()?;
            }
            WireType::ThirtyTwoBit => {
                self.take(4)?;
            }
            WireType::SixtyFourBit => {
                self.take(8)?;
            }
            WireType::LengthDelimited => {
                let len = self.varint()?;
                self.take(len)?;
            }
            WireType::StartGroup => loop {
                let (inner, inner_wire) = self.key()?.ok_or(DecodeError::Varint)?;
                if inner_wire == WireType::EndGroup {
                    if inner != tag {
                        return Err(DecodeError::EndGroup);
                    }
                    break;
                }
                self.depth -= 1;
                let skipped = self.skip(inner, inner_wire);
                self.depth += 1;
                skipped?;
            },
            WireType::EndGroup => return Err(DecodeError::EndGroup),
        }
        Ok(())
    }
}

fn merge_results(m: &mut Results, r: &mut Reader<'_>) -> Result<(), DecodeError> {
    while let Some((tag, wire)) = r.key()? {
        let effect = match tag {
            1 => Effect::Mutation(merged(r, tag, wire, merge_mutation)?),
            2 => Effect::Message(merged(r, tag, wire, merge_outgoing)?),
            3 => Effect::Delayed(merged(r, tag, wire, merge_delayed)?),
            4 => Effect::Egress(merged(r, tag, wire, merge_egress)?),
            _ => {
                r.skip(tag, wire)?;
                continue;
            }
        };
        m.0.push(effect);
    }
    Ok(())
}

/// An item of a repeated message field.
fn merged<T: Default>(
    r: &mut Reader<'_>,
    tag: u32,
    wire: WireType,
    merge: impl FnOnce(&mut T, &mut Reader<'_>) -> Result<(), DecodeError>,
) -> Result<T, DecodeError> {
    let mut item = T::default();
    merge(&mut item, &mut r.message(tag, wire)?)?;
    Ok(item)
}

fn merge_incomplete(m: &mut Vec<MissingValue>, r: &mut Reader<'_>) -> Result<(), DecodeError> {
    while let Some((tag, wire)) = r.key()? {
        if tag == 1 {
            m.push(merged(r, tag, wire, merge_missing)?);
        } else {
            r.skip(tag, wire)?;
        }
    }
    Ok(())
}

/// An optional message field: a second piece merges into the first.
fn merge_optional<T: Default>(
    field: &mut Option<T>,
    r: &mut Reader<'_>,
    tag: u32,
    wire: WireType,
    merge: impl FnOnce(&mut T, &mut Reader<'_>) -> Result<(), DecodeError>,
) -> Result<(), DecodeError> {
    let mut message = r.message(tag, wire)?;
    merge(field.get_or_insert_with(T::default), &mut message)
}

fn merge_typed_value(m: &mut TypedValue, r: &mut Reader<'_>) -> Result<(), DecodeError> {
    while let Some((tag, wire)) = r.key()? {
        match tag {
            1 => m.typename = r.string(tag, wire)?,
            2 => m.has_value = r.bool(tag, wire)?,
            3 => m.value = r.bytes(tag, wire)?,
            _ => r.skip(tag, wire)?,
        }
    }
    Ok(())
}

fn merge_address(m: &mut Address, r: &mut Reader<'_>) -> Result<(), DecodeError> {
    while let Some((tag, wire)) = r.key()? {
        match tag {
            1 => m.namespace = r.string(tag, wire)?,
            2 => m.function_type = r.string(tag, wire)?,
            3 => m.id = r.string(tag, wire)?,
            _ => r.skip(tag, wire)?,
        }
    }
    Ok(())
}

fn merge_mutation(m: &mut Mutation, r: &mut Reader<'_>) -> Result<(), DecodeError> {
    while let Some((tag, wire)) = r.key()? {
        match tag {
            1 => m.mutation_type = r.int32(tag, wire)?,
            2 => m.state_name = r.string(tag, wire)?,
            3 => merge_optional(&mut m.state_value, r, tag, wire, merge_typed_value)?,
            _ => r.skip(tag, wire)?,
        }
    }
    Ok(())
}

fn merge_outgoing(m: &mut Outgoing, r: &mut Reader<'_>) -> Result<(), DecodeError> {
    while let Some((tag, wire)) = r.key()? {
        match tag {
            1 => merge_optional(&mut m.target, r, tag, wire, merge_address)?,
            2 => merge_optional(&mut m.argument, r, tag, wire, merge_typed_value)?,
            _ => r.skip(tag, wire)?,
        }
    }
    Ok(())
}

fn merge_delayed(m: &mut Delayed, r: &mut Reader<'_>) -> Result<(), DecodeError> {
    while let Some((tag, wire)) = r.key()? {
        match tag {
            1 => m.delay_in_ms = r.int64(tag, wire)?,
            2 => merge_optional(&mut m.target, r, tag, wire, merge_address)?,
            3 => merge_optional(&mut m.argument, r, tag, wire, merge_typed_value)?,
            10 => m.is_cancellation_request = r.bool(tag, wire)?,
            11 => m.cancellation_token = r.string(tag, wire)?,
            _ => r.skip(tag, wire)?,
        }
    }
    Ok(())
}

fn merge_egress(m: &mut Egress, r: &mut Reader<'_>) -> Result<(), DecodeError> {
    while let Some((tag, wire)) = r.key()? {
        match tag {
            1 => m.egress_namespace = r.string(tag, wire)?,
            2 => m.egress_type = r.string(tag, wire)?,
            3 => merge_optional(&mut m.argument, r, tag, wire, merge_typed_value)?,
            _ => r.skip(tag, wire)?,
        }
    }
    Ok(())
}

fn merge_missing(m: &mut MissingValue, r: &mut Reader<'_>) -> Result<(), DecodeError> {
    while let Some((tag, wire)) = r.key()? {
        match tag {
            1 => m.state_name = r.string(tag, wire)?,
            2 => merge_optional(&mut m.expiration_spec, r, tag, wire, merge_expiration)?,
            3 => m.type_typename = r.string(tag, wire)?,
            _ => r.skip(tag, wire)?,
        }
    }
    Ok(())
}

fn merge_expiration(m: &mut Expiration, r: &mut Reader<'_>) -> Result<(), DecodeError> {
    while let Some((tag, wire)) = r.key()? {
        match tag {
            1 => m.mode = r.int32(tag, wire)?,
            2 => m.expire_after_millis = r.int64(tag, wire)?,
            _ => r.skip(tag, wire)?,
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use prost::Message as _;
    use statefun_proto::reqreply::{self as wire, FromFunction, from_function as pb};

    use super::*;

    /// Ours, as prost's types: to compare with what prost decodes.
    fn to_prost(a: &Answer) -> FromFunction {
        let s = |span: Span| a.str(span).to_owned();
        let typed = |t: &TypedValue| wire::TypedValue {
            typename: s(t.typename),
            has_value: t.has_value,
            value: a.bytes(t.value),
        };
        let address = |x: &Address| wire::Address {
            namespace: s(x.namespace),
            r#type: s(x.function_type),
            id: s(x.id),
        };
        let response = a.response.as_ref().map(|r| match r {
            Response::Result(r) => pb::Response::InvocationResult(pb::InvocationResponse {
                state_mutations: r
                    .state_mutations()
                    .map(|m| pb::PersistedValueMutation {
                        mutation_type: m.mutation_type,
                        state_name: s(m.state_name),
                        state_value: m.state_value.as_ref().map(typed),
                    })
                    .collect(),
                outgoing_messages: r
                    .outgoing_messages()
                    .map(|m| pb::Invocation {
                        target: m.target.as_ref().map(address),
                        argument: m.argument.as_ref().map(typed),
                    })
                    .collect(),
                delayed_invocations: r
                    .delayed_invocations()
                    .map(|d| pb::DelayedInvocation {
                        delay_in_ms: d.delay_in_ms,
                        target: d.target.as_ref().map(address),
                        argument: d.argument.as_ref().map(typed),
                        is_cancellation_request: d.is_cancellation_request,
                        cancellation_token: s(d.cancellation_token),
                    })
                    .collect(),
                outgoing_egresses: r
                    .outgoing_egresses()
                    .map(|e| pb::EgressMessage {
                        egress_namespace: s(e.egress_namespace),
                        egress_type: s(e.egress_type),
                        argument: e.argument.as_ref().map(typed),
                    })
                    .collect(),
            }),
            Response::Incomplete(missing) => {
                pb::Response::IncompleteInvocationContext(pb::IncompleteInvocationContext {
                    missing_values: missing
                        .iter()
                        .map(|m| pb::PersistedValueSpec {
                            state_name: s(m.state_name),
                            expiration_spec: m.expiration_spec.map(|e| pb::ExpirationSpec {
                                mode: e.mode,
                                expire_after_millis: e.expire_after_millis,
                            }),
                            type_typename: s(m.type_typename),
                        })
                        .collect(),
                })
            }
        });
        FromFunction { response }
    }

    fn decode(bytes: &[u8]) -> Result<Answer, DecodeError> {
        let response = from_function(bytes)?;
        Ok(Answer::new(Bytes::copy_from_slice(bytes), response))
    }

    /// Ours and prost's decoding of `bytes`, as prost's types (`None`:
    /// refused).
    fn both(bytes: &[u8]) -> (Option<FromFunction>, Option<FromFunction>) {
        let ours = decode(bytes).ok();
        let theirs = FromFunction::decode(bytes).ok();
        (ours.as_ref().map(to_prost), theirs)
    }

    fn text() -> impl Strategy<Value = String> {
        prop_oneof![Just(String::new()), "[a-z]{1,3}", "[a-zé/:]{100,150}"]
    }

    fn bytes() -> impl Strategy<Value = Bytes> {
        prop::collection::vec(any::<u8>(), 0..150).prop_map(Bytes::from)
    }

    fn int32() -> impl Strategy<Value = i32> {
        prop_oneof![Just(0), Just(1), Just(2), any::<i32>()]
    }

    fn int64() -> impl Strategy<Value = i64> {
        prop_oneof![Just(0), 1..100_000_i64, any::<i64>()]
    }

    fn typed() -> impl Strategy<Value = wire::TypedValue> {
        (text(), any::<bool>(), bytes()).prop_map(|(typename, has_value, value)| wire::TypedValue {
            typename,
            has_value,
            value,
        })
    }

    fn address() -> impl Strategy<Value = wire::Address> {
        (text(), text(), text()).prop_map(|(namespace, r#type, id)| wire::Address {
            namespace,
            r#type,
            id,
        })
    }

    fn results() -> impl Strategy<Value = pb::InvocationResponse> {
        let mutation = (int32(), text(), prop::option::of(typed())).prop_map(|(t, n, v)| {
            pb::PersistedValueMutation {
                mutation_type: t,
                state_name: n,
                state_value: v,
            }
        });
        let outgoing = (prop::option::of(address()), prop::option::of(typed()))
            .prop_map(|(target, argument)| pb::Invocation { target, argument });
        let delayed = (
            int64(),
            prop::option::of(address()),
            prop::option::of(typed()),
            any::<bool>(),
            text(),
        )
            .prop_map(
                |(d, target, argument, cancel, token)| pb::DelayedInvocation {
                    delay_in_ms: d,
                    target,
                    argument,
                    is_cancellation_request: cancel,
                    cancellation_token: token,
                },
            );
        let egress = (text(), text(), prop::option::of(typed())).prop_map(|(ns, t, argument)| {
            pb::EgressMessage {
                egress_namespace: ns,
                egress_type: t,
                argument,
            }
        });
        (
            prop::collection::vec(mutation, 0..3),
            prop::collection::vec(outgoing, 0..3),
            prop::collection::vec(delayed, 0..3),
            prop::collection::vec(egress, 0..3),
        )
            .prop_map(|(m, o, d, e)| pb::InvocationResponse {
                state_mutations: m,
                outgoing_messages: o,
                delayed_invocations: d,
                outgoing_egresses: e,
            })
    }

    fn missing() -> impl Strategy<Value = pb::IncompleteInvocationContext> {
        let expiration = (int32(), int64()).prop_map(|(mode, after)| pb::ExpirationSpec {
            mode,
            expire_after_millis: after,
        });
        let spec = (text(), prop::option::of(expiration), text()).prop_map(|(n, e, t)| {
            pb::PersistedValueSpec {
                state_name: n,
                expiration_spec: e,
                type_typename: t,
            }
        });
        prop::collection::vec(spec, 0..4)
            .prop_map(|missing_values| pb::IncompleteInvocationContext { missing_values })
    }

    fn answer() -> impl Strategy<Value = FromFunction> {
        prop::option::of(prop_oneof![
            results().prop_map(pb::Response::InvocationResult),
            missing().prop_map(pb::Response::IncompleteInvocationContext),
        ])
        .prop_map(|response| FromFunction { response })
    }

    proptest! {
        #[test]
        fn answers_decode_as_prost_wrote_them(message in answer()) {
            let bytes = message.encode_to_vec();
            let ours = decode(&bytes).map(|a| to_prost(&a));
            prop_assert_eq!(ours, Ok(message));
        }

        /// Answers sent in pieces (a message twice: its pieces merge; the
        /// other variant of the oneof: it replaces the first) and bytes
        /// changed, cut or added anywhere: ours decodes what prost decodes
        /// and refuses what prost refuses.
        #[test]
        fn changed_answers_decode_as_prost_decodes_them(
            first in answer(),
            second in answer(),
            edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..4),
            cut in prop::option::of(any::<prop::sample::Index>()),
            insert in prop::option::of((any::<prop::sample::Index>(), prop::collection::vec(any::<u8>(), 1..12))),
        ) {
            let mut bytes = first.encode_to_vec();
            bytes.extend(second.encode_to_vec());
            let (ours, theirs) = both(&bytes);
            prop_assert_eq!(ours, theirs);
            if !bytes.is_empty() {
                for (at, byte) in edits {
                    let at = at.index(bytes.len());
                    bytes[at] = byte;
                }
                if let Some(cut) = cut {
                    bytes.truncate(cut.index(bytes.len()));
                }
            }
            if let Some((at, extra)) = insert {
                let at = at.index(bytes.len() + 1);
                bytes.splice(at..at, extra);
            }
            let (ours, theirs) = both(&bytes);
            prop_assert_eq!(ours, theirs);
        }

        #[test]
        fn any_bytes_decode_as_prost_decodes_them(
            bytes in prop::collection::vec(any::<u8>(), 0..64),
        ) {
            let (ours, theirs) = both(&bytes);
            prop_assert_eq!(ours, theirs);
        }
    }

    fn refused(bytes: &[u8]) -> DecodeError {
        assert!(
            FromFunction::decode(bytes).is_err(),
            "prost accepts {bytes:?}"
        );
        decode(bytes).expect_err("refused")
    }

    #[test]
    fn malformed_answers_give_typed_errors() {
        // A varint that ends early, and one longer than 10 bytes.
        assert_eq!(refused(&[0x80]), DecodeError::Varint);
        assert_eq!(refused(&[0xff; 11]), DecodeError::Varint);
        // Tag 0, and wire type 7.
        assert_eq!(refused(&[0x00]), DecodeError::Key(0));
        assert_eq!(refused(&[0x0f]), DecodeError::Key(0x0f));
        // invocation_result (100) as a varint.
        assert_eq!(
            refused(&[0xa0, 0x06, 0x00]),
            DecodeError::WireType {
                tag: 100,
                actual: WireType::Varint,
                expected: WireType::LengthDelimited,
            }
        );
        // invocation_result of 5 bytes, with 1 there.
        assert_eq!(refused(&[0xa2, 0x06, 0x05, 0x00]), DecodeError::Truncated);
        // A state mutation named "\xff".
        assert_eq!(
            refused(&[0xa2, 0x06, 0x05, 0x0a, 0x03, 0x12, 0x01, 0xff]),
            DecodeError::NotUtf8 { tag: 2 }
        );
        // An end-group tag with no group, and one closing another group.
        assert_eq!(refused(&[0x0c]), DecodeError::EndGroup);
        assert_eq!(refused(&[0x0b, 0x14]), DecodeError::EndGroup);
        // A group never closed.
        assert_eq!(refused(&[0x0b]), DecodeError::Varint);
        // A fixed-size field cut short.
        assert_eq!(refused(&[0x0d, 0x00]), DecodeError::Truncated);
    }

    #[test]
    fn groups_nest_as_deep_as_prost_allows() {
        // Unknown groups nested 100 deep are skipped; 101 are too deep.
        let nested = |n: usize| [vec![0x0b; n], vec![0x0c; n]].concat();
        assert!(FromFunction::decode(&nested(100)[..]).is_ok());
        let ours = decode(&nested(100)).expect("skipped");
        assert!(ours.response.is_none());
        assert_eq!(refused(&nested(101)), DecodeError::TooDeep);
    }

    #[test]
    fn errors_read_as_sentences() {
        let shown = DecodeError::WireType {
            tag: 3,
            actual: WireType::Varint,
            expected: WireType::LengthDelimited,
        }
        .to_string();
        assert_eq!(shown, "field 3 has wire type Varint, not LengthDelimited");
    }
}
