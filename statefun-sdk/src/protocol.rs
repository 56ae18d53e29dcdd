//! The only module that touches the generated wire types: it turns request
//! bytes into a [`Batch`] and effects into response bytes.

use bytes::Bytes;
use prost::Message as _;
use statefun_proto::egress::{KafkaProducerRecord, KinesisEgressRecord};
use statefun_proto::reqreply::from_function::{
    self, DelayedInvocation, EgressMessage, ExpirationSpec, IncompleteInvocationContext,
    InvocationResponse, PersistedValueMutation, PersistedValueSpec, expiration_spec,
    persisted_value_mutation,
};
use statefun_proto::reqreply::{self as wire, FromFunction, ToFunction, to_function};

use crate::context::{Delayed, Effects};
use crate::state::StateSpec;
use crate::value::TypedBytes;
use crate::{Address, Expiration, Storage};

/// One decoded invocation batch.
#[derive(Debug)]
pub(crate) struct Batch {
    pub(crate) target: WireAddress,
    pub(crate) states: Vec<WireState>,
    pub(crate) invocations: Vec<WireInvocation>,
}

/// An address as the wire carries it, not yet validated.
#[derive(Debug)]
pub(crate) struct WireAddress {
    pub(crate) namespace: String,
    pub(crate) name: String,
    pub(crate) id: String,
}

impl WireAddress {
    /// SDKs treat a caller whose three fields are empty as no caller.
    pub(crate) fn is_empty(&self) -> bool {
        self.namespace.is_empty() && self.name.is_empty() && self.id.is_empty()
    }
}

/// A typed value as received: its typename and bytes, `None` when
/// `has_value` is false.
#[derive(Debug)]
pub(crate) struct WireValue {
    pub(crate) type_name: String,
    pub(crate) bytes: Option<Bytes>,
}

#[derive(Debug)]
pub(crate) struct WireState {
    pub(crate) name: String,
    pub(crate) value: Option<WireValue>,
}

#[derive(Debug)]
pub(crate) struct WireInvocation {
    pub(crate) caller: Option<WireAddress>,
    pub(crate) argument: WireValue,
}

/// Why a request could not be decoded.
#[derive(Debug)]
pub(crate) struct Malformed {
    pub(crate) reason: &'static str,
    pub(crate) source: Option<prost::DecodeError>,
}

fn address_from_wire(a: wire::Address) -> WireAddress {
    WireAddress {
        namespace: a.namespace,
        name: a.r#type,
        id: a.id,
    }
}

fn value_from_wire(v: wire::TypedValue) -> WireValue {
    WireValue {
        type_name: v.typename,
        bytes: v.has_value.then_some(v.value),
    }
}

/// Decodes a `ToFunction`. Bytes fields are slices of `body`, not copies.
pub(crate) fn decode_batch(body: Bytes) -> Result<Batch, Malformed> {
    let request = ToFunction::decode(body).map_err(|e| Malformed {
        reason: "the body is not a valid ToFunction protobuf message",
        source: Some(e),
    })?;
    let Some(to_function::Request::Invocation(batch)) = request.request else {
        return Err(Malformed {
            reason: "the ToFunction carries no invocation batch",
            source: None,
        });
    };
    let Some(target) = batch.target else {
        return Err(Malformed {
            reason: "the invocation batch has no target address",
            source: None,
        });
    };
    Ok(Batch {
        target: address_from_wire(target),
        states: batch
            .state
            .into_iter()
            .map(|s| WireState {
                name: s.state_name,
                value: s.state_value.map(value_from_wire),
            })
            .collect(),
        invocations: batch
            .invocations
            .into_iter()
            .map(|i| WireInvocation {
                caller: i.caller.map(address_from_wire),
                argument: i.argument.map_or(
                    WireValue {
                        type_name: String::new(),
                        bytes: None,
                    },
                    value_from_wire,
                ),
            })
            .collect(),
    })
}

fn address_to_wire(a: &Address) -> wire::Address {
    wire::Address {
        namespace: a.function_type().namespace().to_owned(),
        r#type: a.function_type().name().to_owned(),
        id: a.id().to_owned(),
    }
}

fn value_to_wire(v: TypedBytes) -> wire::TypedValue {
    let (type_name, value) = v.into_parts();
    wire::TypedValue {
        typename: type_name.as_str().to_owned(),
        has_value: true,
        value,
    }
}

fn encode(response: from_function::Response) -> Bytes {
    Bytes::from(
        FromFunction {
            response: Some(response),
        }
        .encode_to_vec(),
    )
}

