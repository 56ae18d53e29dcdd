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
use stateful_functions::Address;
use statefun_protocol::reqreply::FromFunction;
use statefun_protocol::reqreply::from_function::{expiration_spec, persisted_value_mutation};

use statefun_protocol::wire::from_function::{self, MissingValue, Response, Results};
use statefun_protocol::wire::to_function::{self, InvocationRef, StateRef};
use statefun_protocol::wire::{self, AddressRef, DecodeError, Span, ValueRef};

use crate::envelope::Envelope;
use crate::error::Cause;
use crate::store::Ttl;

/// A state sent with a request: its name and, when it has one, its value's
/// typename and bytes.
pub(super) type SentState<'a> = (&'a str, Option<(&'a str, &'a Bytes)>);

/// An address as the codec writes it.
fn address_ref(a: &Address) -> AddressRef<'_> {
    let t = a.function_type();
    AddressRef {
        namespace: t.namespace().as_bytes(),
        name: t.name().as_bytes(),
        id: a.id().as_bytes(),
    }
}

/// The `ToFunction` of a batch of `invocations` to `address`, with its
/// `states`.
pub(super) fn request<'a>(
    address: &Address,
    states: impl Iterator<Item = SentState<'a>> + Clone,
    invocations: &[Envelope],
) -> Bytes {
    let states = states.map(|(name, value)| StateRef {
        name: name.as_bytes(),
        value: value.map(|(type_name, bytes)| ValueRef {
            type_name: type_name.as_bytes(),
            bytes: Some(bytes),
        }),
    });
    let invocations = invocations.iter().map(|e| InvocationRef {
        caller: e.from.as_ref().map(address_ref),
        argument: ValueRef {
            type_name: e.type_name.as_bytes(),
            bytes: e.value.as_deref(),
        },
    });
    Bytes::from(to_function::write(
        address_ref(address),
        states,
        invocations,
    ))
}

/// The longest bytes field [`Body::bytes`] copies rather than shares.
const COPIED: usize = 64;

/// An answer's body and the response read from it.
#[derive(Debug, Clone)]
struct Body {
    body: Bytes,
    response: Option<Response>,
}

impl Body {
    /// A string field's text (checked to be UTF-8 when read).
    fn str(&self, span: Span) -> &str {
        span.str(&self.body)
    }

    /// A bytes field's bytes, to keep: a copy when small, else a slice of
    /// the body. Copying a few bytes costs less than sharing the body (the
    /// first share allocates its reference count, and every share and drop
    /// after is an atomic operation), and a small value kept then does not
    /// keep the whole response alive.
    fn bytes(&self, span: Span) -> Bytes {
        match self.body.get(span.range()) {
            Some(small) if small.len() <= COPIED => Bytes::copy_from_slice(small),
            Some(_) => self.body.slice(span.range()),
            None => Bytes::new(),
        }
    }

    /// A string or bytes field's bytes, borrowed.
    fn slice(&self, span: Span) -> &[u8] {
        span.raw(&self.body)
    }
}

/// An answer as it arrived: the `FromFunction` body, read.
#[derive(Debug, Clone)]
pub(crate) struct Answer(Body);

impl Answer {
    /// Reads a `FromFunction`.
    ///
    /// # Errors
    ///
    /// [`Cause::MalformedResponse`] when the body is not one.
    pub(super) fn read(body: Bytes) -> Result<Self, Cause> {
        match from_function::read(&body) {
            Ok(response) => Ok(Self(Body { body, response })),
            Err(e) => Err(malformed(body, e)),
        }
    }

    /// An answer without a response (an empty body).
    pub(super) fn empty() -> Self {
        Self(Body {
            body: Bytes::new(),
            response: None,
        })
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
fn malformed(body: Bytes, error: DecodeError) -> Cause {
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
    answer: &'a Body,
    missing: &'a [MissingValue],
}

/// A state to register: its name, typename (empty when unset) and
/// expiration.
pub(super) struct MissingState<'a> {
    pub(super) name: &'a str,
    pub(super) type_name: &'a str,
    pub(super) ttl: Ttl,
    /// The expiration's milliseconds as written (0 without one).
    pub(super) expire_after_millis: i64,
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
                expire_after_millis: spec
                    .expiration_spec
                    .as_ref()
                    .map_or(0, |e| e.expire_after_millis),
            }
        })
    }
}

/// The effects of a batch that ran, each kind in its order.
pub(super) struct Effects<'a> {
    answer: &'a Body,
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
        answer: &'a Body,
        target: Option<wire::Address>,
        argument: Option<wire::TypedValue>,
    ) -> Outgoing<'a> {
        let target = target.unwrap_or_default();
        let argument = argument.unwrap_or_default();
        Outgoing {
            target: Target {
                namespace: answer.str(target.namespace),
                name: answer.str(target.name),
                id: answer.str(target.id),
            },
            type_name: answer.str(argument.type_name),
            value: argument.has_value.then(|| answer.bytes(argument.bytes)),
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
                    type_name: answer.str(argument.type_name),
                    value: answer.bytes(argument.bytes),
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
                            type_name: answer.slice(value.type_name),
                            type_name_text: answer.str(value.type_name),
                            value: answer.bytes(value.bytes),
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
