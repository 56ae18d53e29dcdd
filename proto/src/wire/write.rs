//! Writing protobuf's wire format into buffers of exactly the right size.
//!
//! Each message writer first adds up its size with the `*_len` functions
//! below, then fills a buffer of that size through a [`Writer`]: each byte
//! is a store, with no capacity checks or reallocation on the way. Fields
//! follow proto3's canonical form, as prost and the official SDKs write
//! it: in field-number order, default scalars and empty strings omitted,
//! present sub-messages always written.

use super::read::{LEN, VARINT};

/// How many bytes `value` takes as a varint (1 to 10).
///
/// ```
/// use statefun_protocol::wire::varint_len;
///
/// assert_eq!(varint_len(0), 1);
/// assert_eq!(varint_len(127), 1);
/// assert_eq!(varint_len(128), 2);
/// assert_eq!(varint_len(u64::MAX), 10);
/// ```
#[inline]
#[must_use]
pub const fn varint_len(value: u64) -> usize {
    // One byte per started group of seven bits, at least one: with
    // `b = 63 - leading zeros` (the top bit's index), `(9b + 73) / 64` is
    // `b / 7 + 1` for every b in 0..64, without a division (as prost does).
    let top_bit = (value | 1).leading_zeros() ^ 63;
    ((top_bit * 9 + 73) / 64) as usize
}

/// The size of field `field`'s key.
#[inline]
#[must_use]
pub const fn key_len(field: u32) -> usize {
    varint_len((field as u64) << 3)
}

/// The size of a `string` or `bytes` field of `len` bytes: nothing when
/// empty, as proto3 omits it.
#[inline]
#[must_use]
pub const fn bytes_field_len(field: u32, len: usize) -> usize {
    if len == 0 {
        0
    } else {
        message_field_len(field, len)
    }
}

/// The size of an embedded message field whose body is `body` bytes
/// (written even when empty: a present sub-message).
#[inline]
#[must_use]
pub const fn message_field_len(field: u32, body: usize) -> usize {
    key_len(field) + varint_len(body as u64) + body
}

/// The size of a varint field: nothing when zero, as proto3 omits it.
#[inline]
#[must_use]
pub const fn varint_field_len(field: u32, value: u64) -> usize {
    if value == 0 {
        0
    } else {
        key_len(field) + varint_len(value)
    }
}

/// `int64` on the wire: two's complement, so negatives take ten bytes.
#[inline]
#[must_use]
#[allow(clippy::cast_sign_loss)]
pub const fn int64_bits(value: i64) -> u64 {
    value as u64
}

/// Writes into a buffer already sized for what is written, so each byte is
/// a store rather than a `Vec::push` (whose length the compiler must reload
/// after every byte stored, as a byte may alias it).
///
/// The sizes come from the `*_len` functions; were one wrong, the bytes
/// past the end would be dropped (and a debug build would panic), never
/// written out of bounds.
///
/// ```
/// use statefun_protocol::wire::{Writer, bytes_field_len, varint_field_len};
///
/// // Field 1: varint 150; field 2: "hi".
/// let len = varint_field_len(1, 150) + bytes_field_len(2, 2);
/// let buf = Writer::exact(len, |w| {
///     w.varint_field(1, 150);
///     w.bytes_field(2, b"hi");
/// });
/// assert_eq!(buf, b"\x08\x96\x01\x12\x02hi");
/// ```
#[derive(Debug)]
pub struct Writer<'a> {
    out: &'a mut [u8],
    pos: usize,
}

impl<'a> Writer<'a> {
    /// A buffer of exactly `len` bytes, filled by `fill`.
    #[inline]
    pub fn exact(len: usize, fill: impl FnOnce(&mut Writer<'_>)) -> Vec<u8> {
        // Not `vec![0; len]`: that is calloc, which skips glibc's
        // per-thread cache and costs more than allocating and clearing.
        #[allow(clippy::slow_vector_initialization)]
        let mut out = Vec::with_capacity(len);
        out.resize(len, 0);
        let mut writer = Writer {
            out: &mut out,
            pos: 0,
        };
        fill(&mut writer);
        writer.done();
        out
    }

    /// Appends exactly `len` bytes to `out`, filled by `fill`.
    #[inline]
    pub fn append(out: &mut Vec<u8>, len: usize, fill: impl FnOnce(&mut Writer<'_>)) {
        /// Zeroed by fixed-size stores in line, where `resize` would call
        /// memset; most entries are shorter.
        const RUN: usize = 128;
        let start = out.len();
        // Only into room already there: reserving a whole run for a short
        // entry could grow the buffer when the entry alone would fit.
        if len <= RUN && out.capacity() - start >= RUN {
            out.extend_from_slice(&[0; RUN]);
            out.truncate(start + len);
        } else {
            out.resize(start + len, 0);
        }
        let mut writer = Writer {
            out: out.get_mut(start..).unwrap_or_default(),
            pos: 0,
        };
        fill(&mut writer);
        writer.done();
    }

    /// Checks (in debug builds) that exactly the computed size was written.
    fn done(&self) {
        debug_assert_eq!(
            self.pos,
            self.out.len(),
            "encoded length differs from the computed one"
        );
    }

    /// One byte.
    #[inline(always)]
    pub fn byte(&mut self, byte: u8) {
        if let Some(slot) = self.out.get_mut(self.pos) {
            *slot = byte;
        }
        self.pos += 1;
    }

    /// Bytes as they are.
    #[inline(always)]
    pub fn raw(&mut self, bytes: &[u8]) {
        let end = self.pos + bytes.len();
        if let Some(slots) = self.out.get_mut(self.pos..end) {
            slots.copy_from_slice(bytes);
        }
        self.pos = end;
    }

    /// A varint.
    #[inline]
    pub fn varint(&mut self, mut value: u64) {
        while value >= 0x80 {
            // The mask keeps the value within a byte.
            self.byte(u8::try_from(value & 0x7f).unwrap_or_default() | 0x80);
            value >>= 7;
        }
        self.byte(u8::try_from(value).unwrap_or_default());
    }

    /// Field `field`'s key with `wire_type`.
    #[inline(always)]
    pub fn key(&mut self, field: u32, wire_type: u8) {
        let key = (field << 3) | u32::from(wire_type);
        if key < 0x80 {
            // Fields 1 to 15: one byte (and the branch folds away for a
            // constant field number).
            self.byte(u8::try_from(key).unwrap_or_default());
        } else {
            self.varint(u64::from(key));
        }
    }

    /// A `string` or `bytes` field, omitted when empty.
    #[inline(always)]
    pub fn bytes_field(&mut self, field: u32, bytes: &[u8]) {
        if !bytes.is_empty() {
            self.message_header(field, bytes.len());
            self.raw(bytes);
        }
    }

    /// The key and length of an embedded message field whose body, of
    /// `body` bytes, is written next.
    #[inline(always)]
    pub fn message_header(&mut self, field: u32, body: usize) {
        self.key(field, LEN);
        self.varint(body as u64);
    }

    /// A varint field, omitted when zero.
    #[inline(always)]
    pub fn varint_field(&mut self, field: u32, value: u64) {
        if value != 0 {
            self.key(field, VARINT);
            self.varint(value);
        }
    }
}
