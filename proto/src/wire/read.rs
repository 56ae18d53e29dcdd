//! Reading protobuf's wire format in place: [`Span`]s of the buffer, and
//! the [`Reader`] that walks one message's fields.
//!
//! The rules are protobuf's (and prost's, which the tests compare with):
//! fields in any order, unknown fields skipped (groups included), messages
//! and groups nested at most [`RECURSION_LIMIT`] deep, strings checked to
//! be UTF-8.

use std::ops::Range;

pub use super::error::RECURSION_LIMIT;
use super::error::{DecodeError, Problem};

/// Wire type 0: a varint.
pub const VARINT: u8 = 0;
/// Wire type 1: eight bytes.
pub const FIXED64: u8 = 1;
/// Wire type 2: a length, then that many bytes.
pub const LEN: u8 = 2;
/// Wire type 3: the start of a (proto2) group.
pub const START_GROUP: u8 = 3;
/// Wire type 4: the end of a group.
pub const END_GROUP: u8 = 4;
/// Wire type 5: four bytes.
pub const FIXED32: u8 = 5;

/// A byte range of the buffer a message was read from: where a string,
/// bytes or nested message field lies. 32-bit offsets keep decoded
/// messages small; readers refuse buffers of 4 GiB or more.
///
/// ```
/// use statefun_protocol::wire::Span;
///
/// let span = Span::new(2, 5);
/// assert_eq!(span.raw(b"abcdefg"), b"cde");
/// assert_eq!(span.len(), 3);
/// ```
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Span {
    start: u32,
    end: u32,
}

impl Span {
    /// `start..end`. Offsets past `u32::MAX` saturate (readers never make
    /// them: they refuse such buffers first).
    #[inline]
    #[must_use]
    pub fn new(start: usize, end: usize) -> Self {
        Self {
            start: u32::try_from(start).unwrap_or(u32::MAX),
            end: u32::try_from(end).unwrap_or(u32::MAX),
        }
    }

    /// Whether the range holds no bytes.
    #[inline]
    #[must_use]
    pub fn is_empty(self) -> bool {
        self.start >= self.end
    }

    /// How many bytes the range holds.
    #[inline]
    #[must_use]
    pub fn len(self) -> usize {
        self.end.saturating_sub(self.start) as usize
    }

    /// The range as `usize` offsets.
    #[inline]
    #[must_use]
    pub fn range(self) -> Range<usize> {
        self.start as usize..self.end as usize
    }

    /// The bytes of this range of `buf`; none when the range is not in
    /// `buf` (a span of another buffer).
    #[inline]
    #[must_use]
    pub fn raw(self, buf: &[u8]) -> &[u8] {
        buf.get(self.range()).unwrap_or_default()
    }

    /// The text of this range of `buf`, a string field checked to be
    /// UTF-8 when it was read; empty when it is not.
    #[inline]
    #[must_use]
    pub fn str(self, buf: &[u8]) -> &str {
        std::str::from_utf8(self.raw(buf)).unwrap_or_default()
    }
}

/// Refuses buffers whose offsets do not fit a [`Span`].
#[inline]
pub(crate) fn check_size(buf: &[u8], message: &'static str) -> Result<(), DecodeError> {
    if u32::try_from(buf.len()).is_ok() {
        Ok(())
    } else {
        Err(DecodeError::new(Problem::TooLarge, message))
    }
}

/// A cursor over one message's fields within a buffer: positions are of
/// the whole buffer, so every [`Span`] it gives can be read from it.
///
/// ```
/// use statefun_protocol::wire::{LEN, Reader, VARINT};
///
/// // Field 1: varint 150; field 2: "hi".
/// let buf = b"\x08\x96\x01\x12\x02hi";
/// let mut reader = Reader::new(buf, "Example");
/// assert_eq!(reader.key()?, Some((1, VARINT)));
/// assert_eq!(reader.varint()?, 150);
/// assert_eq!(reader.key()?, Some((2, LEN)));
/// assert_eq!(reader.text("name", LEN)?.raw(buf), b"hi");
/// assert_eq!(reader.key()?, None);
/// # Ok::<(), statefun_protocol::wire::DecodeError>(())
/// ```
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    end: usize,
    /// How many more levels of nesting are allowed.
    depth: u32,
    message: &'static str,
}

impl<'a> Reader<'a> {
    /// A reader over all of `buf`, which holds a `message`. Buffers of
    /// 4 GiB or more give spans that saturate: check their size first
    /// where that matters (the message readers do).
    #[must_use]
    pub fn new(buf: &'a [u8], message: &'static str) -> Self {
        Self {
            buf,
            pos: 0,
            end: buf.len(),
            depth: RECURSION_LIMIT,
            message,
        }
    }

