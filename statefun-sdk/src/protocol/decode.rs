//! Decoding `ToFunction` without copying: strings and bytes are slices of
//! the request buffer.
//!
//! Follows protobuf's rules: fields may come in any order, unknown fields
//! are skipped, a repeated occurrence of a singular message field merges
//! into the earlier one, and of a scalar field replaces it.

use bytes::Bytes;

use super::{Batch, Malformed, WireAddress, WireInvocation, WireState, WireValue};
use crate::text::Text;

const VARINT: u8 = 0;
const FIXED64: u8 = 1;
const LEN: u8 = 2;
const FIXED32: u8 = 5;

/// A cursor over one message's bytes within the request buffer.
struct Reader<'a> {
    buf: &'a Bytes,
    pos: usize,
    end: usize,
    message: &'static str,
}

impl<'a> Reader<'a> {
    fn new(buf: &'a Bytes, start: usize, end: usize, message: &'static str) -> Self {
        Self {
            buf,
            pos: start,
            end,
            message,
        }
    }

    fn error(&self, what: &str) -> Malformed {
        Malformed {
            reason: format!("{what} in {}", self.message),
        }
    }

    fn varint(&mut self) -> Result<u64, Malformed> {
        let mut value = 0_u64;
        for shift in (0..70).step_by(7) {
            let Some(&byte) = self.buf.get(self.pos).filter(|_| self.pos < self.end) else {
                return Err(self.error("truncated varint"));
            };
            self.pos += 1;
            if shift == 63 && byte > 1 {
                return Err(self.error("varint overflows 64 bits"));
            }
            value |= u64::from(byte & 0x7f) << shift;
            if byte < 0x80 {
                return Ok(value);
            }
        }
        Err(self.error("varint longer than 10 bytes"))
    }

    /// The next field's number and wire type, or `None` at the end.
    #[inline]
    fn key(&mut self) -> Result<Option<(u64, u8)>, Malformed> {
        if self.pos >= self.end {
            return Ok(None);
        }
        let key = self.varint()?;
        let field = key >> 3;
        if field == 0 {
            return Err(self.error("field number 0"));
        }
        // The low three bits always fit a u8.
        let wire_type = u8::try_from(key & 7).unwrap_or(u8::MAX);
        Ok(Some((field, wire_type)))
    }

    /// The byte range of a length-delimited field.
    fn delimited(&mut self) -> Result<(usize, usize), Malformed> {
        let len = self.varint()?;
        let start = self.pos;
        let end = usize::try_from(len)
            .ok()
            .and_then(|len| start.checked_add(len))
            .filter(|&end| end <= self.end)
            .ok_or_else(|| self.error("field length exceeds the message"))?;
        self.pos = end;
        Ok((start, end))
    }

    fn skip(&mut self, wire_type: u8) -> Result<(), Malformed> {
        let width = match wire_type {
            VARINT => return self.varint().map(drop),
            LEN => return self.delimited().map(drop),
            FIXED64 => 8,
            FIXED32 => 4,
            _ => return Err(self.error(&format!("unsupported wire type {wire_type}"))),
        };
        if self.end - self.pos < width {
            return Err(self.error("truncated fixed-width field"));
        }
        self.pos += width;
        Ok(())
    }

    #[inline]
    fn expect(&self, field: &str, wire_type: u8, expected: u8) -> Result<(), Malformed> {
        if wire_type == expected {
            Ok(())
        } else {
            Err(self.wrong_wire_type(field, wire_type))
        }
    }

    #[cold]
    #[inline(never)]
    fn wrong_wire_type(&self, field: &str, wire_type: u8) -> Malformed {
        self.error(&format!("wrong wire type {wire_type} for field {field}"))
    }

    fn bytes(&mut self) -> Result<Bytes, Malformed> {
        let (start, end) = self.delimited()?;
        Ok(self.buf.slice(start..end))
    }

    fn text(&mut self, field: &str) -> Result<Text, Malformed> {
        let bytes = self.bytes()?;
        Text::from_utf8(bytes).map_err(|_| self.error(&format!("invalid UTF-8 in field {field}")))
    }

