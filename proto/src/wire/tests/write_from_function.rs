//! The writers of functions: `FromFunction` (`from_function::push_*`,
//! `write_result`, `write_incomplete`), the egress records and the
//! built-in wrappers, against prost's encoding of the same messages.

use bytes::Bytes;
use proptest::prelude::*;
use prost::Message as _;

use super::{any_text, long_bytes, long_cases};
use crate::reqreply::{self as pb, FromFunction, from_function as pbf};
use crate::wire::from_function::{self, MissingRef, MutationRef};
use crate::wire::{AddressRef, ValueRef, egress, int64_bits, types};

/// An address as generated: namespace, name, id.
type Parts = (String, String, String);
/// A typed value as generated: its type name, and its bytes (`None`: no
/// value).
type Value = (String, Option<Bytes>);

fn address_ref(a: &Parts) -> AddressRef<'_> {
    AddressRef {
        namespace: a.0.as_bytes(),
        name: a.1.as_bytes(),
        id: a.2.as_bytes(),
    }
}

fn value_ref(v: &Value) -> ValueRef<'_> {
    ValueRef {
        type_name: v.0.as_bytes(),
        bytes: v.1.as_deref(),
    }
}

fn prost_address(a: &Parts) -> pb::Address {
    pb::Address {
        namespace: a.0.clone(),
        r#type: a.1.clone(),
        id: a.2.clone(),
    }
}

fn prost_value(v: &Value) -> pb::TypedValue {
    pb::TypedValue {
        typename: v.0.clone(),
        has_value: v.1.is_some(),
        value: v.1.clone().unwrap_or_default(),
    }
}

/// A delayed message or a cancellation.
#[derive(Debug, Clone)]
enum Delayed {
    Send {
        delay_ms: i64,
        target: Parts,
        value: Value,
        token: Option<String>,
    },
    Cancel(String),
}

/// Everything a function's answer holds, as generated.
#[derive(Debug, Clone)]
struct Answer {
    mutations: Vec<(String, Option<Value>)>,
    messages: Vec<(Parts, Value)>,
    delayed: Vec<Delayed>,
    egress: Vec<((String, String), Value)>,
    /// The capacity each entry buffer starts with: below or past the
    /// 128-byte zero run `Writer::append` stores when there is room.
    spare: [usize; 3],
}

/// Answers built from `text` and `bytes`, with up to 12 mutations (more
/// than the 8 whose sizes the SDK's encoder used to keep).
fn answers(
    text: BoxedStrategy<String>,
    bytes: BoxedStrategy<Bytes>,
    count: usize,
) -> impl Strategy<Value = Answer> {
    let address = (text.clone(), text.clone(), text.clone());
    let value = (text.clone(), prop::option::of(bytes));
    let delayed = prop_oneof![
        (
            prop_oneof![Just(0_i64), -1000_i64..1000, any::<i64>()],
            address.clone(),
            value.clone(),
            prop::option::of(prop_oneof![Just(String::new()), text.clone()]),
        )
            .prop_map(|(delay_ms, target, value, token)| Delayed::Send {
                delay_ms,
                target,
                value,
                token,
            }),
        prop_oneof![Just(String::new()), text.clone()].prop_map(Delayed::Cancel),
    ];
    let spare = prop_oneof![Just(0_usize), 1_usize..127, 127_usize..=129, 129_usize..600];
    (
        prop::collection::vec((text.clone(), prop::option::of(value.clone())), 0..12),
        prop::collection::vec((address, value.clone()), 0..count),
        prop::collection::vec(delayed, 0..count),
        prop::collection::vec(((text.clone(), text), value), 0..count),
        [spare.clone(), spare.clone(), spare],
    )
        .prop_map(|(mutations, messages, delayed, egress, spare)| Answer {
            mutations,
            messages,
            delayed,
            egress,
            spare,
        })
}

/// Our answer: each entry pushed as the SDK pushes them.
fn ours(a: &Answer) -> Vec<u8> {
    let [m, d, e] = a.spare;
    let (mut messages, mut delayed, mut egress) = (
        Vec::with_capacity(m),
        Vec::with_capacity(d),
        Vec::with_capacity(e),
    );
    for (target, value) in &a.messages {
        from_function::push_message(&mut messages, address_ref(target), value_ref(value));
    }
    for entry in &a.delayed {
        match entry {
            Delayed::Send {
                delay_ms,
                target,
                value,
                token,
            } => from_function::push_delayed(
                &mut delayed,
                *delay_ms,
                address_ref(target),
                value_ref(value),
                token.as_ref().map(String::as_bytes),
            ),
            Delayed::Cancel(token) => {
                from_function::push_cancellation(&mut delayed, token.as_bytes());
            }
        }
    }
    for ((namespace, name), value) in &a.egress {
        from_function::push_egress(
            &mut egress,
            (namespace.as_bytes(), name.as_bytes()),
            value_ref(value),
        );
    }
    let mutations = a.mutations.iter().map(|(name, value)| MutationRef {
        name: name.as_bytes(),
        value: value.as_ref().map(value_ref),
    });
    from_function::write_result(mutations, &messages, &delayed, &egress)
}