    /// The buffer this reader reads from.
    #[must_use]
    pub fn buf(&self) -> &'a [u8] {
        self.buf
    }

    /// The error `problem` in this reader's message.
    #[cold]
    #[inline(never)]
    #[must_use]
    pub fn error(&self, problem: Problem) -> DecodeError {
        DecodeError::new(problem, self.message)
    }

    /// The next varint.
    ///
    /// # Errors
    ///
    /// One that runs past the message or past 64 bits.
    #[inline(always)]
    pub fn varint(&mut self) -> Result<u64, DecodeError> {
        // Keys, short lengths and flags fit in one byte.
        if self.pos < self.end {
            let byte = self.buf[self.pos];
            if byte < 0x80 {
                self.pos += 1;
                return Ok(u64::from(byte));
            }
        }
        self.varint_slow()
    }

    #[inline(never)]
    fn varint_slow(&mut self) -> Result<u64, DecodeError> {
        let mut value = 0_u64;
        for shift in (0..70).step_by(7) {
            if self.pos >= self.end {
                return Err(self.error(Problem::TruncatedVarint));
            }
            let byte = self.buf[self.pos];
            self.pos += 1;
            if shift == 63 && byte > 1 {
                return Err(self.error(Problem::VarintOverflow));
            }
            value |= u64::from(byte & 0x7f) << shift;
            if byte < 0x80 {
                return Ok(value);
            }
        }
        Err(self.error(Problem::VarintOverflow))
    }

    /// The next field's number and wire type, or `None` at the end of the
    /// message. The wire type is as found (0 to 7): it is checked where
    /// the field is read or skipped.
    ///
    /// # Errors
    ///
    /// A key that is not a varint, larger than 32 bits, or of field 0.
    #[inline(always)]
    pub fn key(&mut self) -> Result<Option<(u32, u8)>, DecodeError> {
        if self.pos >= self.end {
            return Ok(None);
        }
        // Fields 1 to 15 have one-byte keys.
        let byte = self.buf[self.pos];
        if (8..0x80).contains(&byte) {
            self.pos += 1;
            return Ok(Some((u32::from(byte >> 3), byte & 7)));
        }
        let key = self.varint()?;
        let Ok(key) = u32::try_from(key) else {
            return Err(self.error(Problem::InvalidKey));
        };
        if key >> 3 == 0 {
            return Err(self.error(Problem::FieldNumberZero));
        }
        // The low three bits always fit a u8.
        let wire_type = u8::try_from(key & 7).unwrap_or(u8::MAX);
        Ok(Some((key >> 3, wire_type)))
    }

    /// Fails unless `wire_type` is `expected` for `field`.
    ///
    /// # Errors
    ///
    /// [`Problem::WrongWireType`] naming `field`.
    #[inline(always)]
    pub fn expect(
        &self,
        field: &'static str,
        wire_type: u8,
        expected: u8,
    ) -> Result<(), DecodeError> {
        if wire_type == expected {
            Ok(())
        } else {
            Err(self.error(Problem::WrongWireType { field, wire_type }))
        }
    }

    /// The range of the next `len` bytes, moving past them.
    #[inline(always)]
    fn take(&mut self, len: u64, problem: Problem) -> Result<Span, DecodeError> {
        let start = self.pos;
        match usize::try_from(len) {
            Ok(len) if len <= self.end - start => {
                self.pos = start + len;
                Ok(Span::new(start, start + len))
            }
            _ => Err(self.error(problem)),
        }
    }

    /// A length-delimited field's bytes (its length next).
    #[inline(always)]
    fn delimited(&mut self) -> Result<Span, DecodeError> {
        let len = self.varint()?;
        self.take(len, Problem::LengthPastEnd)
    }

    /// A `bytes` field's range.
    ///
    /// # Errors
    ///
    /// A wrong wire type, or a length past the message's end.
    #[inline(always)]
    pub fn bytes(&mut self, field: &'static str, wire_type: u8) -> Result<Span, DecodeError> {
        self.expect(field, wire_type, LEN)?;
        self.delimited()
    }

    /// A `string` field's range, checked to be UTF-8.
    ///
    /// # Errors
    ///
    /// As [`Reader::bytes`], and text that is not UTF-8.
    #[inline(always)]
    pub fn text(&mut self, field: &'static str, wire_type: u8) -> Result<Span, DecodeError> {
        let span = self.bytes(field, wire_type)?;
        if !is_utf8(span.raw(self.buf)) {
            return Err(self.error(Problem::InvalidUtf8 { field }));
        }
        Ok(span)
    }

    /// A `uint64` (or `bool`, `enum`, `int*`: their bits) field.
    ///
    /// # Errors
    ///
    /// A wrong wire type or a bad varint.
    #[inline(always)]
    pub fn uint(&mut self, field: &'static str, wire_type: u8) -> Result<u64, DecodeError> {
        self.expect(field, wire_type, VARINT)?;
        self.varint()
    }

    /// A `bool` field: any non-zero varint is `true`, as in prost.
    ///
    /// # Errors
    ///
    /// As [`Reader::uint`].
    #[inline(always)]
    pub fn bool(&mut self, field: &'static str, wire_type: u8) -> Result<bool, DecodeError> {
        Ok(self.uint(field, wire_type)? != 0)
    }

    /// An `int64` field: the varint's bits, two's complement.
    ///
    /// # Errors
    ///
    /// As [`Reader::uint`].
    #[inline(always)]
    #[allow(clippy::cast_possible_wrap)]
    pub fn int64(&mut self, field: &'static str, wire_type: u8) -> Result<i64, DecodeError> {
        Ok(self.uint(field, wire_type)? as i64)
    }

    /// An `int32` (or enum) field: the varint's low 32 bits, as prost reads
    /// them.
    ///
    /// # Errors
    ///
    /// As [`Reader::uint`].
    #[inline(always)]
    #[allow(clippy::cast_possible_truncation)]
    pub fn int32(&mut self, field: &'static str, wire_type: u8) -> Result<i32, DecodeError> {
        Ok(self.uint(field, wire_type)? as i32)
    }

    /// A reader over the embedded `message` in the next field, one level
    /// deeper.
    ///
    /// # Errors
    ///
    /// A wrong wire type, a length past the end, or nesting past the limit.
    #[inline(always)]
    pub fn nested(
        &mut self,
        field: &'static str,
        wire_type: u8,
        message: &'static str,
    ) -> Result<Reader<'a>, DecodeError> {
        let span = self.bytes(field, wire_type)?;
        if self.depth == 0 {
            return Err(self.error(Problem::TooDeep));
        }
        let range = span.range();
        Ok(Reader {
            buf: self.buf,
            pos: range.start,
            end: range.end,
            depth: self.depth - 1,
            message,
        })
    }

    /// Skips an unknown field (`field` is its number), as protobuf does.
    ///
    /// # Errors
    ///
    /// A field that cannot be skipped: truncated, of wire type 6 or 7, a
    /// stray end-group, or groups nested past the limit.
    pub fn skip(&mut self, field: u32, wire_type: u8) -> Result<(), DecodeError> {
        if self.depth == 0 {
            return Err(self.error(Problem::TooDeep));
        }
        if wire_type == START_GROUP {
            self.skip_group(field)
        } else {
            self.skip_scalar(wire_type)
        }
    }

    fn skip_scalar(&mut self, wire_type: u8) -> Result<(), DecodeError> {
        match wire_type {
            VARINT => self.varint().map(drop),
            LEN => self.delimited().map(drop),
            FIXED64 => self.take(8, Problem::TruncatedFixed).map(drop),
            FIXED32 => self.take(4, Problem::TruncatedFixed).map(drop),
            _ => Err(self.error(Problem::UnsupportedWireType(wire_type))),
        }
    }

    /// Skips a group up to its matching end-group tag, without recursion.
    /// Each open group is a level of nesting, counted from this message's
    /// depth, as prost counts them.
    fn skip_group(&mut self, field: u32) -> Result<(), DecodeError> {
        let mut open = vec![field];
        while let Some(&innermost) = open.last() {
            let Some((field, wire_type)) = self.key()? else {
                return Err(self.error(Problem::UnterminatedGroup));
            };
            if wire_type == END_GROUP {
                if field != innermost {
                    return Err(self.error(Problem::MismatchedEndGroup));
                }
                open.pop();
                continue;
            }
            if open.len() >= self.depth as usize {
                return Err(self.error(Problem::TooDeep));
            }
            match wire_type {
                START_GROUP => open.push(field),
                other => self.skip_scalar(other)?,
            }
        }
        Ok(())
    }
}

