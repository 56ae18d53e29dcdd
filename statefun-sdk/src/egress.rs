//! Egress: [`EgressIdentifier`] and the [`KafkaRecord`] and
//! [`KinesisRecord`] builders for the runtime's generic Kafka and Kinesis
//! egresses.

use std::fmt;

use bytes::Bytes;

use crate::TypeName;
use crate::value::ValueError;

/// The id of an egress, as declared in `module.yaml` (`spec.id`).
///
/// ```
/// use stateful_functions::EgressIdentifier;
///
/// const RESULTS: EgressIdentifier = EgressIdentifier::from_static("com.example/results");
/// assert_eq!(RESULTS.type_name().name(), "results");
/// ```
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EgressIdentifier(TypeName);

impl EgressIdentifier {
    /// Names an egress.
    ///
    /// # Errors
    ///
    /// When the name has more than one `/`: the runtime parses egress ids
    /// as `<namespace>/<name>` and would fail the job on such an egress.
    ///
    /// ```
    /// use stateful_functions::EgressIdentifier;
    ///
    /// assert!(EgressIdentifier::new("com.example/results".parse()?).is_ok());
    /// assert!(EgressIdentifier::new("com.example/a/results".parse()?).is_err());
    /// # Ok::<(), stateful_functions::TypeNameError>(())
    /// ```
    pub fn new(type_name: TypeName) -> Result<Self, crate::TypeNameError> {
        type_name.single_slash().map(Self)
    }

    /// Names an egress from a literal, checked at compile time in a
    /// `const` item.
    ///
    /// # Panics
    ///
    /// When `full` is not a valid type name with exactly one `/`.
    #[must_use]
    pub const fn from_static(full: &'static str) -> Self {
        let bytes = full.as_bytes();
        let mut slashes = 0;
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i] == b'/' {
                slashes += 1;
            }
            i += 1;
        }
        assert!(
            slashes == 1,
            "an egress id has exactly one `/`: <namespace>/<name>"
        );
        Self(TypeName::from_static(full))
    }

    /// The egress id as a type name.
    #[must_use]
    pub fn type_name(&self) -> &TypeName {
        &self.0
    }
}

impl fmt::Display for EgressIdentifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl fmt::Debug for EgressIdentifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "EgressIdentifier({:?})", self.0.as_str())
    }
}

/// The typename the generic Kafka egress accepts.
pub const KAFKA_RECORD_TYPE: TypeName =
    TypeName::from_static("type.googleapis.com/io.statefun.sdk.egress.KafkaProducerRecord");

/// The typename the generic Kinesis egress accepts.
pub const KINESIS_RECORD_TYPE: TypeName =
    TypeName::from_static("type.googleapis.com/io.statefun.sdk.egress.KinesisEgressRecord");

/// A record for the runtime's generic Kafka egress
/// (`io.statefun.kafka.v1/egress`).
///
/// ```
/// use stateful_functions::KafkaRecord;
///
/// let record = KafkaRecord::new("receipts", r#"{"user_id":"Kim"}"#).with_key("Kim");
/// assert_eq!(record.topic(), "receipts");
/// assert_eq!(record.key(), Some("Kim"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KafkaRecord {
    topic: String,
    key: Option<String>,
    value: Bytes,
}

impl KafkaRecord {
    /// A record for `topic` with `value` as its bytes and no key.
    #[must_use]
    pub fn new(topic: impl Into<String>, value: impl Into<Bytes>) -> Self {
        Self {
            topic: topic.into(),
            key: None,
            value: value.into(),
        }
    }

    /// A record for `topic` whose value is `value` encoded with its type's
    /// codec (its typename is not sent; Kafka carries only bytes).
    ///
    /// # Errors
    ///
    /// When the value does not encode.
    ///
    /// ```
    /// use stateful_functions::KafkaRecord;
    ///
    /// let record = KafkaRecord::from_value("counts", &42_i32)?;
    /// assert_eq!(&record.value()[..], &[0x0d, 42, 0, 0, 0]);
    /// # Ok::<(), stateful_functions::ValueError>(())
    /// ```
    pub fn from_value<T: crate::Value>(
        topic: impl Into<String>,
        value: &T,
    ) -> Result<Self, ValueError> {
        Ok(Self::new(topic, value.to_bytes()?))
    }

    /// Sets the key (written as UTF-8). An empty key means no key.
    #[must_use]
    pub fn with_key(mut self, key: impl Into<String>) -> Self {
        self.key = Some(key.into());
        self
    }

