//! Decoding `ToFunction` without copying: strings and bytes are ranges of
//! the request buffer.
//!
//! Follows protobuf's rules: fields may come in any order, unknown fields
//! are skipped, a repeated occurrence of a singular message field merges
//! into the earlier one, and of a scalar field replaces it. A fast path
//! first tries the one layout the runtime (and prost) writes, in a single
//! pass without dispatching on field numbers; anything else takes the
//! general path, which also names what is wrong with a malformed request.

use bytes::Bytes;

use super::{Batch, Malformed, Problem, Span, WireAddress, WireInvocation, WireState, WireValue};

const VARINT: u8 = 0;
const FIXED64: u8 = 1;
const LEN: u8 = 2;
const START_GROUP: u8 = 3;
const END_GROUP: u8 = 4;
const FIXED32: u8 = 5;
/// How deeply unknown groups may nest, as in prost.
const GROUP_DEPTH_LIMIT: usize = 100;

/// A cursor over one message's bytes within the request buffer.
struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    end: usize,
    message: &'static str,
}

impl<'a> Reader<'a> {
    fn new(buf: &'a [u8], start: usize, end: usize, message: &'static str) -> Self {
        Self {
            buf,
            pos: start,
            end,
            message,
        }
    }

    #[cold]
    #[inline(never)]
    fn error(&self, problem: Problem) -> Malformed {
        Malformed {
            problem,
            message: self.message,
        }
    }

