//! The built-in `io.statefun.types/*` types, byte-compatible with every
//! official SDK.
//!
//! Each value is the serialized one-field protobuf wrapper of
//! `io.statefun.sdk.types`. Encoding is canonical: the default value (zero,
//! `false`, `""`, and `-0.0` as the Python SDK does) encodes to zero bytes.
//! Decoding uses a real protobuf parser, so empty input gives the default
//! value and unknown fields are ignored.

use bytes::Bytes;
use prost::Message as _;
use statefun_protocol::types::{
    BooleanWrapper, DoubleWrapper, FloatWrapper, IntWrapper, LongWrapper, StringWrapper,
};
use statefun_protocol::wire::types as wrapper;

use super::{Value, ValueError};
use crate::TypeName;

/// `io.statefun.types/bool`, the type of `bool`.
pub const BOOL_TYPE: TypeName = TypeName::from_static("io.statefun.types/bool");
/// `io.statefun.types/int`, the type of `i32`.
pub const INT_TYPE: TypeName = TypeName::from_static("io.statefun.types/int");
/// `io.statefun.types/long`, the type of `i64`.
pub const LONG_TYPE: TypeName = TypeName::from_static("io.statefun.types/long");
/// `io.statefun.types/float`, the type of `f32`.
pub const FLOAT_TYPE: TypeName = TypeName::from_static("io.statefun.types/float");
/// `io.statefun.types/double`, the type of `f64`.
pub const DOUBLE_TYPE: TypeName = TypeName::from_static("io.statefun.types/double");
/// `io.statefun.types/string`, the type of `String`.
pub const STRING_TYPE: TypeName = TypeName::from_static("io.statefun.types/string");

/// A value's wire bytes, written by its `encode_into` (each encoding lives
/// there once), in a buffer of `capacity` to begin with.
fn encoded<T: Value>(value: &T, capacity: usize) -> Result<Bytes, ValueError> {
    let mut buf = Vec::with_capacity(capacity);
    value.encode_into(&mut buf)?;
    Ok(Bytes::from(buf))
}

macro_rules! decode_wrapper {
    ($wrapper:ty, $type_name:expr, $bytes:expr) => {
        <$wrapper>::decode($bytes)
            .map(|w| w.value)
            .map_err(|e| ValueError::decode($type_name, e))
    };
}

impl Value for bool {
    fn type_name() -> TypeName {
        BOOL_TYPE
    }

    fn to_bytes(&self) -> Result<Bytes, ValueError> {
        encoded(self, 0)
    }

    fn from_bytes(bytes: &Bytes) -> Result<Self, ValueError> {
        Self::from_slice(bytes)
    }

    fn encode_into(&self, buf: &mut Vec<u8>) -> Result<(), ValueError> {
        wrapper::put_bool(buf, *self);
        Ok(())
    }

    fn from_slice(bytes: &[u8]) -> Result<Self, ValueError> {
        decode_wrapper!(BooleanWrapper, BOOL_TYPE, bytes)
    }
}

impl Value for i32 {
    fn type_name() -> TypeName {
        INT_TYPE
    }

    fn to_bytes(&self) -> Result<Bytes, ValueError> {
        encoded(self, 0)
    }

    fn from_bytes(bytes: &Bytes) -> Result<Self, ValueError> {
        Self::from_slice(bytes)
    }

    fn encode_into(&self, buf: &mut Vec<u8>) -> Result<(), ValueError> {
        wrapper::put_fixed32(buf, self.to_le_bytes(), *self == 0);
        Ok(())
    }

    fn from_slice(bytes: &[u8]) -> Result<Self, ValueError> {
        // The canonical encodings, without the general parser.
        match wrapper::fixed32(bytes) {
            Some(bits) => Ok(Self::from_le_bytes(bits)),
            None => decode_wrapper!(IntWrapper, INT_TYPE, bytes),
        }
    }
}

impl Value for i64 {
    fn type_name() -> TypeName {
        LONG_TYPE
    }

    fn to_bytes(&self) -> Result<Bytes, ValueError> {
        encoded(self, 0)
    }

