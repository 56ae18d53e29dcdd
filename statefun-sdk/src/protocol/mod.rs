//! The only module that knows the wire format: it turns request bytes into
//! a [`Batch`] and effects into response bytes.
//!
//! Both directions are written by hand against the field tables of the
//! protocol (`proto/protos/sdk/request-reply.proto`) rather than through
//! prost's generated structs, so that decoding allocates only the vectors
//! of states and invocations (every string and payload is a slice of the
//! request buffer) and encoding writes once into an exactly sized buffer.
//! The tests check both directions against prost's generated code.

use bytes::Bytes;

use crate::text::Text;

mod decode;
mod encode;

pub(crate) use decode::decode_batch;
pub(crate) use encode::{
    encode_incomplete, encode_kafka_record, encode_kinesis_record, encode_result,
};

/// One decoded invocation batch.
#[derive(Debug, Default, Clone, PartialEq)]
pub(crate) struct Batch {
    pub(crate) target: Option<WireAddress>,
    pub(crate) states: Vec<WireState>,
    pub(crate) invocations: Vec<WireInvocation>,
}

/// An address as the wire carries it, not yet validated.
#[derive(Debug, Default, Clone, PartialEq)]
pub(crate) struct WireAddress {
    pub(crate) namespace: Text,
    pub(crate) name: Text,
    pub(crate) id: Text,
}

impl WireAddress {
    /// SDKs treat a caller whose three fields are empty as no caller.
    pub(crate) fn is_empty(&self) -> bool {
        self.namespace.is_empty() && self.name.is_empty() && self.id.is_empty()
    }
}

/// A typed value as received.
#[derive(Debug, Default, Clone, PartialEq)]
pub(crate) struct WireValue {
    pub(crate) type_name: Text,
    pub(crate) has_value: bool,
    pub(crate) bytes: Bytes,
}

impl WireValue {
    /// The bytes, or `None` when `has_value` is false.
    pub(crate) fn value(&self) -> Option<&Bytes> {
        self.has_value.then_some(&self.bytes)
    }
}

/// One state value attached to a request.
#[derive(Debug, Default, Clone, PartialEq)]
pub(crate) struct WireState {
    pub(crate) name: Text,
    pub(crate) value: Option<WireValue>,
}

/// One message to deliver.
#[derive(Debug, Default, Clone, PartialEq)]
pub(crate) struct WireInvocation {
    pub(crate) caller: Option<WireAddress>,
    pub(crate) argument: Option<WireValue>,
}

/// Why a request could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Malformed {
    /// What is wrong, naming the message and field.
    pub(crate) reason: String,
}

#[cfg(test)]
mod tests;