/// The same answer, as prost writes it.
fn theirs(a: &Answer) -> FromFunction {
    FromFunction {
        response: Some(pbf::Response::InvocationResult(pbf::InvocationResponse {
            state_mutations: a
                .mutations
                .iter()
                .map(|(name, value)| pbf::PersistedValueMutation {
                    mutation_type: i32::from(value.is_some()),
                    state_name: name.clone(),
                    state_value: value.as_ref().map(prost_value),
                })
                .collect(),
            outgoing_messages: a
                .messages
                .iter()
                .map(|(target, value)| pbf::Invocation {
                    target: Some(prost_address(target)),
                    argument: Some(prost_value(value)),
                })
                .collect(),
            delayed_invocations: a
                .delayed
                .iter()
                .map(|d| match d {
                    Delayed::Send {
                        delay_ms,
                        target,
                        value,
                        token,
                    } => pbf::DelayedInvocation {
                        delay_in_ms: *delay_ms,
                        target: Some(prost_address(target)),
                        argument: Some(prost_value(value)),
                        is_cancellation_request: false,
                        cancellation_token: token.clone().unwrap_or_default(),
                    },
                    Delayed::Cancel(token) => pbf::DelayedInvocation {
                        is_cancellation_request: true,
                        cancellation_token: token.clone(),
                        ..Default::default()
                    },
                })
                .collect(),
            outgoing_egresses: a
                .egress
                .iter()
                .map(|((namespace, name), value)| pbf::EgressMessage {
                    egress_namespace: namespace.clone(),
                    egress_type: name.clone(),
                    argument: Some(prost_value(value)),
                })
                .collect(),
        })),
    }
}

/// Checks our bytes against prost's, and that both read them back alike.
fn check_answer(a: &Answer) -> Result<(), TestCaseError> {
    let ours = ours(a);
    let theirs = theirs(a);
    prop_assert_eq!(&ours[..], &theirs.encode_to_vec()[..]);
    prop_assert_eq!(FromFunction::decode(&ours[..]).ok(), Some(theirs));
    prop_assert!(from_function::read(&ours).is_ok());
    Ok(())
}

fn short_text() -> BoxedStrategy<String> {
    prop_oneof![3 => "\\PC{0,10}", 1 => "\\PC{100,200}"].boxed()
}

fn short_bytes() -> BoxedStrategy<Bytes> {
    prop::collection::vec(any::<u8>(), 0..300)
        .prop_map(Bytes::from)
        .boxed()
}

proptest! {
    #[test]
    fn encodes_results_exactly_as_prost(answer in answers(short_text(), short_bytes(), 4)) {
        check_answer(&answer)?;
    }

    #[test]
    fn encodes_handshakes_exactly_as_prost(
        specs in prop::collection::vec(
            (
                any_text(),
                any_text(),
                prop_oneof![3 => 0_i32..3, 1 => any::<i32>()],
                prop_oneof![Just(0_i64), 0_i64..100_000_000_000, any::<i64>()],
            ),
            0..6,
        ),
    ) {
        let missing = specs.iter().map(|(name, type_name, mode, millis)| MissingRef {
            name: name.as_bytes(),
            type_name: type_name.as_bytes(),
            mode: int64_bits(i64::from(*mode)),
            expire_after_millis: *millis,
        });
        let theirs = FromFunction {
            response: Some(pbf::Response::IncompleteInvocationContext(
                pbf::IncompleteInvocationContext {
                    missing_values: specs
                        .iter()
                        .map(|(name, type_name, mode, millis)| pbf::PersistedValueSpec {
                            state_name: name.clone(),
                            expiration_spec: Some(pbf::ExpirationSpec {
                                mode: *mode,
                                expire_after_millis: *millis,
                            }),
                            type_typename: type_name.clone(),
                        })
                        .collect(),
                },
            )),
        };
        let ours = from_function::write_incomplete(missing);
        prop_assert_eq!(&ours[..], &theirs.encode_to_vec()[..]);
    }

    #[test]
    fn encodes_egress_records_exactly_as_prost(
        key in any_text(),
        value in prop_oneof![
            Just(Bytes::new()),
            short_bytes(),
            long_bytes(),
        ],
        topic in any_text(),
        hash in any_text(),
    ) {
        let kafka = crate::egress::KafkaProducerRecord {
            key: key.clone(),
            value_bytes: value.clone(),
            topic: topic.clone(),
        };
        prop_assert_eq!(
            &egress::kafka_record(key.as_bytes(), &value, topic.as_bytes())[..],
            &kafka.encode_to_vec()[..]
        );
        let kinesis = crate::egress::KinesisEgressRecord {
            partition_key: key.clone(),
            value_bytes: value.clone(),
            stream: topic.clone(),
            explicit_hash_key: hash.clone(),
        };
        prop_assert_eq!(
            &egress::kinesis_record(key.as_bytes(), &value, topic.as_bytes(), hash.as_bytes())[..],
            &kinesis.encode_to_vec()[..]
        );
    }
}

