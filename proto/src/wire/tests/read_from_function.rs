//! `from_function::read` against prost's `FromFunction::decode`.

use bytes::Bytes;
use proptest::prelude::*;
use prost::Message as _;

use crate::reqreply::{self as pb, FromFunction, from_function as pbf};
use crate::wire::from_function::{self, Response};
use crate::wire::{Address, DecodeError, Problem, Span, TypedValue};

/// Ours, as prost's types: to compare with what prost decodes.
fn to_prost(response: Option<&Response>, buf: &[u8]) -> FromFunction {
    let s = |span: Span| String::from_utf8(span.raw(buf).to_vec()).expect("checked UTF-8");
    let typed = |t: &TypedValue| pb::TypedValue {
        typename: s(t.type_name),
        has_value: t.has_value,
        value: Bytes::copy_from_slice(t.bytes.raw(buf)),
    };
    let address = |x: &Address| pb::Address {
        namespace: s(x.namespace),
        r#type: s(x.name),
        id: s(x.id),
    };
    let response = response.map(|r| match r {
        Response::Result(r) => pbf::Response::InvocationResult(pbf::InvocationResponse {
            state_mutations: r
                .state_mutations()
                .map(|m| pbf::PersistedValueMutation {
                    mutation_type: m.mutation_type,
                    state_name: s(m.state_name),
                    state_value: m.state_value.as_ref().map(typed),
                })
                .collect(),
            outgoing_messages: r
                .outgoing_messages()
                .map(|m| pbf::Invocation {
                    target: m.target.as_ref().map(address),
                    argument: m.argument.as_ref().map(typed),
                })
                .collect(),
            delayed_invocations: r
                .delayed_invocations()
                .map(|d| pbf::DelayedInvocation {
                    delay_in_ms: d.delay_in_ms,
                    target: d.target.as_ref().map(address),
                    argument: d.argument.as_ref().map(typed),
                    is_cancellation_request: d.is_cancellation_request,
                    cancellation_token: s(d.cancellation_token),
                })
                .collect(),
            outgoing_egresses: r
                .outgoing_egresses()
                .map(|e| pbf::EgressMessage {
                    egress_namespace: s(e.egress_namespace),
                    egress_type: s(e.egress_type),
                    argument: e.argument.as_ref().map(typed),
                })
                .collect(),
        }),
        Response::Incomplete(missing) => {
            pbf::Response::IncompleteInvocationContext(pbf::IncompleteInvocationContext {
                missing_values: missing
                    .iter()
                    .map(|m| pbf::PersistedValueSpec {
                        state_name: s(m.state_name),
                        expiration_spec: m.expiration_spec.map(|e| pbf::ExpirationSpec {
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

/// Ours, as prost's types.
fn decode(bytes: &[u8]) -> Result<FromFunction, DecodeError> {
    from_function::read(bytes).map(|r| to_prost(r.as_ref(), bytes))
}

/// Ours and prost's decoding of `bytes`, as prost's types (`None`:
/// refused).
fn both(bytes: &[u8]) -> (Option<FromFunction>, Option<FromFunction>) {
    (decode(bytes).ok(), FromFunction::decode(bytes).ok())
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

fn typed() -> impl Strategy<Value = pb::TypedValue> {
    (text(), any::<bool>(), bytes()).prop_map(|(typename, has_value, value)| pb::TypedValue {
        typename,
        has_value,
        value,
    })
}

fn address() -> impl Strategy<Value = pb::Address> {
    (text(), text(), text()).prop_map(|(namespace, r#type, id)| pb::Address {
        namespace,
        r#type,
        id,
    })
}

fn results() -> impl Strategy<Value = pbf::InvocationResponse> {
    let mutation = (int32(), text(), prop::option::of(typed())).prop_map(|(t, n, v)| {
        pbf::PersistedValueMutation {
            mutation_type: t,
            state_name: n,
            state_value: v,
        }
    });
    let outgoing = (prop::option::of(address()), prop::option::of(typed()))
        .prop_map(|(target, argument)| pbf::Invocation { target, argument });
    let delayed = (
        int64(),
        prop::option::of(address()),
        prop::option::of(typed()),
        any::<bool>(),
        text(),
    )
        .prop_map(
            |(d, target, argument, cancel, token)| pbf::DelayedInvocation {
                delay_in_ms: d,
                target,
                argument,
                is_cancellation_request: cancel,
                cancellation_token: token,
            },
        );
    let egress = (text(), text(), prop::option::of(typed())).prop_map(|(ns, t, argument)| {
        pbf::EgressMessage {
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
        .prop_map(|(m, o, d, e)| pbf::InvocationResponse {
            state_mutations: m,
            outgoing_messages: o,
            delayed_invocations: d,
            outgoing_egresses: e,
        })
}

fn missing() -> impl Strategy<Value = pbf::IncompleteInvocationContext> {
    let expiration = (int32(), int64()).prop_map(|(mode, after)| pbf::ExpirationSpec {
        mode,
        expire_after_millis: after,
    });
    let spec = (text(), prop::option::of(expiration), text()).prop_map(|(n, e, t)| {
        pbf::PersistedValueSpec {
            state_name: n,
            expiration_spec: e,
            type_typename: t,
        }
    });
    prop::collection::vec(spec, 0..4)
        .prop_map(|missing_values| pbf::IncompleteInvocationContext { missing_values })
}

fn answer() -> impl Strategy<Value = FromFunction> {
    prop::option::of(prop_oneof![
        results().prop_map(pbf::Response::InvocationResult),
        missing().prop_map(pbf::Response::IncompleteInvocationContext),
    ])
    .prop_map(|response| FromFunction { response })
}

proptest! {
    #[test]
    fn answers_decode_as_prost_wrote_them(message in answer()) {
        let bytes = message.encode_to_vec();
        prop_assert_eq!(decode(&bytes), Ok(message));
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
    let error = |problem, message| DecodeError::new(problem, message);
    // A varint that ends early, and one longer than 10 bytes.
    assert_eq!(
        refused(&[0x80]),
        error(Problem::TruncatedVarint, "FromFunction")
    );
    assert_eq!(
        refused(&[0xff; 11]),
        error(Problem::VarintOverflow, "FromFunction")
    );
    // Field 0, and wire type 7.
    assert_eq!(
        refused(&[0x00]),
        error(Problem::FieldNumberZero, "FromFunction")
    );
    assert_eq!(
        refused(&[0x0f]),
        error(Problem::UnsupportedWireType(7), "FromFunction")
    );
    // invocation_result (100) as a varint.
    assert_eq!(
        refused(&[0xa0, 0x06, 0x00]),
        error(
            Problem::WrongWireType {
                field: "invocation_result",
                wire_type: 0,
            },
            "FromFunction"
        )
    );
    // invocation_result of 5 bytes, with 1 there.
    assert_eq!(
        refused(&[0xa2, 0x06, 0x05, 0x00]),
        error(Problem::LengthPastEnd, "FromFunction")
    );
    // A state mutation named "\xff".
    assert_eq!(
        refused(&[0xa2, 0x06, 0x05, 0x0a, 0x03, 0x12, 0x01, 0xff]),
        error(
            Problem::InvalidUtf8 {
                field: "state_name"
            },
            "FromFunction.PersistedValueMutation"
        )
    );
    // An end-group tag with no group, and one closing another group.
    assert_eq!(
        refused(&[0x0c]),
        error(Problem::UnsupportedWireType(4), "FromFunction")
    );
    assert_eq!(
        refused(&[0x0b, 0x14]),
        error(Problem::MismatchedEndGroup, "FromFunction")
    );
    // A group never closed.
    assert_eq!(
        refused(&[0x0b]),
        error(Problem::UnterminatedGroup, "FromFunction")
    );
    // A fixed-size field cut short.
    assert_eq!(
        refused(&[0x0d, 0x00]),
        error(Problem::TruncatedFixed, "FromFunction")
    );
}

#[test]
fn groups_nest_as_deep_as_prost_allows() {
    // Unknown groups nested 100 deep are skipped; 101 are too deep.
    let nested = |n: usize| [vec![0x0b; n], vec![0x0c; n]].concat();
    assert!(FromFunction::decode(&nested(100)[..]).is_ok());
    let ours = from_function::read(&nested(100)).expect("skipped");
    assert!(ours.is_none());
    assert_eq!(refused(&nested(101)).problem(), Problem::TooDeep);
}

#[test]
fn errors_read_as_sentences() {
    let shown = DecodeError::new(
        Problem::WrongWireType {
            field: "target",
            wire_type: 0,
        },
        "FromFunction.Invocation",
    )
    .to_string();
    assert_eq!(
        shown,
        "wrong wire type 0 for field target in FromFunction.Invocation"
    );
    let cases: [(&[u8], &str); 6] = [
        (&[0x80], "truncated varint in FromFunction"),
        (
            &[0xa0, 0x06, 0x00],
            "wrong wire type 0 for field invocation_result in FromFunction",
        ),
        (
            &[0xa2, 0x06, 0x05, 0x0a, 0x03, 0x12, 0x01, 0xff],
            "invalid UTF-8 in field state_name in FromFunction.PersistedValueMutation",
        ),
        (&[0x0c], "unsupported wire type 4 in FromFunction"),
        (&[0x0b], "unterminated group in FromFunction"),
        (
            &[0xa2, 0x06, 0x05, 0x00],
            "field length exceeds the message in FromFunction",
        ),
    ];
    for (bytes, text) in cases {
        assert_eq!(refused(bytes).to_string(), text, "{bytes:02x?}");
    }
    let deep = [vec![0x0b; 101], vec![0x0c; 101]].concat();
    assert_eq!(
        refused(&deep).to_string(),
        "messages or groups nested more than 100 deep in FromFunction"
    );
}
