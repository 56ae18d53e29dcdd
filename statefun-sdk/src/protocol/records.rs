//! The generic egresses' records as typed bytes: [`KafkaRecord`] and
//! [`KinesisRecord`] are built in `egress`, and written here.

use bytes::Bytes;
use statefun_proto::wire::egress;

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
