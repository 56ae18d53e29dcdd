//! The only module that knows the wire format: it turns request bytes into
//! a [`Batch`] and effects into response bytes.
//!
//! Both directions are written by hand against the field tables of the
//! protocol (`proto/protos/sdk/request-reply.proto`) rather than through
//! prost's generated structs, so that decoding allocates nothing beyond
//! the inline room of its vectors (every string and payload is a range of
//! the request buffer) and encoding writes each effect once, into buffers
//! sized for it. The tests check both directions against prost's generated
//! code.

use bytes::Bytes;
use smallvec::SmallVec;

mod decode;
mod encode;

#[cfg(test)]
pub(crate) use decode::decode_batch;
pub(crate) use decode::decode_batch_into;
#[cfg(test)]
use decode::{decode_canonical, decode_general};
pub(crate) use encode::{
    encode_incomplete, encode_kafka_record, encode_kinesis_record, encode_result,
    push_cancellation, push_delayed, push_egress, push_message,
};

/// A byte range of the request buffer. 32-bit offsets keep the decoded
/// batch small (requests over 4 GiB are rejected; the runtime's own limit
/// is 32 MiB).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Span {
    start: u32,
    end: u32,
}

impl Span {
    pub(crate) fn is_empty(self) -> bool {
        self.start == self.end
    }

    pub(crate) fn len(self) -> usize {
        self.end.saturating_sub(self.start) as usize
    }

    pub(crate) fn new(start: usize, end: usize) -> Self {
        // The decoder only handles buffers whose length fits in u32.
        Self {
            start: u32::try_from(start).unwrap_or(u32::MAX),
            end: u32::try_from(end).unwrap_or(u32::MAX),
        }
    }

    pub(crate) fn range(self) -> std::ops::Range<usize> {
        self.start as usize..self.end as usize
    }

    /// The bytes of this range of `buf`.
    #[inline]
    pub(crate) fn raw(self, buf: &[u8]) -> &[u8] {
        &buf[self.range()]
    }

    /// This range of `buf` as a shared slice.
    pub(crate) fn slice(self, buf: &Bytes) -> Bytes {
        buf.slice(self.range())
    }
}

/// One decoded invocation batch: ranges into the request buffer. Strings in
/// it were checked to be UTF-8 while decoding.
#[derive(Debug, Default, Clone, PartialEq)]
pub(crate) struct Batch {
    pub(crate) target: Option<WireAddress>,
    /// Inline room for the common case: a few states, one invocation.
    pub(crate) states: SmallVec<[WireState; 4]>,
    pub(crate) invocations: SmallVec<[WireInvocation; 2]>,
}

/// An address as the wire carries it, not yet validated.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub(crate) struct WireAddress {
    pub(crate) namespace: Span,
    pub(crate) name: Span,
    pub(crate) id: Span,
}

impl WireAddress {
    /// SDKs treat a caller whose three fields are empty as no caller.
    pub(crate) fn is_empty(&self) -> bool {
        self.namespace.is_empty() && self.name.is_empty() && self.id.is_empty()
    }
}

/// A typed value as received.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub(crate) struct WireValue {
    pub(crate) type_name: Span,
    pub(crate) has_value: bool,
    pub(crate) bytes: Span,
}

/// One state value attached to a request.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub(crate) struct WireState {
    pub(crate) name: Span,
    pub(crate) value: Option<WireValue>,
}

/// One message to deliver.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub(crate) struct WireInvocation {
    pub(crate) caller: Option<WireAddress>,
    pub(crate) argument: Option<WireValue>,
}

/// Why a request could not be decoded. Small and `Copy`, so the decoder's
/// results stay in registers; the text is built only when reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Malformed {
    pub(crate) problem: Problem,
    /// The protobuf message being decoded.
    pub(crate) message: &'static str,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Problem {
    TruncatedVarint,
    VarintOverflow,
    FieldNumberZero,
    LengthPastEnd,
    TruncatedFixed,
    UnsupportedWireType(u8),
    WrongWireType { field: &'static str, wire_type: u8 },
    InvalidUtf8 { field: &'static str },
    NoInvocationBatch,
    TooLarge,
    InvalidKey,
    UnterminatedGroup,
    MismatchedEndGroup,
    GroupTooDeep,
}

impl Malformed {
    /// The reason, naming the message and field.
    pub(crate) fn reason(self) -> String {
        let what = match self.problem {
            Problem::TruncatedVarint => "truncated varint".to_owned(),
            Problem::VarintOverflow => "varint longer than 64 bits".to_owned(),
            Problem::FieldNumberZero => "field number 0".to_owned(),
            Problem::LengthPastEnd => "field length exceeds the message".to_owned(),
            Problem::TruncatedFixed => "truncated fixed-width field".to_owned(),
            Problem::InvalidKey => "field key larger than 32 bits".to_owned(),
            Problem::UnterminatedGroup => "unterminated group".to_owned(),
            Problem::MismatchedEndGroup => "end-group tag of another group".to_owned(),
            Problem::GroupTooDeep => "groups nested more than 100 deep".to_owned(),
            Problem::UnsupportedWireType(t) => format!("unsupported wire type {t}"),
            Problem::WrongWireType { field, wire_type } => {
                format!("wrong wire type {wire_type} for field {field}")
            }
            Problem::InvalidUtf8 { field } => format!("invalid UTF-8 in field {field}"),
            Problem::TooLarge => return "the request is larger than 4 GiB".into(),
            Problem::NoInvocationBatch => {
                return "the ToFunction carries no invocation batch".into();
            }
        };
        format!("{what} in {}", self.message)
    }
}

#[cfg(test)]
mod tests;
