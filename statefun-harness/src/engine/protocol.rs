//! The engine's one door to the wire: a request goes out as the bytes of a
//! `ToFunction` ([`request`]), and an answer comes back as a `FromFunction`
//! that is read here ([`Answer::read`]) and shown to the rest of the engine
//! as what it asks for ([`Reply`]: states to register, or messages, delayed
//! messages, egress records and state changes), in the engine's own terms.
//!
//! Nothing else in the engine knows the protocol's messages, fields or
//! spans: the runtime's semantics (what each effect does, and what fails
//! the job) are applied in `apply`.

use std::time::Duration;

use bytes::Bytes;
use prost::Message as _;
use statefun_proto::reqreply::FromFunction;
use statefun_proto::reqreply::from_function::{expiration_spec, persisted_value_mutation};
use statefun_sdk::Address;

use crate::decode::{self, Response, Results};
use crate::encode;
use crate::envelope::Envelope;
use crate::error::Cause;
use crate::store::Ttl;

/// A state sent with a request: its name and, when it has one, its value's
/// typename and bytes.
pub(super) type SentState<'a> = encode::SentState<'a>;

/// The `ToFunction` of a batch of `invocations` to `address`, with its
/// `states`.
pub(super) fn request<'a>(
    address: &Address,
    states: impl Iterator<Item = SentState<'a>> + Clone,
    invocations: &[Envelope],
) -> Bytes {
    encode::to_function(
        address,
        states,
        invocations
            .iter()
            .map(|e| (e.from.as_ref(), e.type_name.as_str(), e.value.as_ref())),
    )
}

/// An answer as it arrived: the `FromFunction` body, read.
#[derive(Debug, Clone)]
pub(crate) struct Answer(decode::Answer);

impl Answer {
    /// Reads a `FromFunction`.
    ///
    /// # Errors
    ///
    /// [`Cause::MalformedResponse`] when the body is not one.
    pub(super) fn read(body: Bytes) -> Result<Self, Cause> {
        match decode::from_function(&body) {
            Ok(response) => Ok(Self(decode::Answer::new(body, response))),
            Err(e) => Err(malformed(body, e)),
        }
    }

    /// An answer without a response (an empty body).
    pub(super) fn empty() -> Self {
        Self(decode::Answer::new(Bytes::new(), None))
    }

    /// What the function asks for.
    pub(super) fn reply(&self) -> Reply<'_> {
        match &self.0.response {
            Some(Response::Incomplete(missing)) => Reply::Incomplete(Missing {
                answer: &self.0,
                missing,
            }),
            Some(Response::Result(results)) => Reply::Result(Effects {
                answer: &self.0,
                results: Some(results),
            }),
            None => Reply::Result(Effects {
                answer: &self.0,
                results: None,
            }),
        }
    }
}

/// The failure of an answer that is not a `FromFunction`, in prost's words
/// (as the trace has always shown it); ours when prost reads it (never, as
/// the decoder's tests check).
fn malformed(body: Bytes, error: decode::DecodeError) -> Cause {
    let text = FromFunction::decode(body).map_or_else(|e| e.to_string(), |_| error.to_string());
    Cause::MalformedResponse(text)
}

/// What an answer asks for.
pub(super) enum Reply<'a> {
    /// The state handshake: the states to register before the same batch
    /// is sent again.
    Incomplete(Missing<'a>),
    /// The batch ran: its effects, to apply.
    Result(Effects<'a>),
}

/// The states a handshake asks to register.
pub(super) struct Missing<'a> {
    answer: &'a decode::Answer,
    missing: &'a [decode::MissingValue],
}

/// A state to register: its name, typename (empty when unset) and
/// expiration.
pub(super) struct MissingState<'a> {
    pub(super) name: &'a str,
    pub(super) type_name: &'a str,
    pub(super) ttl: Ttl,
}

impl<'a> Missing<'a> {
    /// The states, in order.
    pub(super) fn states(&self) -> impl Iterator<Item = MissingState<'a>> + use<'a> {
        let answer = self.answer;
        self.missing.iter().map(move |spec| {
            let ttl = match &spec.expiration_spec {
                Some(e) => {
                    let d =
                        Duration::from_millis(u64::try_from(e.expire_after_millis).unwrap_or(0));
                    // An unknown mode reads as the default, as prost reads it.
                    match expiration_spec::ExpireMode::try_from(e.mode).unwrap_or_default() {
                        expiration_spec::ExpireMode::AfterWrite => Ttl::AfterWrite(d),
                        expiration_spec::ExpireMode::AfterInvoke => Ttl::AfterInvoke(d),
                        expiration_spec::ExpireMode::None => Ttl::Never,
                    }
                }
                None => Ttl::Never,
            };
            MissingState {
                name: answer.str(spec.state_name),
                type_name: answer.str(spec.type_typename),
                ttl,
            }
        })
    }
}