proptest! {
    #![proptest_config(long_cases())]

    /// Names, values and tokens past 127 and 16,383 bytes: every entry and
    /// the answer have length prefixes of two or three bytes.
    #[test]
    fn encodes_long_results_exactly_as_prost(answer in answers(any_text(), long_bytes().boxed(), 3)) {
        check_answer(&answer)?;
    }
}

/// More mutations than the SDK's encoder kept sizes for (8), of lengths on
/// both sides of the one-byte length prefix, every one written; the values
/// are `StringWrapper`s written by `types::put_string`.
#[test]
fn encodes_many_mutations_exactly_as_prost() {
    let lengths = [0, 5, 127, 128, 200, 1, 300, 3, 130, 2, 1000];
    let names: Vec<String> = (0..lengths.len()).map(|i| format!("s{i}")).collect();
    let values: Vec<Vec<u8>> = lengths
        .iter()
        .map(|&len| {
            let mut buf = Vec::new();
            types::put_string(&mut buf, &"x".repeat(len));
            buf
        })
        .collect();
    let mutations = names.iter().zip(&values).map(|(name, value)| MutationRef {
        name: name.as_bytes(),
        value: Some(ValueRef {
            type_name: b"io.statefun.types/string",
            bytes: Some(value),
        }),
    });
    let ours = from_function::write_result(mutations, &[], &[], &[]);
    let theirs = FromFunction {
        response: Some(pbf::Response::InvocationResult(pbf::InvocationResponse {
            state_mutations: names
                .iter()
                .zip(&lengths)
                .map(|(name, &len)| pbf::PersistedValueMutation {
                    mutation_type: 1,
                    state_name: name.clone(),
                    state_value: Some(pb::TypedValue {
                        typename: "io.statefun.types/string".into(),
                        has_value: true,
                        value: crate::types::StringWrapper {
                            value: "x".repeat(len),
                        }
                        .encode_to_vec()
                        .into(),
                    }),
                })
                .collect(),
            ..Default::default()
        })),
    };
    assert_eq!(ours, theirs.encode_to_vec());
}

/// An answer with nothing in it, and a handshake asking for nothing.
#[test]
fn encodes_empty_answers_exactly_as_prost() {
    let ours = from_function::write_result([].into_iter(), &[], &[], &[]);
    let theirs = FromFunction {
        response: Some(pbf::Response::InvocationResult(
            pbf::InvocationResponse::default(),
        )),
    };
    assert_eq!(ours, theirs.encode_to_vec());
    let ours = from_function::write_incomplete([].into_iter());
    let theirs = FromFunction {
        response: Some(pbf::Response::IncompleteInvocationContext(
            pbf::IncompleteInvocationContext::default(),
        )),
    };
    assert_eq!(ours, theirs.encode_to_vec());
}

// --- The built-in wrappers ---------------------------------------------------

/// A buffer holding `prefix`, with room for `spare` more bytes.
fn buffer(prefix: &[u8], spare: usize) -> Vec<u8> {
    let mut buf = Vec::with_capacity(prefix.len() + spare);
    buf.extend_from_slice(prefix);
    buf
}

fn spare() -> impl Strategy<Value = usize> {
    prop_oneof![
        Just(0_usize),
        1_usize..127,
        127_usize..=129,
        129_usize..40_000
    ]
}

