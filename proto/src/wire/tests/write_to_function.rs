//! `to_function::write` against prost's encoding of the same `ToFunction`.

use bytes::Bytes;
use proptest::prelude::*;
use prost::Message as _;

use crate::reqreply::{self as pb, ToFunction, to_function as pbt};
use crate::wire::to_function::{self, InvocationRef, StateRef};
use crate::wire::{AddressRef, ValueRef};

/// An address as generated: namespace, name, id.
type Parts = (String, String, String);

fn address_ref(a: &Parts) -> AddressRef<'_> {
    AddressRef {
        namespace: a.0.as_bytes(),
        name: a.1.as_bytes(),
        id: a.2.as_bytes(),
    }
}

fn prost_address(a: &AddressRef<'_>) -> pb::Address {
    let s = |b: &[u8]| String::from_utf8(b.to_vec()).expect("generated as text");
    pb::Address {
        namespace: s(a.namespace),
        r#type: s(a.name),
        id: s(a.id),
    }
}

fn prost_value(v: &ValueRef<'_>) -> pb::TypedValue {
    pb::TypedValue {
        typename: String::from_utf8(v.type_name.to_vec()).expect("generated as text"),
        has_value: v.bytes.is_some(),
        value: v.bytes.map(Bytes::copy_from_slice).unwrap_or_default(),
    }
}

/// What prost writes for the same request.
fn by_prost(
    target: &AddressRef<'_>,
    states: &[StateRef<'_>],
    invocations: &[InvocationRef<'_>],
) -> Vec<u8> {
    ToFunction {
        request: Some(pbt::Request::Invocation(pbt::InvocationBatchRequest {
            target: Some(prost_address(target)),
            state: states
                .iter()
                .map(|s| pbt::PersistedValue {
                    state_name: String::from_utf8(s.name.to_vec()).expect("generated as text"),
                    state_value: s.value.as_ref().map(prost_value),
                })
                .collect(),
            invocations: invocations
                .iter()
                .map(|i| pbt::Invocation {
                    caller: i.caller.as_ref().map(prost_address),
                    argument: Some(prost_value(&i.argument)),
                })
                .collect(),
        })),
    }
    .encode_to_vec()
}

fn text() -> impl Strategy<Value = String> {
    prop_oneof![Just(String::new()), "[a-z]{1,3}", "[a-zé]{100,200}"]
}

fn bytes() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(any::<u8>(), 0..200)
}

fn address() -> impl Strategy<Value = Parts> {
    ("[a-z]{1,3}", "[a-z]{1,130}", text())
}

/// Any address, empty parts included: the codec does not validate them.
fn any_address() -> impl Strategy<Value = Parts> {
    prop_oneof![3 => address(), 1 => (text(), text(), text())]
}

proptest! {
    #[test]
    fn requests_are_the_bytes_prost_writes(
        target in any_address(),
        states in prop::collection::vec(
            (text(), prop::option::of((text(), prop::option::of(bytes())))),
            0..4,
        ),
        invocations in prop::collection::vec(
            (prop::option::of(any_address()), text(), prop::option::of(bytes())),
            0..4,
        ),
    ) {
        let states: Vec<StateRef<'_>> = states
            .iter()
            .map(|(n, v)| StateRef {
                name: n.as_bytes(),
                value: v.as_ref().map(|(t, b)| ValueRef {
                    type_name: t.as_bytes(),
                    bytes: b.as_deref(),
                }),
            })
            .collect();
        let invocations: Vec<InvocationRef<'_>> = invocations
            .iter()
            .map(|(c, t, v)| InvocationRef {
                caller: c.as_ref().map(address_ref),
                argument: ValueRef { type_name: t.as_bytes(), bytes: v.as_deref() },
            })
            .collect();
        let target = address_ref(&target);
        let ours = to_function::write(target, states.iter().copied(), invocations.iter().copied());
        prop_assert_eq!(&ours[..], &by_prost(&target, &states, &invocations)[..]);
        // And it reads back: on the fast path, as prost reads it.
        let mut batch = to_function::Batch::default();
        prop_assert!(to_function::read_canonical(&ours, &mut batch).is_some());
        prop_assert_eq!(Ok(batch), to_function::read(&ours));
    }
}

/// A value of `len` bytes makes each layer's length prefix cross from one
/// to two and from two to three bytes.
#[test]
fn long_requests_are_the_bytes_prost_writes() {
    let all = super::filler(16_500, 3);
    let target = AddressRef {
        namespace: b"com.example",
        name: b"fn",
        id: b"42",
    };
    for len in (100..=140).chain(16_300..=16_500) {
        let value = ValueRef {
            type_name: b"com.example/v",
            bytes: Some(&all[..len]),
        };
        let states = [StateRef {
            name: b"s",
            value: Some(value),
        }];
        let invocations = [InvocationRef {
            caller: Some(target),
            argument: value,
        }];
        let ours = to_function::write(target, states.iter().copied(), invocations.iter().copied());
        assert_eq!(ours, by_prost(&target, &states, &invocations), "{len}");
        let ours = to_function::write(target, [].into_iter(), invocations.iter().copied());
        assert_eq!(ours, by_prost(&target, &[], &invocations), "{len}");
    }
}
