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
pub(crate) fn len_field_len(tag: u32, len: usize) -> usize {
    key_len(tag) + encoded_len_varint(len as u64) + len
}

/// A length-delimited field's key and length (the payload follows).
pub(crate) fn put_len_header(buf: &mut Vec<u8>, tag: u32, len: usize) {
    encode_key(tag, WireType::LengthDelimited, buf);
    encode_varint(len as u64, buf);
}

/// A proto3 `string`/`bytes` field's size (0 when empty: left out).
pub(crate) fn bytes_field_len(tag: u32, bytes: &[u8]) -> usize {
    if bytes.is_empty() {
        0
    } else {
        len_field_len(tag, bytes.len())
    }
}

/// A proto3 `string`/`bytes` field (left out when empty).
pub(crate) fn put_bytes_field(buf: &mut Vec<u8>, tag: u32, bytes: &[u8]) {
    if !bytes.is_empty() {
        put_len_header(buf, tag, bytes.len());
        buf.extend_from_slice(bytes);
    }
}

/// A proto3 `uint64`/`uint32`/enum field's size (0 when zero: left out).
pub(crate) fn varint_field_len(tag: u32, v: u64) -> usize {
    if v == 0 {
        0
    } else {
        key_len(tag) + encoded_len_varint(v)
    }
}

/// A proto3 `uint64`/`uint32`/enum field (left out when zero).
pub(crate) fn put_varint_field(buf: &mut Vec<u8>, tag: u32, v: u64) {
    if v != 0 {
        encode_key(tag, WireType::Varint, buf);
        encode_varint(v, buf);
    }
}

/// `reqreply.Address` (namespace 1, type 2, id 3).
fn address_len(a: &Address) -> usize {
    let t = a.function_type();
    bytes_field_len(1, t.namespace().as_bytes())
        + bytes_field_len(2, t.name().as_bytes())
        + bytes_field_len(3, a.id().as_bytes())
}

fn put_address(buf: &mut Vec<u8>, a: &Address) {
    let t = a.function_type();
    put_bytes_field(buf, 1, t.namespace().as_bytes());
    put_bytes_field(buf, 2, t.name().as_bytes());
    put_bytes_field(buf, 3, a.id().as_bytes());
}

/// `reqreply.TypedValue` (typename 1, has_value 2, value 3).
fn typed_value_len(type_name: &str, value: Option<&Bytes>) -> usize {
    bytes_field_len(1, type_name.as_bytes()) + value.map_or(0, |v| 2 + bytes_field_len(3, v))
}

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
fn persisted_value_len((name, value): &SentState<'_>) -> usize {
    bytes_field_len(1, name.as_bytes())
        + value.map_or(0, |(t, v)| len_field_len(2, typed_value_len(t, Some(v))))
}

/// `ToFunction.Invocation` (caller 1, argument 2).
fn invocation_len((caller, type_name, value): &SentInvocation<'_>) -> usize {
    caller.map_or(0, |c| len_field_len(1, address_len(c)))
        + len_field_len(2, typed_value_len(type_name, *value))
}

/// The encoded `ToFunction { invocation: InvocationBatchRequest { target,
/// state, invocations } }`.
pub(crate) fn to_function<'a, 'b>(
    target: &Address,
    states: impl Iterator<Item = SentState<'b>> + Clone,
    invocations: impl Iterator<Item = SentInvocation<'a>> + Clone,
) -> Bytes {
    let batch_len = len_field_len(1, address_len(target))
        + states
            .clone()
            .map(|s| len_field_len(2, persisted_value_len(&s)))
            .sum::<usize>()
        + invocations
            .clone()
            .map(|i| len_field_len(3, invocation_len(&i)))
            .sum::<usize>();
    let total = len_field_len(100, batch_len);
    let mut buf = Vec::with_capacity(total);
    put_len_header(&mut buf, 100, batch_len);
    put_len_header(&mut buf, 1, address_len(target));
    put_address(&mut buf, target);
    for state in states {
        put_len_header(&mut buf, 2, persisted_value_len(&state));
        let (name, value) = state;
        put_bytes_field(&mut buf, 1, name.as_bytes());
        if let Some((type_name, value)) = value {
            put_len_header(&mut buf, 2, typed_value_len(type_name, Some(value)));
            put_typed_value(&mut buf, type_name, Some(value));
        }
    }
    for invocation in invocations {
        put_len_header(&mut buf, 3, invocation_len(&invocation));
        let (caller, type_name, value) = invocation;
        if let Some(caller) = caller {
            put_len_header(&mut buf, 1, address_len(caller));
            put_address(&mut buf, caller);
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