    fn from_bytes(bytes: &Bytes) -> Result<Self, ValueError> {
        Self::from_slice(bytes)
    }

    fn encode_into(&self, buf: &mut Vec<u8>) -> Result<(), ValueError> {
        wrapper::put_fixed64(buf, self.to_le_bytes(), *self == 0);
        Ok(())
    }

    fn from_slice(bytes: &[u8]) -> Result<Self, ValueError> {
        match wrapper::fixed64(bytes) {
            Some(bits) => Ok(Self::from_le_bytes(bits)),
            None => decode_wrapper!(LongWrapper, LONG_TYPE, bytes),
        }
    }
}

impl Value for f32 {
    fn type_name() -> TypeName {
        FLOAT_TYPE
    }

    fn to_bytes(&self) -> Result<Bytes, ValueError> {
        encoded(self, 0)
    }

    fn from_bytes(bytes: &Bytes) -> Result<Self, ValueError> {
        Self::from_slice(bytes)
    }

    fn encode_into(&self, buf: &mut Vec<u8>) -> Result<(), ValueError> {
        // `-0.0 == 0.0`: both encode as the default, as the Python SDK does.
        wrapper::put_fixed32(buf, self.to_le_bytes(), *self == 0.0);
        Ok(())
    }

    fn from_slice(bytes: &[u8]) -> Result<Self, ValueError> {
        decode_wrapper!(FloatWrapper, FLOAT_TYPE, bytes)
    }
}

impl Value for f64 {
    fn type_name() -> TypeName {
        DOUBLE_TYPE
    }

    fn to_bytes(&self) -> Result<Bytes, ValueError> {
        encoded(self, 0)
    }

    fn from_bytes(bytes: &Bytes) -> Result<Self, ValueError> {
        Self::from_slice(bytes)
    }

    fn encode_into(&self, buf: &mut Vec<u8>) -> Result<(), ValueError> {
        wrapper::put_fixed64(buf, self.to_le_bytes(), *self == 0.0);
        Ok(())
    }

    fn from_slice(bytes: &[u8]) -> Result<Self, ValueError> {
        decode_wrapper!(DoubleWrapper, DOUBLE_TYPE, bytes)
    }
}

impl Value for String {
    fn type_name() -> TypeName {
        STRING_TYPE
    }

    fn to_bytes(&self) -> Result<Bytes, ValueError> {
        // Tag, length (at most 5 bytes), text; nothing for the default.
        let capacity = if self.is_empty() {
            0
        } else {
            1 + 5 + self.len()
        };
        encoded(self, capacity)
    }

    fn from_bytes(bytes: &Bytes) -> Result<Self, ValueError> {
        Self::from_slice(bytes)
    }

    fn encode_into(&self, buf: &mut Vec<u8>) -> Result<(), ValueError> {
        wrapper::put_string(buf, self);
        Ok(())
    }