    #[inline(always)]
    fn varint(&mut self) -> Result<u64, Malformed> {
        // Keys and short lengths fit in one byte.
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
    fn varint_slow(&mut self) -> Result<u64, Malformed> {
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

    /// The next field's number and wire type, or `None` at the end.
    #[inline(always)]
    fn key(&mut self) -> Result<Option<(u64, u8)>, Malformed> {
        if self.pos >= self.end {
            return Ok(None);
        }
        // Every field number this decoder knows below 16 has a one-byte key.
        let byte = self.buf[self.pos];
        if (8..0x80).contains(&byte) {
            self.pos += 1;
            return Ok(Some((u64::from(byte >> 3), byte & 7)));
        }
        let key = self.varint()?;
        if key > u64::from(u32::MAX) {
            return Err(self.error(Problem::InvalidKey));
        }
        let field = key >> 3;
        if field == 0 {
            return Err(self.error(Problem::FieldNumberZero));
        }
        // The low three bits always fit a u8.
        let wire_type = u8::try_from(key & 7).unwrap_or(u8::MAX);
        Ok(Some((field, wire_type)))
    }

    /// The byte range of a length-delimited field.
    #[inline(always)]
    fn delimited(&mut self) -> Result<Span, Malformed> {
        let len = self.varint()?;
        let start = self.pos;
        match usize::try_from(len) {
            Ok(len) if len <= self.end - start => {
                self.pos = start + len;
                Ok(Span::new(start, start + len))
            }
            _ => Err(self.error(Problem::LengthPastEnd)),
        }
    }

    /// Skips an unknown field (`field` is its number).
    fn skip(&mut self, field: u64, wire_type: u8) -> Result<(), Malformed> {
        if wire_type == START_GROUP {
            self.skip_group(field)
        } else {
            self.skip_scalar(wire_type)
        }
    }

    fn skip_scalar(&mut self, wire_type: u8) -> Result<(), Malformed> {
        let width = match wire_type {
            VARINT => return self.varint().map(drop),
            LEN => return self.delimited().map(drop),
            FIXED64 => 8,
            FIXED32 => 4,
            _ => return Err(self.error(Problem::UnsupportedWireType(wire_type))),
        };
        if self.end - self.pos < width {
            return Err(self.error(Problem::TruncatedFixed));
        }
        self.pos += width;
        Ok(())
    }

    /// Skips a (deprecated, proto2) group up to its matching end-group tag,
    /// without recursion.
    fn skip_group(&mut self, field: u64) -> Result<(), Malformed> {
        let mut open = vec![field];
        while let Some(&innermost) = open.last() {
            let Some((field, wire_type)) = self.key()? else {
                return Err(self.error(Problem::UnterminatedGroup));
            };
            match wire_type {
                START_GROUP if open.len() >= GROUP_DEPTH_LIMIT => {
                    return Err(self.error(Problem::GroupTooDeep));
                }
                START_GROUP => open.push(field),
                END_GROUP if field == innermost => {
                    open.pop();
                }
                END_GROUP => return Err(self.error(Problem::MismatchedEndGroup)),
                other => self.skip_scalar(other)?,
            }
        }
        Ok(())
    }

    #[inline(always)]
    fn expect(&self, field: &'static str, wire_type: u8, expected: u8) -> Result<(), Malformed> {
        if wire_type == expected {
            Ok(())
        } else {
            Err(self.error(Problem::WrongWireType { field, wire_type }))
        }
    }

    #[inline(always)]
    fn bytes(&mut self, field: &'static str, wire_type: u8) -> Result<Span, Malformed> {
        self.expect(field, wire_type, LEN)?;
        self.delimited()
    }

    /// A string field: its range, after checking it is UTF-8 (names and
    /// ids are nearly always ASCII, which is checked faster).
    #[inline(always)]
    fn text(&mut self, field: &'static str, wire_type: u8) -> Result<Span, Malformed> {
        let span = self.bytes(field, wire_type)?;
        if !is_utf8(span.raw(self.buf)) {
            return Err(self.error(Problem::InvalidUtf8 { field }));
        }
        Ok(span)
    }

    /// A reader over the embedded message in the next length-delimited field.
    #[inline(always)]
    fn nested(
        &mut self,
        field: &'static str,
        wire_type: u8,
        message: &'static str,
    ) -> Result<Reader<'a>, Malformed> {
        let span = self.bytes(field, wire_type)?;
        let range = span.range();
        Ok(Reader::new(self.buf, range.start, range.end, message))
    }
}

/// Whether `bytes` is UTF-8. Names and ids are short and nearly always
/// ASCII, which is checked here a word at a time without a call; anything
/// else goes to the standard library's validator.
#[inline(always)]
fn is_utf8(bytes: &[u8]) -> bool {
    is_ascii(bytes) || std::str::from_utf8(bytes).is_ok()
}

#[inline(always)]
fn is_ascii(bytes: &[u8]) -> bool {
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

/// Decodes a `ToFunction` body.
#[cfg(test)]
pub(crate) fn decode_batch(body: &Bytes) -> Result<Batch, Malformed> {
    let mut batch = Batch::default();
    decode_batch_into(body, &mut batch)?;
    Ok(batch)
}

/// Decodes a `ToFunction` body into `batch`, which is empty: decoded in
/// place, so the batch is not moved.
pub(crate) fn decode_batch_into(body: &Bytes, batch: &mut Batch) -> Result<(), Malformed> {
    if u32::try_from(body.len()).is_err() {
        return Err(Malformed {
            problem: Problem::TooLarge,
            message: "ToFunction",
        });
    }
    if decode_canonical(body, batch).is_some() {
        return Ok(());
    }
    // Not in the runtime's layout: start over on the general path, which
    // also names what is wrong with a malformed request.
    batch.target = None;
    batch.states.clear();
    batch.invocations.clear();
    decode_general(body, batch)
}

/// The general path: any valid encoding, with the reason when invalid.
pub(super) fn decode_general(body: &[u8], batch: &mut Batch) -> Result<(), Malformed> {
    let mut reader = Reader::new(body, 0, body.len(), "ToFunction");
    let mut found = false;
    while let Some((field, wire_type)) = reader.key()? {
        if field == 100 {
            let mut nested =
                reader.nested("invocation", wire_type, "ToFunction.InvocationBatchRequest")?;
            merge_batch(&mut nested, batch)?;
            found = true;
        } else {
            reader.skip(field, wire_type)?;
        }
    }
    if found {
        Ok(())
    } else {
        Err(Malformed {
            problem: Problem::NoInvocationBatch,
            message: "ToFunction",
        })
    }
}

// --- The fast path ----------------------------------------------------------

/// Key bytes of fields 1, 2 and 3 with wire type length-delimited.
const KEY_1: u8 = 0x0a;
const KEY_2: u8 = 0x12;
const KEY_3: u8 = 0x1a;
/// `TypedValue.has_value` (field 2, varint).
const KEY_HAS_VALUE: u8 = 0x10;
/// `ToFunction.invocation` (field 100, length-delimited).
const KEY_INVOCATION: [u8; 2] = [0xa2, 0x06];

/// Decodes a request laid out as the runtime (protobuf-java) and prost
/// write it: every field in field-number order, each singular field at
/// most once, repeated fields together, no unknown fields, `has_value`
/// written as `1`. That is one straight pass with no dispatch on field
/// numbers. `None` at the first difference (or at anything malformed),
/// and `batch` is then in an unspecified state for the general path to
/// reset; when it answers, it answers what the general path would.
pub(super) fn decode_canonical(body: &[u8], batch: &mut Batch) -> Option<()> {
    if body.get(..2)? != KEY_INVOCATION {
        return None;
    }
    let mut request = Canonical { buf: body, pos: 2 };
    let mut c = request.message()?;
    if c.key(KEY_1) {
        batch.target = Some(c.address()?);
    }
    while c.key(KEY_2) {
        let mut m = c.message()?;
        let mut state = WireState::default();
        if m.key(KEY_1) {
            state.name = m.text()?;
        }
        if m.key(KEY_2) {
            state.value = Some(m.value()?);
        }
        m.finish()?;
        batch.states.push(state);
    }
    while c.key(KEY_3) {
        let mut m = c.message()?;
        let mut invocation = WireInvocation::default();
        if m.key(KEY_1) {
            invocation.caller = Some(m.address()?);
        }
        if m.key(KEY_2) {
            invocation.argument = Some(m.value()?);
        }
        m.finish()?;
        batch.invocations.push(invocation);
    }
    c.finish()?;
    request.finish()
}

/// The fast path's cursor over one message: `buf` is the request up to the
/// message's end (positions stay those of the whole request), `pos` the
/// next byte. `None` means "not the canonical layout".
#[derive(Clone, Copy)]
struct Canonical<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Canonical<'a> {
    /// Consumes the one-byte key `key` if it comes next.
    #[inline(always)]
    fn key(&mut self, key: u8) -> bool {
        if self.buf.get(self.pos) == Some(&key) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    /// Reads a length prefix and returns a cursor over the field it
    /// announces, which must fit in this message; `self` moves past it.
    #[inline(always)]
    fn message(&mut self) -> Option<Canonical<'a>> {
        let (len, start) = match self.buf.get(self.pos) {
            Some(&byte) if byte < 0x80 => (usize::from(byte), self.pos + 1),
            _ => long_length(self.buf, self.pos)?,
        };
        let buf = self.buf.get(..start.checked_add(len)?)?;
        self.pos = buf.len();
        Some(Canonical { buf, pos: start })
    }

    /// A length-delimited field's range.
    #[inline(always)]
    fn span(&mut self) -> Option<Span> {
        let field = self.message()?;
        Some(Span::new(field.pos, field.buf.len()))
    }

    /// A string field's range, after checking it is UTF-8.
    #[inline(always)]
    fn text(&mut self) -> Option<Span> {
        let span = self.span()?;
        is_utf8(self.buf.get(span.range())?).then_some(span)
    }

    /// A string field's range, after checking it is UTF-8 unless known
    /// to be ASCII.
    #[inline(always)]
    fn string(&mut self, ascii: bool) -> Option<Span> {
        let span = self.span()?;
        (ascii || is_utf8(self.buf.get(span.range())?)).then_some(span)
    }

    /// Succeeds when the cursor has reached the end of the message.
    #[inline(always)]
    fn finish(self) -> Option<()> {
        (self.pos == self.buf.len()).then_some(())
    }

    /// An embedded `Address`, its length next.
    #[inline(always)]
    fn address(&mut self) -> Option<WireAddress> {
        let mut m = self.message()?;
        // An address is only strings: when all of its bytes are ASCII (its
        // keys and short lengths are), so is each string.
        let ascii = is_ascii(m.buf.get(m.pos..)?);
        let mut address = WireAddress::default();
        if m.key(KEY_1) {
            address.namespace = m.string(ascii)?;
        }
        if m.key(KEY_2) {
            address.name = m.string(ascii)?;
        }
        if m.key(KEY_3) {
            address.id = m.string(ascii)?;
        }
        m.finish()?;
        Some(address)
    }

    /// An embedded `TypedValue`, its length next.
    #[inline(always)]
    fn value(&mut self) -> Option<WireValue> {
        let mut m = self.message()?;
        let mut value = WireValue::default();
        if m.key(KEY_1) {
            value.type_name = m.text()?;
        }
        if m.key(KEY_HAS_VALUE) {
            // `true` as protobuf writes it; anything else (an explicit
            // `false`, a padded varint) is left to the general path.
            if !m.key(1) {
                return None;
            }
            value.has_value = true;
        }
        if m.key(KEY_3) {
            value.bytes = m.span()?;
        }
        m.finish()?;
        Some(value)
    }
}

/// A length of two to five bytes at `pos` (the request is under 4 GiB):
/// the length and the position after it.
#[inline(never)]
fn long_length(buf: &[u8], pos: usize) -> Option<(usize, usize)> {
    let mut len = 0_u64;
    for (i, shift) in (0..35).step_by(7).enumerate() {
        let byte = *buf.get(pos + i)?;
        len |= u64::from(byte & 0x7f) << shift;
        if byte < 0x80 {
            return Some((usize::try_from(len).ok()?, pos + i + 1));
        }
    }
    None
}

// --- The general path -------------------------------------------------------

fn merge_batch(reader: &mut Reader<'_>, batch: &mut Batch) -> Result<(), Malformed> {
    while let Some((field, wire_type)) = reader.key()? {
        match field {
            1 => {
                let mut nested = reader.nested("target", wire_type, "Address")?;
                merge_address(
                    &mut nested,
                    batch.target.get_or_insert_with(WireAddress::default),
                )?;
            }
            2 => {
                let mut nested = reader.nested("state", wire_type, "ToFunction.PersistedValue")?;
                // Decoded in place, to avoid moving it into the vector.
                batch.states.push(WireState::default());
                if let Some(state) = batch.states.last_mut() {
                    merge_state(&mut nested, state)?;
                }
            }
            3 => {
                let mut nested =
                    reader.nested("invocations", wire_type, "ToFunction.Invocation")?;
                batch.invocations.push(WireInvocation::default());
                if let Some(invocation) = batch.invocations.last_mut() {
                    merge_invocation(&mut nested, invocation)?;
                }
            }
            _ => reader.skip(field, wire_type)?,
        }
    }
    Ok(())
}

fn merge_address(reader: &mut Reader<'_>, address: &mut WireAddress) -> Result<(), Malformed> {
    while let Some((field, wire_type)) = reader.key()? {
        match field {
            1 => {
                address.namespace = reader.text("namespace", wire_type)?;
            }
            2 => {
                address.name = reader.text("type", wire_type)?;
            }
            3 => {
                address.id = reader.text("id", wire_type)?;
            }
            _ => reader.skip(field, wire_type)?,
        }
    }
    Ok(())
}

fn merge_value(reader: &mut Reader<'_>, value: &mut WireValue) -> Result<(), Malformed> {
    while let Some((field, wire_type)) = reader.key()? {
        match field {
            1 => {
                value.type_name = reader.text("typename", wire_type)?;
            }
            2 => {
                reader.expect("has_value", wire_type, VARINT)?;
                value.has_value = reader.varint()? != 0;
            }
            3 => {
                value.bytes = reader.bytes("value", wire_type)?;
            }
            _ => reader.skip(field, wire_type)?,
        }
    }
    Ok(())
}

fn merge_state(reader: &mut Reader<'_>, state: &mut WireState) -> Result<(), Malformed> {
    while let Some((field, wire_type)) = reader.key()? {
        match field {
            1 => {
                state.name = reader.text("state_name", wire_type)?;
            }
            2 => {
                let mut nested = reader.nested("state_value", wire_type, "TypedValue")?;
                merge_value(
                    &mut nested,
                    state.value.get_or_insert_with(WireValue::default),
                )?;
            }
            _ => reader.skip(field, wire_type)?,
        }
    }
    Ok(())
}

fn merge_invocation(
    reader: &mut Reader<'_>,
    invocation: &mut WireInvocation,
) -> Result<(), Malformed> {
    while let Some((field, wire_type)) = reader.key()? {
        match field {
            1 => {
                let mut nested = reader.nested("caller", wire_type, "Address")?;
                merge_address(
                    &mut nested,
                    invocation.caller.get_or_insert_with(WireAddress::default),
                )?;
            }
            2 => {
                let mut nested = reader.nested("argument", wire_type, "TypedValue")?;
                merge_value(
                    &mut nested,
                    invocation.argument.get_or_insert_with(WireValue::default),
                )?;
            }
            _ => reader.skip(field, wire_type)?,
        }
    }
    Ok(())
}