    /// A reader over the embedded message in the next length-delimited field.
    fn nested(&mut self, message: &'static str) -> Result<Reader<'a>, Malformed> {
        let (start, end) = self.delimited()?;
        Ok(Reader::new(self.buf, start, end, message))
    }
}

/// Decodes a `ToFunction` body.
pub(crate) fn decode_batch(body: &Bytes) -> Result<Batch, Malformed> {
    let mut reader = Reader::new(body, 0, body.len(), "ToFunction");
    let mut batch: Option<Batch> = None;
    while let Some((field, wire_type)) = reader.key()? {
        if field == 100 {
            reader.expect("invocation", wire_type, LEN)?;
            let mut nested = reader.nested("ToFunction.InvocationBatchRequest")?;
            merge_batch(&mut nested, batch.get_or_insert_with(Batch::default))?;
        } else {
            reader.skip(wire_type)?;
        }
    }
    batch.ok_or_else(|| Malformed {
        reason: "the ToFunction carries no invocation batch".into(),
    })
}

fn merge_batch(reader: &mut Reader<'_>, batch: &mut Batch) -> Result<(), Malformed> {
    while let Some((field, wire_type)) = reader.key()? {
        match field {
            1 => {
                reader.expect("target", wire_type, LEN)?;
                let mut nested = reader.nested("Address")?;
                merge_address(
                    &mut nested,
                    batch.target.get_or_insert_with(WireAddress::default),
                )?;
            }
            2 => {
                reader.expect("state", wire_type, LEN)?;
                let mut nested = reader.nested("ToFunction.PersistedValue")?;
                let mut state = WireState::default();
                merge_state(&mut nested, &mut state)?;
                batch.states.push(state);
            }
            3 => {
                reader.expect("invocations", wire_type, LEN)?;
                let mut nested = reader.nested("ToFunction.Invocation")?;
                let mut invocation = WireInvocation::default();
                merge_invocation(&mut nested, &mut invocation)?;
                batch.invocations.push(invocation);
            }
            _ => reader.skip(wire_type)?,
        }
    }
    Ok(())
}

fn merge_address(reader: &mut Reader<'_>, address: &mut WireAddress) -> Result<(), Malformed> {
    while let Some((field, wire_type)) = reader.key()? {
        match field {
            1 => {
                reader.expect("namespace", wire_type, LEN)?;
                address.namespace = reader.text("namespace")?;
            }
            2 => {
                reader.expect("type", wire_type, LEN)?;
                address.name = reader.text("type")?;
            }
            3 => {
                reader.expect("id", wire_type, LEN)?;
                address.id = reader.text("id")?;
            }
            _ => reader.skip(wire_type)?,
        }
    }
    Ok(())
}

fn merge_value(reader: &mut Reader<'_>, value: &mut WireValue) -> Result<(), Malformed> {
    while let Some((field, wire_type)) = reader.key()? {
        match field {
            1 => {
                reader.expect("typename", wire_type, LEN)?;
                value.type_name = reader.text("typename")?;
            }
            2 => {
                reader.expect("has_value", wire_type, VARINT)?;
                value.has_value = reader.varint()? != 0;
            }
            3 => {
                reader.expect("value", wire_type, LEN)?;
                value.bytes = reader.bytes()?;
            }
            _ => reader.skip(wire_type)?,
        }
    }
    Ok(())
}

fn merge_state(reader: &mut Reader<'_>, state: &mut WireState) -> Result<(), Malformed> {
    while let Some((field, wire_type)) = reader.key()? {
        match field {
            1 => {
                reader.expect("state_name", wire_type, LEN)?;
                state.name = reader.text("state_name")?;
            }
            2 => {
                reader.expect("state_value", wire_type, LEN)?;
                let mut nested = reader.nested("TypedValue")?;
                merge_value(
                    &mut nested,
                    state.value.get_or_insert_with(WireValue::default),
                )?;
            }
            _ => reader.skip(wire_type)?,
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
                reader.expect("caller", wire_type, LEN)?;
                let mut nested = reader.nested("Address")?;
                merge_address(
                    &mut nested,
                    invocation.caller.get_or_insert_with(WireAddress::default),
                )?;
            }
            2 => {
                reader.expect("argument", wire_type, LEN)?;
                let mut nested = reader.nested("TypedValue")?;
                merge_value(
                    &mut nested,
                    invocation.argument.get_or_insert_with(WireValue::default),
                )?;
            }
            _ => reader.skip(wire_type)?,
        }
    }
    Ok(())
}
