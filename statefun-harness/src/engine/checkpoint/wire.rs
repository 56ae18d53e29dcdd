//! The hand-written protobuf primitives of the serialized form: varints,
//! keys, lengths and fields written, and a reader of fields. The one place
//! in `checkpoint` that knows them (sizes are the request encoder's).

use std::ops::Range;

use super::CheckpointError;

pub(super) use crate::encode::{bytes_field_len, len_field_len, varint_field_len};

/// Protobuf wire types.
pub(super) const VARINT: u8 = 0;
pub(super) const LEN: u8 = 2;

/// A varint, byte by byte (into room mostly reserved already).
fn varint(buf: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        buf.push(v.to_le_bytes()[0] | 0x80);
        v >>= 7;
    }
    buf.push(v.to_le_bytes()[0]);
}

/// A field's key, for the tags (below 16) of field 13's messages.
fn key(buf: &mut Vec<u8>, tag: u8, wire_type: u8) {
    debug_assert!(tag < 16);
    buf.push((tag << 3) | wire_type);
}

/// A length-delimited field's key and length.
pub(super) fn put_len(buf: &mut Vec<u8>, tag: u8, len: usize) {
    key(buf, tag, LEN);
    varint(buf, len as u64);
}

/// A proto3 `uint64`/`uint32` field (left out when zero).
pub(super) fn put_varint(buf: &mut Vec<u8>, tag: u8, v: u64) {
    if v != 0 {
        key(buf, tag, VARINT);
        varint(buf, v);
    }
}

/// A proto3 `string`/`bytes` field (left out when empty).
pub(super) fn put_bytes(buf: &mut Vec<u8>, tag: u8, bytes: &[u8]) {
    if !bytes.is_empty() {
        put_len(buf, tag, bytes.len());
        buf.extend_from_slice(bytes);
    }
}

/// Reads protobuf fields from `buf[range]` (what the decoder leaves to
/// the harness: the state values of format 2).
pub(super) struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    end: usize,
}

impl<'a> Reader<'a> {
    pub(super) fn new(buf: &'a [u8], range: Range<usize>) -> Self {
        Self {
            buf,
            pos: range.start,
            end: range.end,
        }
    }

    fn truncated() -> CheckpointError {
        CheckpointError::Invalid("the state values end early".into())
    }

    pub(super) fn varint(&mut self) -> Result<u64, CheckpointError> {
        // Most are one byte: tags, indexes, short lengths.
        match self.buf[..self.end].get(self.pos) {
            Some(&byte) if byte < 0x80 => {
                self.pos += 1;
                return Ok(u64::from(byte));
            }
            _ => {}
        }
        let mut v = 0_u64;
        for shift in (0..64).step_by(7) {
            let byte = *self.buf[..self.end]
                .get(self.pos)
                .ok_or_else(Self::truncated)?;
            self.pos += 1;
            v |= u64::from(byte & 0x7f) << shift;
            if byte < 0x80 {
                return Ok(v);
            }
        }
        Err(CheckpointError::Invalid(
            "a varint in the state values is too long".into(),
        ))
    }

    /// An index in the name table (one that does not fit is no index).
    pub(super) fn index(&mut self) -> Result<u32, CheckpointError> {
        Ok(u32::try_from(self.varint()?).unwrap_or(u32::MAX))
    }

    /// The next field's tag and wire type; `None` at the end.
    pub(super) fn key(&mut self) -> Result<Option<(u64, u8)>, CheckpointError> {
        if self.pos >= self.end {
            return Ok(None);
        }
        let key = self.varint()?;
        // The low 3 bits are the wire type.
        let wire_type = u8::try_from(key & 7).unwrap_or(u8::MAX);
        Ok(Some((key >> 3, wire_type)))
    }

    pub(super) fn len_delimited(&mut self) -> Result<Range<usize>, CheckpointError> {
        let len = usize::try_from(self.varint()?).unwrap_or(usize::MAX);
        if len > self.end - self.pos {
            return Err(Self::truncated());
        }
        let start = self.pos;
        self.pos += len;
        Ok(start..self.pos)
    }

    pub(super) fn text(&mut self) -> Result<&'a str, CheckpointError> {
        let range = self.len_delimited()?;
        std::str::from_utf8(&self.buf[range])
            .map_err(|_| CheckpointError::Invalid("an address id is not UTF-8".into()))
    }

    pub(super) fn skip(&mut self, wire_type: u8) -> Result<(), CheckpointError> {
        let fixed = |n: usize, r: &mut Self| {
            if n > r.end - r.pos {
                return Err(Self::truncated());
            }
            r.pos += n;
            Ok(())
        };
        match wire_type {
            VARINT => self.varint().map(drop),
            1 => fixed(8, self),
            LEN => self.len_delimited().map(drop),
            5 => fixed(4, self),
            other => Err(CheckpointError::Invalid(format!(
                "wire type {other} in the state values"
            ))),
        }
    }
}