/// The effects of a batch that ran, each kind in its order.
pub(super) struct Effects<'a> {
    answer: &'a decode::Answer,
    /// `None`: an answer without a response, which has no effects.
    results: Option<&'a Results>,
}

/// A message's target as written: namespace, type name and id (checked by
/// the engine).
pub(super) struct Target<'a> {
    pub(super) namespace: &'a str,
    pub(super) name: &'a str,
    pub(super) id: &'a str,
}

/// A message a function sends: its target and argument (`None`: no value).
pub(super) struct Outgoing<'a> {
    pub(super) target: Target<'a>,
    pub(super) type_name: &'a str,
    pub(super) value: Option<Bytes>,
}

/// A delayed message, or the cancellation of one by its token.
pub(super) struct Delayed<'a> {
    pub(super) cancellation: bool,
    /// Empty when none.
    pub(super) token: &'a str,
    pub(super) delay_in_ms: i64,
    pub(super) message: Outgoing<'a>,
}

/// A record for an egress (`namespace/type`).
pub(super) struct EgressOut<'a> {
    pub(super) namespace: &'a str,
    pub(super) name: &'a str,
    pub(super) type_name: &'a str,
    pub(super) value: Bytes,
}

/// A change of a state value.
pub(super) struct Mutation<'a> {
    pub(super) state: &'a str,
    pub(super) change: Change<'a>,
}

/// What a [`Mutation`] does.
pub(super) enum Change<'a> {
    Delete,
    /// A new value: its typename (as written, and as text) and bytes.
    Modify {
        type_name: &'a [u8],
        type_name_text: &'a str,
        value: Bytes,
    },
    /// A mutation type the protocol does not have.
    Unknown(i32),
}

impl<'a> Effects<'a> {
    fn outgoing(
        answer: &'a decode::Answer,
        target: Option<decode::Address>,
        argument: Option<decode::TypedValue>,
    ) -> Outgoing<'a> {
        let target = target.unwrap_or_default();
        let argument = argument.unwrap_or_default();
        Outgoing {
            target: Target {
                namespace: answer.str(target.namespace),
                name: answer.str(target.function_type),
                id: answer.str(target.id),
            },
            type_name: answer.str(argument.typename),
            value: argument.has_value.then(|| answer.bytes(argument.value)),
        }
    }

    /// How many outgoing messages, delayed messages (cancellations
    /// included) and egress records there are.
    pub(super) fn counts(&self) -> (usize, usize, usize) {
        self.results.map_or((0, 0, 0), |r| {
            (
                r.outgoing_messages().count(),
                r.delayed_invocations().count(),
                r.outgoing_egresses().count(),
            )
        })
    }

    /// The outgoing messages.
    pub(super) fn messages(&self) -> impl Iterator<Item = Outgoing<'a>> + use<'a> {
        let answer = self.answer;
        self.results
            .into_iter()
            .flat_map(Results::outgoing_messages)
            .map(move |m| Self::outgoing(answer, m.target, m.argument))
    }

    /// The delayed messages and cancellations.
    pub(super) fn delayed(&self) -> impl Iterator<Item = Delayed<'a>> + use<'a> {
        let answer = self.answer;
        self.results
            .into_iter()
            .flat_map(Results::delayed_invocations)
            .map(move |d| Delayed {
                cancellation: d.is_cancellation_request,
                token: answer.str(d.cancellation_token),
                delay_in_ms: d.delay_in_ms,
                message: Self::outgoing(answer, d.target, d.argument),
            })
    }

    /// The egress records.
    pub(super) fn egress(&self) -> impl Iterator<Item = EgressOut<'a>> + use<'a> {
        let answer = self.answer;
        self.results
            .into_iter()
            .flat_map(Results::outgoing_egresses)
            .map(move |e| {
                let argument = e.argument.unwrap_or_default();
                EgressOut {
                    namespace: answer.str(e.egress_namespace),
                    name: answer.str(e.egress_type),
                    type_name: answer.str(argument.typename),
                    value: answer.bytes(argument.value),
                }
            })
    }

    /// The state changes.
    pub(super) fn mutations(&self) -> impl Iterator<Item = Mutation<'a>> + use<'a> {
        use persisted_value_mutation::MutationType;
        let answer = self.answer;
        self.results
            .into_iter()
            .flat_map(Results::state_mutations)
            .map(move |m| {
                let change = match MutationType::try_from(m.mutation_type) {
                    Ok(MutationType::Delete) => Change::Delete,
                    Ok(MutationType::Modify) => {
                        let value = m.state_value.unwrap_or_default();
                        Change::Modify {
                            type_name: answer.slice(value.typename),
                            type_name_text: answer.str(value.typename),
                            value: answer.bytes(value.value),
                        }
                    }
                    Err(_) => Change::Unknown(m.mutation_type),
                };
                Mutation {
                    state: answer.str(m.state_name),
                    change,
                }
            })
    }
}