    fn from_slice(bytes: &[u8]) -> Result<Self, ValueError> {
        decode_wrapper!(StringWrapper, STRING_TYPE, bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::super::Value;
    use bytes::Bytes;
    use proptest::prelude::*;

    #[allow(clippy::needless_pass_by_value)] // reads better at the call sites
    fn enc<T: Value>(v: T) -> Bytes {
        v.to_bytes().unwrap()
    }

    fn round_trip<T: Value + PartialEq + std::fmt::Debug>(v: &T) {
        let bytes = v.to_bytes().unwrap();
        assert_eq!(&T::from_bytes(&bytes).unwrap(), v);
        assert_eq!(&T::from_slice(&bytes).unwrap(), v);
        let mut buf = vec![1, 2];
        v.encode_into(&mut buf).unwrap();
        assert_eq!(
            &buf[2..],
            &bytes[..],
            "encode_into writes what to_bytes returns"
        );
    }

    #[test]
    fn spec_examples_encode_exactly() {
        assert_eq!(&enc(true)[..], &[0x08, 0x01]);
        assert!(enc(false).is_empty());
        assert_eq!(&enc(42_i32)[..], &[0x0d, 0x2a, 0, 0, 0]);
        assert_eq!(&enc(-1_i32)[..], &[0x0d, 0xff, 0xff, 0xff, 0xff]);
        assert!(enc(0_i32).is_empty());
        assert_eq!(&enc(1_i64)[..], &[0x09, 1, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(&enc(1.5_f32)[..], &[0x0d, 0, 0, 0xc0, 0x3f]);
        assert_eq!(&enc(1.5_f64)[..], &[0x09, 0, 0, 0, 0, 0, 0, 0xf8, 0x3f]);
        assert_eq!(&enc("hi".to_owned())[..], &[0x0a, 0x02, b'h', b'i']);
        assert!(enc(String::new()).is_empty());
    }

    #[test]
    fn decoding_is_tolerant() {
        // Empty input is the default value.
        assert_eq!(i32::from_bytes(&Bytes::new()).unwrap(), 0);
        assert_eq!(String::from_bytes(&Bytes::new()).unwrap(), "");
        assert!(!bool::from_bytes(&Bytes::new()).unwrap());
        // Unknown fields are skipped: field 2 varint 7, then the value.
        let with_unknown = Bytes::from_static(&[0x10, 0x07, 0x0d, 0x2a, 0, 0, 0]);
        assert_eq!(i32::from_bytes(&with_unknown).unwrap(), 42);
        // Explicit -0.0 as newer protobuf runtimes emit it.
        let neg_zero = Bytes::from_static(&[0x0d, 0, 0, 0, 0x80]);
        assert!(f32::from_bytes(&neg_zero).unwrap().is_sign_negative());
    }

    #[test]
    fn malformed_bytes_are_an_error_naming_the_type() {
        let err = i32::from_bytes(&Bytes::from_static(&[0x0d, 1])).unwrap_err();
        assert!(err.to_string().contains("io.statefun.types/int"), "{err}");
        // Raw UTF-8 is not a valid string wrapper.
        let err = String::from_bytes(&Bytes::from_static(b"plain text")).unwrap_err();
        assert!(
            err.to_string().contains("io.statefun.types/string"),
            "{err}"
        );
    }

    proptest! {
        #[test]
        fn int_round_trip(v in any::<i32>()) { round_trip(&v); }
        #[test]
        fn long_round_trip(v in any::<i64>()) { round_trip(&v); }
        #[test]
        fn bool_round_trip(v in any::<bool>()) { round_trip(&v); }
        #[test]
        fn string_round_trip(v in any::<String>()) { round_trip(&v); }
        #[test]
        fn float_round_trip(v in any::<f32>().prop_filter("NaN != NaN", |v| !v.is_nan())) {
            let decoded = f32::from_bytes(&enc(v)).unwrap();
            prop_assert_eq!(decoded, v);
        }
        #[test]
        fn double_round_trip(v in any::<f64>().prop_filter("NaN != NaN", |v| !v.is_nan())) {
            let decoded = f64::from_bytes(&enc(v)).unwrap();
            prop_assert_eq!(decoded, v);
        }
        #[test]
        fn floats_encode_into_what_to_bytes_returns(f in any::<f32>(), d in any::<f64>()) {
            let mut buf = Vec::new();
            f.encode_into(&mut buf).unwrap();
            d.encode_into(&mut buf).unwrap();
            let mut expected = enc(f).to_vec();
            expected.extend_from_slice(&enc(d));
            prop_assert_eq!(buf, expected);
        }
        #[test]
        fn nan_stays_nan(bits in any::<u64>()) {
            let v = f64::from_bits(bits | 0x7ff0_0000_0000_0001);
            prop_assert!(f64::from_bytes(&enc(v)).unwrap().is_nan());
        }
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..32)) {
            let bytes = Bytes::from(bytes);
            let _ = i32::from_bytes(&bytes);
            let _ = i64::from_bytes(&bytes);
            let _ = f32::from_bytes(&bytes);
            let _ = f64::from_bytes(&bytes);
            let _ = bool::from_bytes(&bytes);
            let _ = String::from_bytes(&bytes);
        }
    }
}