/// Whether `bytes` is UTF-8. Names and ids are short and nearly always
/// ASCII, which is checked here a word at a time without a call; anything
/// else goes to the standard library's validator.
#[inline(always)]
pub(crate) fn is_utf8(bytes: &[u8]) -> bool {
    is_ascii(bytes) || std::str::from_utf8(bytes).is_ok()
}

#[inline(always)]
pub(crate) fn is_ascii(bytes: &[u8]) -> bool {
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let word = |chunk: &[u8]| {
        let mut word = [0; 8];
        if let Some(head) = word.get_mut(..chunk.len()) {
            head.copy_from_slice(chunk);
        }
        u64::from_le_bytes(word)
    };
    let len = bytes.len();
    let bits = match len {
        0 => 0,
        // The first, middle and last bytes cover all of one to three.
        1..4 => u64::from(bytes[0] | bytes[len / 2] | bytes[len - 1]),
        // Two overlapping halves.
        4..8 => word(&bytes[..4]) | word(&bytes[len - 4..]),
        // Whole words, then the last eight bytes (overlapping).
        _ => {
            let chunks = bytes.chunks_exact(8);
            chunks.fold(word(&bytes[len - 8..]), |bits, chunk| bits | word(chunk))
        }
    };
    bits & HIGH == 0
}