proptest! {
    #[test]
    fn wrappers_are_the_bytes_prost_writes(
        prefix in prop::collection::vec(any::<u8>(), 0..8),
        spare in spare(),
        flag in any::<bool>(),
        int in prop_oneof![Just(0_i32), any::<i32>()],
        float_bits in prop_oneof![
            Just(0_u32),
            Just((-0.0_f32).to_bits()),
            Just(f32::NAN.to_bits()),
            any::<u32>(),
        ],
        long in prop_oneof![Just(0_i64), any::<i64>()],
        double_bits in prop_oneof![
            Just(0_u64),
            Just((-0.0_f64).to_bits()),
            Just(f64::NAN.to_bits()),
            any::<u64>(),
        ],
        text in prop_oneof![Just(String::new()), any_text()],
    ) {
        let float = f32::from_bits(float_bits);
        let double = f64::from_bits(double_bits);
        // Each appended after `prefix`, which it leaves as it was.
        let appended = |put: &dyn Fn(&mut Vec<u8>)| {
            let mut buf = buffer(&prefix, spare);
            put(&mut buf);
            assert_eq!(&buf[..prefix.len()], &prefix[..]);
            buf.split_off(prefix.len())
        };

        let ours = appended(&|b| types::put_bool(b, flag));
        prop_assert_eq!(ours, crate::types::BooleanWrapper { value: flag }.encode_to_vec());

        let ours = appended(&|b| types::put_fixed32(b, int.to_le_bytes(), int == 0));
        let theirs = crate::types::IntWrapper { value: int }.encode_to_vec();
        prop_assert_eq!(&ours, &theirs);
        prop_assert_eq!(types::fixed32(&theirs), Some(int.to_le_bytes()));

        // As prost does, the caller counts -0.0 as the default.
        #[allow(clippy::float_cmp)]
        let is_default = float == 0.0;
        let ours = appended(&|b| types::put_fixed32(b, float.to_bits().to_le_bytes(), is_default));
        let theirs = crate::types::FloatWrapper { value: float }.encode_to_vec();
        prop_assert_eq!(&ours, &theirs);
        let read = crate::types::FloatWrapper::decode(&theirs[..]).unwrap().value;
        prop_assert_eq!(types::fixed32(&theirs), Some(read.to_bits().to_le_bytes()));

        let ours = appended(&|b| types::put_fixed64(b, long.to_le_bytes(), long == 0));
        let theirs = crate::types::LongWrapper { value: long }.encode_to_vec();
        prop_assert_eq!(&ours, &theirs);
        prop_assert_eq!(types::fixed64(&theirs), Some(long.to_le_bytes()));

        #[allow(clippy::float_cmp)]
        let is_default = double == 0.0;
        let ours = appended(&|b| types::put_fixed64(b, double.to_bits().to_le_bytes(), is_default));
        let theirs = crate::types::DoubleWrapper { value: double }.encode_to_vec();
        prop_assert_eq!(&ours, &theirs);
        let read = crate::types::DoubleWrapper::decode(&theirs[..]).unwrap().value;
        prop_assert_eq!(types::fixed64(&theirs), Some(read.to_bits().to_le_bytes()));

        let ours = appended(&|b| types::put_string(b, &text));
        prop_assert_eq!(ours, crate::types::StringWrapper { value: text }.encode_to_vec());
    }

    /// Whatever `fixed32`/`fixed64` read, prost reads the same from; what
    /// they decline is anything but the canonical encoding.
    #[test]
    fn fixed_wrappers_read_as_prost_reads_them(
        bytes in prop_oneof![
            prop::collection::vec(any::<u8>(), 0..12),
            prop::collection::vec(any::<u8>(), 4).prop_map(|b| [&[0x0d][..], &b].concat()),
            prop::collection::vec(any::<u8>(), 8).prop_map(|b| [&[0x09][..], &b].concat()),
        ],
    ) {
        if let Some(bits) = types::fixed32(&bytes) {
            let theirs = crate::types::IntWrapper::decode(&bytes[..]).expect("prost reads it");
            prop_assert_eq!(theirs.value, i32::from_le_bytes(bits));
        }
        if let Some(bits) = types::fixed64(&bytes) {
            let theirs = crate::types::LongWrapper::decode(&bytes[..]).expect("prost reads it");
            prop_assert_eq!(theirs.value, i64::from_le_bytes(bits));
        }
        // The canonical encodings, and only they, are read.
        let canonical32 = bytes.is_empty() || (bytes.len() == 5 && bytes[0] == 0x0d);
        prop_assert_eq!(types::fixed32(&bytes).is_some(), canonical32);
        let canonical64 = bytes.is_empty() || (bytes.len() == 9 && bytes[0] == 0x09);
        prop_assert_eq!(types::fixed64(&bytes).is_some(), canonical64);
    }
}
