//! Protobuf encoding by hand, for the hot paths: the `ToFunction` of every
//! request, written straight from the harness's own data (no intermediate
//! message with copies of every string). The bytes are exactly what prost
//! writes for the same message (fields in tag order, proto3 defaults left
//! out); the tests below check that against prost.

use bytes::Bytes;
use statefun_sdk::Address;

// The varint and key primitives are prost's own
// (`prost::encoding`); what is written here is the message layout.
use prost::encoding::{WireType, encode_key, encode_varint, encoded_len_varint, key_len};

/// A length-delimited field's size: key, length, payload.
#[inline]
pub(crate) fn len_field_len(tag: u32, len: usize) -> usize {
    key_len(tag) + encoded_len_varint(len as u64) + len
}

/// A varint: one byte when below 128 (keys of tags below 16, most
/// lengths), else as prost writes it.
#[inline]
fn put_varint(buf: &mut Vec<u8>, v: u64) {
    match u8::try_from(v) {
        Ok(byte) if byte < 0x80 => buf.push(byte),
        _ => encode_varint(v, buf),
    }
}

/// A field's key: one byte for tags below 16.
#[inline]
fn put_key(buf: &mut Vec<u8>, tag: u32, wire_type: WireType) {
    if tag < 16 {
        put_varint(buf, u64::from(tag << 3 | wire_type as u32));
    } else {
        encode_key(tag, wire_type, buf);
    }
}

/// A length-delimited field's key and length (the payload follows).
#[inline]
pub(crate) fn put_len_header(buf: &mut Vec<u8>, tag: u32, len: usize) {
    put_key(buf, tag, WireType::LengthDelimited);
    put_varint(buf, len as u64);
}

/// A proto3 `string`/`bytes` field's size (0 when empty: left out).
#[inline]
pub(crate) fn bytes_field_len(tag: u32, bytes: &[u8]) -> usize {
    if bytes.is_empty() {
        0
    } else {
        len_field_len(tag, bytes.len())
    }
}

/// A proto3 `string`/`bytes` field (left out when empty).
#[inline]
pub(crate) fn put_bytes_field(buf: &mut Vec<u8>, tag: u32, bytes: &[u8]) {
    if !bytes.is_empty() {
        put_len_header(buf, tag, bytes.len());
        buf.extend_from_slice(bytes);
    }
}

/// A proto3 `uint64`/`uint32`/enum field's size (0 when zero: left out).
#[inline]
pub(crate) fn varint_field_len(tag: u32, v: u64) -> usize {
    if v == 0 {
        0
    } else {
        key_len(tag) + encoded_len_varint(v)
    }
}

/// A proto3 `uint64`/`uint32`/enum field (left out when zero).
#[inline]
pub(crate) fn put_varint_field(buf: &mut Vec<u8>, tag: u32, v: u64) {
    if v != 0 {
        put_key(buf, tag, WireType::Varint);
        put_varint(buf, v);
    }
}

/// `reqreply.Address` (namespace 1, type 2, id 3), its parts read once
/// (reading an id checks its UTF-8 again).
struct AddressParts<'a> {
    namespace: &'a [u8],
    name: &'a [u8],
    id: &'a [u8],
}

impl<'a> AddressParts<'a> {
    #[inline]
    fn new(a: &'a Address) -> Self {
        let t = a.function_type();
        Self {
            namespace: t.namespace().as_bytes(),
            name: t.name().as_bytes(),
            id: a.id().as_bytes(),
        }
    }

    #[inline]
    fn len(&self) -> usize {
        bytes_field_len(1, self.namespace)
            + bytes_field_len(2, self.name)
            + bytes_field_len(3, self.id)
    }

    #[inline]
    fn put(&self, buf: &mut Vec<u8>) {
        put_bytes_field(buf, 1, self.namespace);
        put_bytes_field(buf, 2, self.name);
        put_bytes_field(buf, 3, self.id);
    }
}

/// `reqreply.TypedValue` (typename 1, has_value 2, value 3).
#[inline]
fn typed_value_len(type_name: &str, value: Option<&Bytes>) -> usize {
    bytes_field_len(1, type_name.as_bytes()) + value.map_or(0, |v| 2 + bytes_field_len(3, v))
}

#[inline]
fn put_typed_value(buf: &mut Vec<u8>, type_name: &str, value: Option<&Bytes>) {
    put_bytes_field(buf, 1, type_name.as_bytes());
    if let Some(value) = value {
        put_varint_field(buf, 2, 1);
        put_bytes_field(buf, 3, value);
    }
}

/// A state sent with a request: its name and, when it has one, its value's
/// typename and bytes.
pub(crate) type SentState<'a> = (&'a str, Option<(&'a str, &'a Bytes)>);

/// An invocation sent with a request: the caller, the argument's typename
/// and its bytes (`None`: no value).
pub(crate) type SentInvocation<'a> = (Option<&'a Address>, &'a str, Option<&'a Bytes>);

/// `ToFunction.PersistedValue` (state_name 1, state_value 2).
#[inline]
fn persisted_value_len((name, value): &SentState<'_>) -> usize {
    bytes_field_len(1, name.as_bytes())
        + value.map_or(0, |(t, v)| len_field_len(2, typed_value_len(t, Some(v))))
}

/// `ToFunction.Invocation` (caller 1, argument 2), given the caller's size.
#[inline]
fn invocation_len(caller: Option<usize>, type_name: &str, value: Option<&Bytes>) -> usize {
    caller.map_or(0, |c| len_field_len(1, c)) + len_field_len(2, typed_value_len(type_name, value))
}

