//! The records of the runtime's generic egresses (`io.statefun.sdk.egress`):
//! what a function sends to a Kafka or Kinesis egress, written exactly as
//! prost writes them.

use super::write::{Writer, bytes_field_len};

/// A `KafkaProducerRecord`; an empty key is omitted, as proto3 omits it.
///
/// ```
/// use statefun_protocol::wire::egress;
///
/// assert_eq!(egress::kafka_record(b"k", b"v", b"t"), b"\x0a\x01k\x12\x01v\x1a\x01t");
/// ```
#[must_use]
pub fn kafka_record(key: &[u8], value: &[u8], topic: &[u8]) -> Vec<u8> {
    let len = bytes_field_len(1, key.len())
        + bytes_field_len(2, value.len())
        + bytes_field_len(3, topic.len());
    Writer::exact(len, |w| {
        w.bytes_field(1, key);
        w.bytes_field(2, value);
        w.bytes_field(3, topic);
    })
}

/// A `KinesisEgressRecord`; an empty explicit hash key is omitted.
///
/// ```
/// use statefun_protocol::wire::egress;
///
/// assert_eq!(
///     egress::kinesis_record(b"p", b"v", b"s", b""),
///     b"\x0a\x01p\x12\x01v\x1a\x01s"
/// );
/// ```
#[must_use]
pub fn kinesis_record(
    partition_key: &[u8],
    value: &[u8],
    stream: &[u8],
    explicit_hash_key: &[u8],
) -> Vec<u8> {
    let len = bytes_field_len(1, partition_key.len())
        + bytes_field_len(2, value.len())
        + bytes_field_len(3, stream.len())
        + bytes_field_len(4, explicit_hash_key.len());
    Writer::exact(len, |w| {
        w.bytes_field(1, partition_key);
        w.bytes_field(2, value);
        w.bytes_field(3, stream);
        w.bytes_field(4, explicit_hash_key);
    })
}
