//! Builds `ToFunction` requests and reads `FromFunction` responses with the
//! generated wire types, so the tests check real protobuf bytes.

use bytes::Bytes;
use prost::Message as _;
use statefun_protocol::reqreply::from_function::{self, InvocationResponse};
use statefun_protocol::reqreply::{Address, FromFunction, ToFunction, TypedValue, to_function};

pub(crate) fn hex(s: &str) -> Vec<u8> {
    assert!(s.len() % 2 == 0, "odd hex length");
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex digit"))
        .collect()
}

pub(crate) fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub(crate) fn address(typename: &str, id: &str) -> Address {
    let (ns, name) = typename.rsplit_once('/').expect("typename");
    Address {
        namespace: ns.into(),
        r#type: name.into(),
        id: id.into(),
    }
}

pub(crate) fn typed(typename: &str, value: impl Into<Bytes>) -> TypedValue {
    TypedValue {
        typename: typename.into(),
        has_value: true,
        value: value.into(),
    }
}

/// A request builder.
#[derive(Default)]
pub(crate) struct Request {
    target: Option<Address>,
    states: Vec<to_function::PersistedValue>,
    invocations: Vec<to_function::Invocation>,
}

impl Request {
    pub(crate) fn to(typename: &str, id: &str) -> Self {
        Self {
            target: Some(address(typename, id)),
            ..Self::default()
        }
    }

    pub(crate) fn state(mut self, name: &str, value: Option<TypedValue>) -> Self {
        self.states.push(to_function::PersistedValue {
            state_name: name.into(),
            state_value: value,
        });
        self
    }

    pub(crate) fn invoke(mut self, caller: Option<Address>, argument: TypedValue) -> Self {
        self.invocations.push(to_function::Invocation {
            caller,
            argument: Some(argument),
        });
        self
    }

    pub(crate) fn encode(self) -> Bytes {
        let batch = to_function::InvocationBatchRequest {
            target: self.target,
            state: self.states,
            invocations: self.invocations,
        };
        Bytes::from(
            ToFunction {
                request: Some(to_function::Request::Invocation(batch)),
            }
            .encode_to_vec(),
        )
    }
}

pub(crate) fn decode(bytes: &[u8]) -> from_function::Response {
    FromFunction::decode(bytes)
        .expect("a FromFunction")
        .response
        .expect("a response")
}

pub(crate) fn result(bytes: &[u8]) -> InvocationResponse {
    match decode(bytes) {
        from_function::Response::InvocationResult(r) => r,
        other @ from_function::Response::IncompleteInvocationContext(_) => {
            panic!("expected an invocation result, got {other:?}")
        }
    }
}

pub(crate) fn missing(bytes: &[u8]) -> Vec<from_function::PersistedValueSpec> {
    match decode(bytes) {
        from_function::Response::IncompleteInvocationContext(c) => c.missing_values,
        other @ from_function::Response::InvocationResult(_) => {
            panic!("expected an incomplete invocation context, got {other:?}")
        }
    }
}
