//! The protocol adapter against prost's generated code: what the SDK's
//! types become on the wire, and what a request gives the handler. The
//! codec itself is tested in `statefun_protocol::wire`.

use std::time::Duration;

use bytes::Bytes;
use proptest::prelude::*;
use prost::Message as _;
use statefun_protocol::reqreply::{
    self as wire, FromFunction, ToFunction, from_function, to_function,
};

use super::{Request, ResponseWriter};
use crate::value::{IntoTypedBytes, TypedBytes};
use crate::{
    Address, CancellationToken, EgressIdentifier, Expiration, KafkaRecord, KinesisRecord, Storage,
    TypeName, ValueSpec,
};

/// A request as the handler sees it: target, states by name, and each
/// invocation's caller and message, against what prost decodes.
fn check_request(request: &ToFunction) -> Result<(), TestCaseError> {
    let body = Bytes::from(request.encode_to_vec());
    let Some(to_function::Request::Invocation(batch)) = &request.request else {
        unreachable!("generated with a batch")
    };
    let mut ours = Request::default();
    ours.read(body)
        .map_err(|e| TestCaseError::fail(e.to_string()))?;
    let target = ours.target().map(|t| {
        (
            t.namespace.to_vec(),
            t.name.to_vec(),
            ours.id(t).as_str().to_owned(),
        )
    });
    let theirs = batch.target.as_ref().map(|t| {
        (
            t.namespace.clone().into_bytes(),
            t.r#type.clone().into_bytes(),
            t.id.clone(),
        )
    });
    prop_assert_eq!(target, theirs);
    for state in &batch.state {
        // The last state of a name wins.
        let last = batch
            .state
            .iter()
            .rfind(|s| s.state_name == state.state_name)
            .unwrap();
        let expected = last
            .state_value
            .as_ref()
            .filter(|v| v.has_value)
            .map(|v| (v.typename.as_bytes().to_vec(), v.value.to_vec()));
        let got = ours
            .state(&state.state_name)
            .expect("sent")
            .map(|(t, b)| (t.to_vec(), b.as_slice().to_vec()));
        prop_assert_eq!(got, expected);
    }
    prop_assert!(ours.state("never-sent").is_none());
    prop_assert_eq!(ours.invocations().len(), batch.invocations.len());
    for (invocation, theirs) in ours.invocations().zip(&batch.invocations) {
        let caller = invocation.caller().map(|c| {
            (
                c.namespace.to_vec(),
                c.name.to_vec(),
                ours.id(c).as_str().to_owned(),
            )
        });
        let expected = theirs
            .caller
            .as_ref()
            .filter(|c| !(c.namespace.is_empty() && c.r#type.is_empty() && c.id.is_empty()))
            .map(|c| {
                (
                    c.namespace.clone().into_bytes(),
                    c.r#type.clone().into_bytes(),
                    c.id.clone(),
                )
            });
        prop_assert_eq!(caller, expected);
        let (type_name, value) = invocation.message();
        let argument = theirs.argument.clone().unwrap_or_default();
        prop_assert_eq!(type_name.as_str(), argument.typename.as_str());
        prop_assert_eq!(
            value.map(|v| v.as_slice().to_vec()),
            argument.has_value.then(|| argument.value.to_vec())
        );
    }
    Ok(())
}

fn any_prost_address() -> impl Strategy<Value = wire::Address> {
    ("[a-z.]{0,6}", "[a-z]{0,6}", "\\PC{0,50}").prop_map(|(namespace, r#type, id)| wire::Address {
        namespace,
        r#type,
        id,
    })
}

fn any_prost_value() -> impl Strategy<Value = wire::TypedValue> {
    (
        "[a-z./]{0,12}",
        any::<bool>(),
        proptest::collection::vec(any::<u8>(), 0..60),
    )
        .prop_map(|(typename, has_value, value)| wire::TypedValue {
            typename,
            has_value,
            value: value.into(),
        })
}

fn any_request() -> impl Strategy<Value = ToFunction> {
    (
        proptest::option::of(any_prost_address()),
        proptest::collection::vec(("[ab]{1,2}", proptest::option::of(any_prost_value())), 0..5),
        proptest::collection::vec(
            (
                proptest::option::of(any_prost_address()),
                proptest::option::of(any_prost_value()),
            ),
            0..4,
        ),
    )
        .prop_map(|(target, states, invocations)| ToFunction {
            request: Some(to_function::Request::Invocation(
                to_function::InvocationBatchRequest {
                    target,
                    state: states
                        .into_iter()
                        .map(|(state_name, state_value)| to_function::PersistedValue {
                            state_name,
                            state_value,
                        })
                        .collect(),
                    invocations: invocations
                        .into_iter()
                        .map(|(caller, argument)| to_function::Invocation { caller, argument })
                        .collect(),
                },
            )),
        })
}

proptest! {
    #[test]
    fn requests_give_the_handler_what_prost_reads(request in any_request()) {
        check_request(&request)?;
    }
}

fn any_type_name() -> impl Strategy<Value = TypeName> {
    ("[a-z][a-z.]{0,8}", "[A-Za-z][A-Za-z0-9_]{0,8}")
        .prop_map(|(ns, name)| TypeName::new(&ns, &name).unwrap())
}

fn any_typed_bytes() -> impl Strategy<Value = TypedBytes> {
    (
        any_type_name(),
        proptest::collection::vec(any::<u8>(), 0..300),
    )
        .prop_map(|(t, v)| TypedBytes::new(t, v.into()))
}

fn any_our_address() -> impl Strategy<Value = Address> {
    (any_type_name(), "\\PC{0,10}").prop_map(|(t, id)| Address::new(t, id))
}

/// A delayed message or a cancellation.
#[derive(Debug, Clone)]
enum Delayed {
    Send {
        delay_ms: i64,
        target: Address,
        value: TypedBytes,
        token: Option<CancellationToken>,
    },
    Cancel(CancellationToken),
}

fn any_delayed() -> impl Strategy<Value = Delayed> {
    prop_oneof![
        (
            any::<i64>(),
            any_our_address(),
            any_typed_bytes(),
            proptest::option::of("\\PC{1,10}")
        )
            .prop_map(|(delay_ms, target, value, token)| Delayed::Send {
                delay_ms,
                target,
                value,
                token: token.map(|t| CancellationToken::new(t).unwrap()),
            }),
        "\\PC{1,10}".prop_map(|t| Delayed::Cancel(CancellationToken::new(t).unwrap())),
    ]
}

fn to_prost_address(a: &Address) -> wire::Address {
    wire::Address {
        namespace: a.function_type().namespace().into(),
        r#type: a.function_type().name().into(),
        id: a.id().into(),
    }
}

fn to_prost_value(v: &TypedBytes) -> wire::TypedValue {
    wire::TypedValue {
        typename: v.type_name().as_str().into(),
        has_value: true,
        value: v.bytes().clone(),
    }
}

/// Which state cells a test batch touches: set to a string, removed, or
/// left alone.
#[derive(Debug, Clone)]
enum Touch {
    Set(String),
    Remove,
    Keep,
}

/// The storage of `t/f:1` declaring `specs`, all received without a value.
fn empty_storage(specs: &[ValueSpec<String>]) -> Storage {
    let state_specs: Vec<_> = specs.iter().map(|s| s.to_state_spec().unwrap()).collect();
    let address = Address::new(TypeName::from_static("t/f"), "1");
    let mut storage = Storage::new(state_specs.into(), address);
    storage.resolve(|_| Some(None)).expect("all present");
    storage
}

/// The mutation prost expects for `spec` set to `value`.
fn string_modified(
    spec: &ValueSpec<String>,
    value: &String,
) -> from_function::PersistedValueMutation {
    from_function::PersistedValueMutation {
        mutation_type: 1,
        state_name: spec.name().into(),
        state_value: Some(wire::TypedValue {
            typename: "io.statefun.types/string".into(),
            has_value: true,
            value: crate::Value::to_bytes(value).unwrap(),
        }),
    }
}

/// More mutations than the encoder keeps sizes for (8), of lengths on
/// both sides of the one-byte length prefix, every one written.
#[test]
fn encodes_many_mutations_exactly_as_prost() {
    let lengths = [0, 5, 127, 128, 200, 1, 300, 3, 130, 2, 1000];
    let specs: Vec<ValueSpec<String>> = (0..lengths.len())
        .map(|i| ValueSpec::try_named(format!("s{i}")).unwrap())
        .collect();
    let mut storage = empty_storage(&specs);
    let mut mutations = Vec::new();
    for (spec, &len) in specs.iter().zip(&lengths) {
        let value = "x".repeat(len);
        storage.set(spec, &value).unwrap();
        mutations.push(string_modified(spec, &value));
    }
    let theirs = FromFunction {
        response: Some(from_function::Response::InvocationResult(
            from_function::InvocationResponse {
                state_mutations: mutations,
                ..Default::default()
            },
        )),
    };
    let ours = ResponseWriter::default().finish(storage.mutations());
    assert_eq!(&ours[..], &theirs.encode_to_vec()[..]);
}

proptest! {
    #[test]
    fn encodes_results_exactly_as_prost(
        messages in proptest::collection::vec((any_our_address(), any_typed_bytes()), 0..4),
        delayed in proptest::collection::vec(any_delayed(), 0..4),
        egress in proptest::collection::vec((any_type_name(), any_typed_bytes()), 0..4),
        touches in proptest::collection::vec(
            prop_oneof![
                "\\PC{0,200}".prop_map(Touch::Set),
                Just(Touch::Remove),
                Just(Touch::Keep)
            ],
            // Past the eight mutations whose sizes the encoder keeps.
            0..12,
        ),
    ) {
        let specs: Vec<ValueSpec<String>> =
            (0..touches.len()).map(|i| ValueSpec::try_named(format!("s{i}")).unwrap()).collect();
        let mut storage = empty_storage(&specs);
        let mut mutations = Vec::new();
        for (spec, touch) in specs.iter().zip(&touches) {
            match touch {
                Touch::Set(v) => {
                    storage.set(spec, v).unwrap();
                    mutations.push(string_modified(spec, v));
                }
                Touch::Remove => {
                    storage.remove(spec).unwrap();
                    mutations.push(from_function::PersistedValueMutation {
                        mutation_type: 0,
                        state_name: spec.name().into(),
                        state_value: None,
                    });
                }
                Touch::Keep => {}
            }
        }
        let mut response = ResponseWriter::default();
        for (target, value) in &messages {
            response.message(target, value.type_name(), value.bytes());
        }
        for d in &delayed {
            match d {
                Delayed::Send { delay_ms, target, value, token } => response.delayed(
                    *delay_ms,
                    target,
                    (value.type_name(), value.bytes()),
                    token.as_ref(),
                ),
                Delayed::Cancel(token) => response.cancellation(token),
            }
        }
        for (t, value) in &egress {
            let egress = EgressIdentifier::new(t.clone()).unwrap();
            response.egress(&egress, value.type_name(), value.bytes());
        }
        let theirs = FromFunction {
            response: Some(from_function::Response::InvocationResult(
                from_function::InvocationResponse {
                    state_mutations: mutations,
                    outgoing_messages: messages
                        .iter()
                        .map(|(a, v)| from_function::Invocation {
                            target: Some(to_prost_address(a)),
                            argument: Some(to_prost_value(v)),
                        })
                        .collect(),
                    delayed_invocations: delayed
                        .iter()
                        .map(|d| match d {
                            Delayed::Send { delay_ms, target, value, token } => {
                                from_function::DelayedInvocation {
                                    delay_in_ms: *delay_ms,
                                    target: Some(to_prost_address(target)),
                                    argument: Some(to_prost_value(value)),
                                    is_cancellation_request: false,
                                    cancellation_token: token
                                        .as_ref()
                                        .map(|t| t.as_str().to_owned())
                                        .unwrap_or_default(),
                                }
                            }
                            Delayed::Cancel(t) => from_function::DelayedInvocation {
                                is_cancellation_request: true,
                                cancellation_token: t.as_str().into(),
                                ..Default::default()
                            },
                        })
                        .collect(),
                    outgoing_egresses: egress
                        .iter()
                        .map(|(t, v)| from_function::EgressMessage {
                            egress_namespace: t.namespace().into(),
                            egress_type: t.name().into(),
                            argument: Some(to_prost_value(v)),
                        })
                        .collect(),
                },
            )),
        };
        let ours = response.finish(storage.mutations());
        prop_assert_eq!(&ours[..], &theirs.encode_to_vec()[..]);
    }

    #[test]
    fn encodes_handshakes_exactly_as_prost(
        specs in proptest::collection::vec((0_u8..3, 0_u64..100_000_000_000), 0..6),
    ) {
        let state_specs: Vec<_> = specs
            .iter()
            .enumerate()
            .map(|(i, (mode, millis))| {
                let d = Duration::from_millis(*millis);
                let expiration = match mode {
                    0 => Expiration::Never,
                    1 => Expiration::AfterWrite(d),
                    _ => Expiration::AfterCall(d),
                };
                ValueSpec::<i64>::try_named(format!("v{i}"))
                    .unwrap()
                    .with_expiration(expiration)
                    .to_state_spec()
                    .unwrap()
            })
            .collect();
        let theirs = FromFunction {
            response: Some(from_function::Response::IncompleteInvocationContext(
                from_function::IncompleteInvocationContext {
                    missing_values: state_specs
                        .iter()
                        .zip(&specs)
                        .map(|(s, (mode, millis))| from_function::PersistedValueSpec {
                            state_name: s.name().into(),
                            expiration_spec: Some(from_function::ExpirationSpec {
                                mode: i32::from(*mode),
                                expire_after_millis: if *mode == 0 {
                                    0
                                } else {
                                    i64::try_from(*millis).unwrap()
                                },
                            }),
                            type_typename: "io.statefun.types/long".into(),
                        })
                        .collect(),
                },
            )),
        };
        let ours = super::incomplete(state_specs.iter());
        prop_assert_eq!(&ours[..], &theirs.encode_to_vec()[..]);
    }

    #[test]
    fn encodes_egress_records_exactly_as_prost(
        key in "\\PC{0,10}",
        value in proptest::collection::vec(any::<u8>(), 0..200),
        topic in "\\PC{1,10}",
        hash in "\\PC{0,10}",
    ) {
        let kafka = statefun_protocol::egress::KafkaProducerRecord {
            key: key.clone(),
            value_bytes: value.clone().into(),
            topic: topic.clone(),
        };
        let ours = KafkaRecord::new(topic.clone(), value.clone()).with_key(key.clone());
        let ours = ours.into_typed_bytes().unwrap();
        prop_assert_eq!(ours.type_name().as_str(), "type.googleapis.com/io.statefun.sdk.egress.KafkaProducerRecord");
        prop_assert_eq!(&ours.bytes()[..], &kafka.encode_to_vec()[..]);
        if key.is_empty() {
            continue_kinesis(&key, &value, &topic, &hash)?;
        } else {
            let kinesis = statefun_protocol::egress::KinesisEgressRecord {
                partition_key: key.clone(),
                value_bytes: value.clone().into(),
                stream: topic.clone(),
                explicit_hash_key: hash.clone(),
            };
            let ours = KinesisRecord::new(topic, key, value)
                .with_explicit_hash_key(hash)
                .into_typed_bytes()
                .unwrap();
            prop_assert_eq!(&ours.bytes()[..], &kinesis.encode_to_vec()[..]);
        }
    }
}

/// A Kinesis record needs a partition key.
fn continue_kinesis(
    key: &str,
    value: &[u8],
    topic: &str,
    _hash: &str,
) -> Result<(), TestCaseError> {
    prop_assert!(
        KinesisRecord::new(topic, key, value.to_vec())
            .into_typed_bytes()
            .is_err()
    );
    Ok(())
}