/// The encoded `ToFunction { invocation: InvocationBatchRequest { target,
/// state, invocations } }`.
pub(crate) fn to_function<'a, 'b>(
    target: &Address,
    states: impl Iterator<Item = SentState<'b>> + Clone,
    invocations: impl Iterator<Item = SentInvocation<'a>> + Clone,
) -> Bytes {
    let target = AddressParts::new(target);
    let target_len = target.len();
    let batch_len = len_field_len(1, target_len)
        + states
            .clone()
            .map(|s| len_field_len(2, persisted_value_len(&s)))
            .sum::<usize>()
        + invocations
            .clone()
            .map(|(caller, type_name, value)| {
                let caller = caller.map(|c| AddressParts::new(c).len());
                len_field_len(3, invocation_len(caller, type_name, value))
            })
            .sum::<usize>();
    let total = len_field_len(100, batch_len);
    let mut buf = Vec::with_capacity(total);
    put_len_header(&mut buf, 100, batch_len);
    put_len_header(&mut buf, 1, target_len);
    target.put(&mut buf);
    for state in states {
        put_len_header(&mut buf, 2, persisted_value_len(&state));
        let (name, value) = state;
        put_bytes_field(&mut buf, 1, name.as_bytes());
        if let Some((type_name, value)) = value {
            put_len_header(&mut buf, 2, typed_value_len(type_name, Some(value)));
            put_typed_value(&mut buf, type_name, Some(value));
        }
    }
    for (caller, type_name, value) in invocations {
        let caller = caller.map(AddressParts::new);
        let caller_len = caller.as_ref().map(AddressParts::len);
        put_len_header(&mut buf, 3, invocation_len(caller_len, type_name, value));
        if let (Some(caller), Some(len)) = (caller, caller_len) {
            put_len_header(&mut buf, 1, len);
            caller.put(&mut buf);
        }
        put_len_header(&mut buf, 2, typed_value_len(type_name, value));
        put_typed_value(&mut buf, type_name, value);
    }
    debug_assert_eq!(buf.len(), total);
    Bytes::from(buf)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use prost::Message as _;
    use statefun_proto::reqreply::{self as wire, ToFunction, to_function};
    use statefun_sdk::TypeName;

    use super::*;

    fn wire_address(a: &Address) -> wire::Address {
        wire::Address {
            namespace: a.function_type().namespace().to_owned(),
            r#type: a.function_type().name().to_owned(),
            id: a.id().to_owned(),
        }
    }

    /// What prost writes for the same request.
    fn by_prost(
        target: &Address,
        states: &[SentState<'_>],
        invocations: &[SentInvocation<'_>],
    ) -> Vec<u8> {
        ToFunction {
            request: Some(to_function::Request::Invocation(
                to_function::InvocationBatchRequest {
                    target: Some(wire_address(target)),
                    state: states
                        .iter()
                        .map(|(name, value)| to_function::PersistedValue {
                            state_name: (*name).to_owned(),
                            state_value: value.map(|(t, v)| wire::TypedValue {
                                typename: t.to_owned(),
                                has_value: true,
                                value: v.clone(),
                            }),
                        })
                        .collect(),
                    invocations: invocations
                        .iter()
                        .map(|(caller, t, v)| to_function::Invocation {
                            caller: caller.map(wire_address),
                            argument: Some(wire::TypedValue {
                                typename: (*t).to_owned(),
                                has_value: v.is_some(),
                                value: v.cloned().unwrap_or_default(),
                            }),
                        })
                        .collect(),
                },
            )),
        }
        .encode_to_vec()
    }

    #[test]
    fn varint_fields() {
        for v in [
            1,
            127,
            128,
            300,
            16_383,
            16_384,
            u64::from(u32::MAX),
            u64::MAX,
        ] {
            let mut buf = Vec::new();
            put_varint_field(&mut buf, 5, v);
            assert_eq!(buf.len(), varint_field_len(5, v), "{v}");
            let mut read = &buf[..];
            assert_eq!(prost::encoding::decode_varint(&mut read).ok(), Some(5 << 3));
            assert_eq!(prost::encoding::decode_varint(&mut read).ok(), Some(v));
        }
        // Zero is left out, as proto3 does.
        let mut buf = Vec::new();
        put_varint_field(&mut buf, 5, 0);
        assert!(buf.is_empty());
        assert_eq!(varint_field_len(5, 0), 0);
    }

    fn text() -> impl Strategy<Value = String> {
        prop_oneof![Just(String::new()), "[a-z]{1,3}", "[a-zé]{100,200}"]
    }

    fn bytes() -> impl Strategy<Value = Bytes> {
        prop::collection::vec(any::<u8>(), 0..200).prop_map(Bytes::from)
    }

    fn address() -> impl Strategy<Value = Address> {
        ("[a-z]{1,3}", "[a-z]{1,130}", text())
            .prop_map(|(ns, name, id)| Address::new(TypeName::new(&ns, &name).expect("valid"), id))
    }

    proptest! {
        #[test]
        fn requests_are_the_bytes_prost_writes(
            target in address(),
            states in prop::collection::vec((text(), prop::option::of((text(), bytes()))), 0..4),
            invocations in prop::collection::vec(
                (prop::option::of(address()), text(), prop::option::of(bytes())),
                0..4,
            ),
        ) {
            let states: Vec<SentState<'_>> = states
                .iter()
                .map(|(n, v)| (n.as_str(), v.as_ref().map(|(t, b)| (t.as_str(), b))))
                .collect();
            let invocations: Vec<SentInvocation<'_>> = invocations
                .iter()
                .map(|(c, t, v)| (c.as_ref(), t.as_str(), v.as_ref()))
                .collect();
            let ours = to_function(&target, states.iter().copied(), invocations.iter().copied());
            prop_assert_eq!(&ours[..], &by_prost(&target, &states, &invocations)[..]);
        }
    }
}