/// `IncompleteInvocationContext` listing `missing`, each with its type and
/// expiration. Like the Python and Go SDKs, the expiration is always
/// present, with mode NONE when the value never expires.
pub(crate) fn encode_incomplete<'a>(missing: impl Iterator<Item = &'a StateSpec>) -> Bytes {
    let missing_values = missing
        .map(|spec| {
            let (mode, ttl) = match spec.expiration() {
                Expiration::Never => (expiration_spec::ExpireMode::None, None),
                Expiration::AfterWrite(d) => (expiration_spec::ExpireMode::AfterWrite, Some(d)),
                Expiration::AfterCall(d) => (expiration_spec::ExpireMode::AfterInvoke, Some(d)),
            };
            PersistedValueSpec {
                state_name: spec.name().to_owned(),
                expiration_spec: Some(ExpirationSpec {
                    mode: mode.into(),
                    // Validated when the spec was declared; saturate rather
                    // than panic should that ever be bypassed.
                    expire_after_millis: ttl
                        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX)),
                }),
                type_typename: spec.type_name().as_str().to_owned(),
            }
        })
        .collect();
    encode(from_function::Response::IncompleteInvocationContext(
        IncompleteInvocationContext { missing_values },
    ))
}

/// The `InvocationResponse` of a batch: messages, delayed messages and
/// egress in call order, then one mutation per touched state value.
pub(crate) fn encode_result(effects: Effects, storage: &Storage) -> Bytes {
    let state_mutations = storage
        .mutations()
        .map(|(spec, value)| match value {
            Some(bytes) => PersistedValueMutation {
                mutation_type: persisted_value_mutation::MutationType::Modify.into(),
                state_name: spec.name().to_owned(),
                state_value: Some(wire::TypedValue {
                    typename: spec.type_name().as_str().to_owned(),
                    has_value: true,
                    value: bytes.clone(),
                }),
            },
            None => PersistedValueMutation {
                mutation_type: persisted_value_mutation::MutationType::Delete.into(),
                state_name: spec.name().to_owned(),
                state_value: None,
            },
        })
        .collect();
    let outgoing_messages = effects
        .messages
        .into_iter()
        .map(|(target, value)| from_function::Invocation {
            target: Some(address_to_wire(&target)),
            argument: Some(value_to_wire(value)),
        })
        .collect();
    let delayed_invocations = effects
        .delayed
        .into_iter()
        .map(|delayed| match delayed {
            Delayed::Send {
                delay_ms,
                target,
                value,
                token,
            } => DelayedInvocation {
                delay_in_ms: delay_ms,
                target: Some(address_to_wire(&target)),
                argument: Some(value_to_wire(value)),
                is_cancellation_request: false,
                cancellation_token: token.map(|t| t.as_str().to_owned()).unwrap_or_default(),
            },
            Delayed::Cancel(token) => DelayedInvocation {
                is_cancellation_request: true,
                cancellation_token: token.as_str().to_owned(),
                ..DelayedInvocation::default()
            },
        })
        .collect();
    let outgoing_egresses = effects
        .egress
        .into_iter()
        .map(|(egress, value)| EgressMessage {
            egress_namespace: egress.type_name().namespace().to_owned(),
            egress_type: egress.type_name().name().to_owned(),
            argument: Some(value_to_wire(value)),
        })
        .collect();
    encode(from_function::Response::InvocationResult(
        InvocationResponse {
            state_mutations,
            outgoing_messages,
            delayed_invocations,
            outgoing_egresses,
        },
    ))
}

/// A `KafkaProducerRecord`; an empty key is omitted on the wire.
pub(crate) fn encode_kafka_record(key: &str, value: Bytes, topic: &str) -> Bytes {
    Bytes::from(
        KafkaProducerRecord {
            key: key.to_owned(),
            value_bytes: value,
            topic: topic.to_owned(),
        }
        .encode_to_vec(),
    )
}

/// A `KinesisEgressRecord`; an empty explicit hash key is omitted.
pub(crate) fn encode_kinesis_record(
    partition_key: &str,
    value: Bytes,
    stream: &str,
    explicit_hash_key: &str,
) -> Bytes {
    Bytes::from(
        KinesisEgressRecord {
            partition_key: partition_key.to_owned(),
            value_bytes: value,
            stream: stream.to_owned(),
            explicit_hash_key: explicit_hash_key.to_owned(),
        }
        .encode_to_vec(),
    )
}
