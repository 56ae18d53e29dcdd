//! The generic egresses' records as typed bytes: [`KafkaRecord`] and
//! [`KinesisRecord`] are built in `egress`, written here, and read back
//! here (for runtimes and tests that look at what an egress received).

use bytes::Bytes;
use prost::Message as _;
use statefun_protocol::wire::egress;

use crate::egress::{KAFKA_RECORD_TYPE, KINESIS_RECORD_TYPE};
use crate::{IntoTypedBytes, KafkaRecord, KinesisRecord, TypedBytes, ValueError};

impl IntoTypedBytes for KafkaRecord {
    fn into_typed_bytes(self) -> Result<TypedBytes, ValueError> {
        self.check()?;
        let bytes = egress::kafka_record(
            self.key().unwrap_or_default().as_bytes(),
            self.value(),
            self.topic().as_bytes(),
        );
        Ok(TypedBytes::new(KAFKA_RECORD_TYPE, Bytes::from(bytes)))
    }
}

impl IntoTypedBytes for KinesisRecord {
    fn into_typed_bytes(self) -> Result<TypedBytes, ValueError> {
        self.check()?;
        let bytes = egress::kinesis_record(
            self.partition_key().as_bytes(),
            self.value(),
            self.stream().as_bytes(),
            self.explicit_hash_key().unwrap_or_default().as_bytes(),
        );
        Ok(TypedBytes::new(KINESIS_RECORD_TYPE, Bytes::from(bytes)))
    }
}

impl KafkaRecord {
    /// Reads a record from the bytes of a `KafkaProducerRecord`, what the
    /// runtime's generic Kafka egress receives (an empty key is no key).
    /// [`TryFrom<&TypedBytes>`](#impl-TryFrom%3C%26TypedBytes%3E-for-KafkaRecord)
    /// checks the typename first.
    ///
    /// # Errors
    ///
    /// When the bytes are not a `KafkaProducerRecord`.
    ///
    /// ```
    /// use stateful_functions::{IntoTypedBytes, KafkaRecord};
    ///
    /// let sent = KafkaRecord::new("greetings", "Hello Kim!").with_key("Kim");
    /// let typed = sent.clone().into_typed_bytes()?;
    /// assert_eq!(KafkaRecord::decode(typed.bytes())?, sent);
    /// assert!(KafkaRecord::decode(&bytes::Bytes::from_static(b"\xff")).is_err());
    /// # Ok::<(), stateful_functions::ValueError>(())
    /// ```
    pub fn decode(bytes: &Bytes) -> Result<Self, ValueError> {
        let record = statefun_protocol::egress::KafkaProducerRecord::decode(bytes.clone())
            .map_err(|e| ValueError::decode(KAFKA_RECORD_TYPE, e))?;
        let decoded = Self::new(record.topic, record.value_bytes);
        Ok(if record.key.is_empty() {
            decoded
        } else {
            decoded.with_key(record.key)
        })
    }
}

/// Reads a record an egress received as typed bytes: a
/// `KafkaProducerRecord` (typename [`KAFKA_RECORD_TYPE`](crate::KAFKA_RECORD_TYPE)).
///
/// ```
/// use stateful_functions::{IntoTypedBytes, KafkaRecord, ValueError};
///
/// let typed = KafkaRecord::new("receipts", "paid").into_typed_bytes()?;
/// let record = KafkaRecord::try_from(&typed)?;
/// assert_eq!((record.topic(), record.key()), ("receipts", None));
///
/// let other = 42_i64.into_typed_bytes()?;
/// assert!(matches!(KafkaRecord::try_from(&other), Err(ValueError::TypeMismatch { .. })));
/// # Ok::<(), ValueError>(())
/// ```
impl TryFrom<&TypedBytes> for KafkaRecord {
    type Error = ValueError;

    fn try_from(typed: &TypedBytes) -> Result<Self, Self::Error> {
        expect_type(typed, KAFKA_RECORD_TYPE)?;
        Self::decode(typed.bytes())
    }
}

impl KinesisRecord {
    /// Reads a record from the bytes of a `KinesisEgressRecord`, what the
    /// runtime's generic Kinesis egress receives (an empty explicit hash
    /// key is none).
    /// [`TryFrom<&TypedBytes>`](#impl-TryFrom%3C%26TypedBytes%3E-for-KinesisRecord)
    /// checks the typename first.
    ///
    /// # Errors
    ///
    /// When the bytes are not a `KinesisEgressRecord`.
    ///
    /// ```
    /// use stateful_functions::{IntoTypedBytes, KinesisRecord};
    ///
    /// let sent = KinesisRecord::new("events", "user-1", "payload");
    /// let typed = sent.clone().into_typed_bytes()?;
    /// assert_eq!(KinesisRecord::decode(typed.bytes())?, sent);
    /// # Ok::<(), stateful_functions::ValueError>(())
    /// ```
    pub fn decode(bytes: &Bytes) -> Result<Self, ValueError> {
        let record = statefun_protocol::egress::KinesisEgressRecord::decode(bytes.clone())
            .map_err(|e| ValueError::decode(KINESIS_RECORD_TYPE, e))?;
        let decoded = Self::new(record.stream, record.partition_key, record.value_bytes);
        Ok(if record.explicit_hash_key.is_empty() {
            decoded
        } else {
            decoded.with_explicit_hash_key(record.explicit_hash_key)
        })
    }
}

/// Reads a record an egress received as typed bytes: a
/// `KinesisEgressRecord` (typename [`KINESIS_RECORD_TYPE`](crate::KINESIS_RECORD_TYPE)).
///
/// ```
/// use stateful_functions::{IntoTypedBytes, KinesisRecord};
///
/// let typed = KinesisRecord::new("events", "user-1", "payload")
///     .with_explicit_hash_key("123")
///     .into_typed_bytes()?;
/// let record = KinesisRecord::try_from(&typed)?;
/// assert_eq!(record.explicit_hash_key(), Some("123"));
/// # Ok::<(), stateful_functions::ValueError>(())
/// ```
impl TryFrom<&TypedBytes> for KinesisRecord {
    type Error = ValueError;

    fn try_from(typed: &TypedBytes) -> Result<Self, Self::Error> {
        expect_type(typed, KINESIS_RECORD_TYPE)?;
        Self::decode(typed.bytes())
    }
}

fn expect_type(typed: &TypedBytes, expected: crate::TypeName) -> Result<(), ValueError> {
    if *typed.type_name() == expected {
        Ok(())
    } else {
        Err(ValueError::TypeMismatch {
            expected,
            actual: typed.type_name().to_string(),
        })
    }
}
