//! The one-field wrappers of `io.statefun.sdk.types` that carry the
//! built-in values (`io.statefun.types/int` and the others), written in
//! canonical form: the default value (zero, `false`, `""`) is no bytes at
//! all, as every official SDK writes it.
//!
//! Each `put_*` appends the wrapper to a buffer; `fixed32`/`fixed64` also
//! read back the canonical encoding, so the common case needs no parser
//! (anything else is left to prost's generated types).

/// Field 1 with wire type 0 (varint).
const KEY_VARINT: u8 = 0x08;
/// Field 1 with wire type 1 (64-bit).
const KEY_FIXED64: u8 = 0x09;
/// Field 1 with wire type 5 (32-bit).
const KEY_FIXED32: u8 = 0x0d;

/// `BooleanWrapper`.
///
/// ```
/// let mut buf = Vec::new();
/// statefun_protocol::wire::types::put_bool(&mut buf, true);
/// assert_eq!(buf, b"\x08\x01");
/// ```
pub fn put_bool(buf: &mut Vec<u8>, value: bool) {
    if value {
        buf.extend_from_slice(&[KEY_VARINT, 1]);
    }
}

/// A wrapper of one `fixed32`/`sfixed32`/`float` field, from its bits
/// (`IntWrapper`, `FloatWrapper`); nothing when `is_default`.
///
/// ```
/// let mut buf = Vec::new();
/// statefun_protocol::wire::types::put_fixed32(&mut buf, 7_i32.to_le_bytes(), false);
/// assert_eq!(buf, b"\x0d\x07\x00\x00\x00");
/// ```
pub fn put_fixed32(buf: &mut Vec<u8>, [a, b, c, d]: [u8; 4], is_default: bool) {
    if !is_default {
        buf.extend_from_slice(&[KEY_FIXED32, a, b, c, d]);
    }
}

/// A wrapper of one `fixed64`/`sfixed64`/`double` field, from its bits
/// (`LongWrapper`, `DoubleWrapper`); nothing when `is_default`.
pub fn put_fixed64(buf: &mut Vec<u8>, [a, b, c, d, e, f, g, h]: [u8; 8], is_default: bool) {
    if !is_default {
        buf.extend_from_slice(&[KEY_FIXED64, a, b, c, d, e, f, g, h]);
    }
}

/// `StringWrapper`.
///
/// ```
/// let mut buf = Vec::new();
/// statefun_protocol::wire::types::put_string(&mut buf, "hi");
/// assert_eq!(buf, b"\x0a\x02hi");
/// ```
pub fn put_string(buf: &mut Vec<u8>, value: &str) {
    if !value.is_empty() {
        let len = 1 + super::varint_len(value.len() as u64) + value.len();
        super::Writer::append(buf, len, |w| w.bytes_field(1, value.as_bytes()));
    }
}

/// The bits of a wrapper of one 32-bit field in canonical form (`[]` is
/// the default, zero); `None` for any other encoding.
///
/// ```
/// use statefun_protocol::wire::types::fixed32;
///
/// assert_eq!(fixed32(b""), Some([0; 4]));
/// assert_eq!(fixed32(b"\x0d\x07\x00\x00\x00"), Some([7, 0, 0, 0]));
/// assert_eq!(fixed32(b"\x10\x01\x0d\x07\x00\x00\x00"), None);
/// ```
#[must_use]
pub fn fixed32(bytes: &[u8]) -> Option<[u8; 4]> {
    match *bytes {
        [] => Some([0; 4]),
        [KEY_FIXED32, a, b, c, d] => Some([a, b, c, d]),
        _ => None,
    }
}

/// The bits of a wrapper of one 64-bit field in canonical form; `None`
/// for any other encoding.
#[must_use]
pub fn fixed64(bytes: &[u8]) -> Option<[u8; 8]> {
    match *bytes {
        [] => Some([0; 8]),
        [KEY_FIXED64, a, b, c, d, e, f, g, h] => Some([a, b, c, d, e, f, g, h]),
        _ => None,
    }
}
