//! Egresses: what they accept ([`EgressKind`]), what they received
//! ([`EgressRecord`], and its Kafka and Kinesis readings), and when a
//! record becomes visible ([`EgressSemantics`]).

use bytes::Bytes;
use prost::Message as _;
use statefun_sdk::{KAFKA_RECORD_TYPE, KINESIS_RECORD_TYPE, TypeName};

/// A record an egress received: its typename and bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EgressRecord {
    /// The typename.
    pub type_name: String,
    /// The encoded value.
    pub value: Bytes,
}

/// A decoded `KafkaProducerRecord`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KafkaRecord {
    /// The topic.
    pub topic: String,
    /// The key; `None` when empty (no key).
    pub key: Option<String>,
    /// The value bytes.
    pub value: Bytes,
}

/// A decoded `KinesisEgressRecord`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KinesisRecord {
    /// The stream.
    pub stream: String,
    /// The partition key.
    pub partition_key: String,
    /// The explicit hash key; `None` when empty.
    pub explicit_hash_key: Option<String>,
    /// The value bytes.
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
    /// The record as a `KafkaProducerRecord`.
    ///
    /// # Errors
    ///
    /// When it is not one.
    pub fn kafka(&self) -> Result<KafkaRecord, prost::DecodeError> {
        let record = statefun_proto::egress::KafkaProducerRecord::decode(self.value.clone())?;
        Ok(KafkaRecord {
            topic: record.topic,
            key: (!record.key.is_empty()).then_some(record.key),
            value: record.value_bytes,
        })
    }

    /// The record as a `KinesisEgressRecord`.
    ///
    /// # Errors
    ///
    /// When it is not one.
    pub fn kinesis(&self) -> Result<KinesisRecord, prost::DecodeError> {
        let record = statefun_proto::egress::KinesisEgressRecord::decode(self.value.clone())?;
        Ok(KinesisRecord {
            stream: record.stream,
            partition_key: record.partition_key,
            explicit_hash_key: (!record.explicit_hash_key.is_empty())
                .then_some(record.explicit_hash_key),
            value: record.value_bytes,
        })
    }
}