    /// The topic.
    #[must_use]
    pub fn topic(&self) -> &str {
        &self.topic
    }

    /// The key, if set.
    #[must_use]
    pub fn key(&self) -> Option<&str> {
        self.key.as_deref()
    }

    /// The value bytes.
    #[must_use]
    pub fn value(&self) -> &Bytes {
        &self.value
    }
}

impl KafkaRecord {
    /// Whether the runtime can route it: a record needs a topic.
    pub(crate) fn check(&self) -> Result<(), ValueError> {
        if self.topic.is_empty() {
            return Err(ValueError::encode(
                KAFKA_RECORD_TYPE,
                "the Kafka record has an empty topic",
            ));
        }
        Ok(())
    }
}

/// A record for the runtime's generic Kinesis egress
/// (`io.statefun.kinesis.v1/egress`).
///
/// ```
/// use stateful_functions::KinesisRecord;
///
/// let record = KinesisRecord::new("events", "user-1", "payload").with_explicit_hash_key("123");
/// assert_eq!(record.stream(), "events");
/// assert_eq!(record.partition_key(), "user-1");
/// assert_eq!(record.explicit_hash_key(), Some("123"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KinesisRecord {
    stream: String,
    partition_key: String,
    explicit_hash_key: Option<String>,
    value: Bytes,
}

impl KinesisRecord {
    /// A record for `stream` with `partition_key` and `value` as its bytes.
    #[must_use]
    pub fn new(
        stream: impl Into<String>,
        partition_key: impl Into<String>,
        value: impl Into<Bytes>,
    ) -> Self {
        Self {
            stream: stream.into(),
            partition_key: partition_key.into(),
            explicit_hash_key: None,
            value: value.into(),
        }
    }

    /// A record whose value is `value` encoded with its type's codec.
    ///
    /// # Errors
    ///
    /// When the value does not encode.
    pub fn from_value<T: crate::Value>(
        stream: impl Into<String>,
        partition_key: impl Into<String>,
        value: &T,
    ) -> Result<Self, ValueError> {
        Ok(Self::new(stream, partition_key, value.to_bytes()?))
    }

    /// Sets the explicit hash key. An empty one means not set.
    #[must_use]
    pub fn with_explicit_hash_key(mut self, key: impl Into<String>) -> Self {
        self.explicit_hash_key = Some(key.into());
        self
    }

    /// The stream.
    #[must_use]
    pub fn stream(&self) -> &str {
        &self.stream
    }

    /// The partition key.
    #[must_use]
    pub fn partition_key(&self) -> &str {
        &self.partition_key
    }

    /// The explicit hash key, if set.
    #[must_use]
    pub fn explicit_hash_key(&self) -> Option<&str> {
        self.explicit_hash_key.as_deref()
    }

    /// The value bytes.
    #[must_use]
    pub fn value(&self) -> &Bytes {
        &self.value
    }
}

impl KinesisRecord {
    /// Whether the runtime can route it: a record needs a stream and a
    /// partition key.
    pub(crate) fn check(&self) -> Result<(), ValueError> {
        if self.stream.is_empty() {
            return Err(ValueError::encode(
                KINESIS_RECORD_TYPE,
                "the Kinesis record has an empty stream",
            ));
        }
        if self.partition_key.is_empty() {
            return Err(ValueError::encode(
                KINESIS_RECORD_TYPE,
                "the Kinesis record has an empty partition key",
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::IntoTypedBytes;

    #[test]
    fn records_require_their_routing_fields() {
        let err = KafkaRecord::new("", "v").into_typed_bytes().unwrap_err();
        assert!(err.to_string().contains("KafkaProducerRecord"), "{err}");
        assert!(KinesisRecord::new("s", "", "v").into_typed_bytes().is_err());
        assert!(KinesisRecord::new("", "k", "v").into_typed_bytes().is_err());
    }

    #[test]
    fn kafka_record_encoding_is_the_protobuf_message() {
        let typed = KafkaRecord::new("t", "v")
            .with_key("k")
            .into_typed_bytes()
            .unwrap();
        assert_eq!(typed.type_name(), &KAFKA_RECORD_TYPE);
        // key = 1, value_bytes = 2, topic = 3, in field order.
        assert_eq!(&typed.bytes()[..], b"\x0a\x01k\x12\x01v\x1a\x01t");
        let no_key = KafkaRecord::new("t", "v").into_typed_bytes().unwrap();
        assert_eq!(&no_key.bytes()[..], b"\x12\x01v\x1a\x01t");
    }
}
