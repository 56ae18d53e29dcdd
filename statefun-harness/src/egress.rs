//! Egresses: what they accept ([`EgressKind`]), what they received
//! ([`EgressRecord`], and its Kafka and Kinesis readings as the SDK's own
//! [`KafkaRecord`] and [`KinesisRecord`]), and when a record becomes
//! visible ([`EgressSemantics`]).

use bytes::Bytes;
use stateful_functions::{
    KAFKA_RECORD_TYPE, KINESIS_RECORD_TYPE, KafkaRecord, KinesisRecord, TypeName, ValueError,
};

/// A record an egress received: its typename and bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EgressRecord {
    /// The typename.
    pub type_name: String,
    /// The encoded value.
    pub value: Bytes,
}

/// What a declared egress accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum EgressKind {
    Generic,
    Kafka,
    Kinesis,
}

impl EgressKind {
    /// The one typename the egress accepts, if it is not generic.
    pub(crate) fn required_type(self) -> Option<TypeName> {
        match self {
            Self::Generic => None,
            Self::Kafka => Some(KAFKA_RECORD_TYPE),
            Self::Kinesis => Some(KINESIS_RECORD_TYPE),
        }
    }

    /// Whether `bytes` are a record this egress accepts, as its serializer
    /// reads them when the sink receives them (the io bundle's
    /// `GenericKafkaEgressSerializer.java` and
    /// `GenericKinesisEgressSerializer.java` parse the protobuf record):
    /// any bytes for a generic egress.
    pub(crate) fn check(self, bytes: &Bytes) -> Result<(), ValueError> {
        match self {
            Self::Generic => Ok(()),
            Self::Kafka => KafkaRecord::decode(bytes).map(drop),
            Self::Kinesis => KinesisRecord::decode(bytes).map(drop),
        }
    }
}

/// How egress records become visible.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum EgressSemantics {
    /// At least once (the runtime's default for Kafka): records are visible
    /// at once, and after a crash the replayed work writes them again.
    #[default]
    AtLeastOnce,
    /// Exactly once (a transactional Kafka sink): records become visible
    /// when the checkpoint that covers them completes; a crash discards the
    /// records written since the last checkpoint.
    ExactlyOnce,
}

impl EgressRecord {
    /// The record as the SDK's [`KafkaRecord`], read from the bytes of a
    /// `KafkaProducerRecord` (see [`KafkaRecord::decode`]).
    ///
    /// # Errors
    ///
    /// When it is not one.
    pub fn kafka(&self) -> Result<KafkaRecord, ValueError> {
        KafkaRecord::decode(&self.value)
    }

    /// The record as the SDK's [`KinesisRecord`], read from the bytes of a
    /// `KinesisEgressRecord` (see [`KinesisRecord::decode`]).
    ///
    /// # Errors
    ///
    /// When it is not one.
    pub fn kinesis(&self) -> Result<KinesisRecord, ValueError> {
        KinesisRecord::decode(&self.value)
    }
}
