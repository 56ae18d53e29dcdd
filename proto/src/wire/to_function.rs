//! `ToFunction`, the runtime's request: read in place by functions (the
//! SDK), written by runtimes (the harness).
//!
//! Reading follows protobuf's rules: fields may come in any order, unknown
//! fields are skipped, a repeated occurrence of a singular message field
//! merges into the earlier one, and of a scalar field replaces it. A fast
//! path first tries the one layout the runtime (protobuf-java) and prost
//! write, in a single pass without dispatching on field numbers; anything
//! else takes the general path, which also names what is wrong with a
//! malformed request.

use smallvec::SmallVec;

use super::error::{DecodeError, Problem};
use super::read::{Reader, Span, check_size, is_ascii, is_utf8};
use super::write::{Writer, bytes_field_len, message_field_len};
use super::{Address, AddressRef, TypedValue, ValueRef};

/// One decoded invocation batch: ranges of the request buffer. Strings in
/// it were checked to be UTF-8.
///
/// ```
/// use statefun_protocol::wire::to_function;
///
/// // The protocol reference's worked example: a batch for ns/fn:1.
/// let request = b"\xa2\x06\x0d\x0a\x0b\x0a\x02ns\x12\x02fn\x1a\x011";
/// let batch = to_function::read(request)?;
/// let target = batch.target.expect("a target");
/// assert_eq!(target.id.raw(request), b"1");
/// assert!(batch.invocations.is_empty());
/// # Ok::<(), statefun_protocol::wire::DecodeError>(())
/// ```
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Batch {
    /// `target` (1): the address the batch is for.
    pub target: Option<Address>,
    /// `state` (2). Inline room for the common case: a few states.
    pub states: SmallVec<[State; 4]>,
    /// `invocations` (3). Inline room for the common case: one or two.
    pub invocations: SmallVec<[Invocation; 2]>,
}

/// `ToFunction.PersistedValue`: one state value attached to a request.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub struct State {
    /// `state_name` (1).
    pub name: Span,
    /// `state_value` (2); `None` when absent.
    pub value: Option<TypedValue>,
}

/// `ToFunction.Invocation`: one message to deliver.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub struct Invocation {
    /// `caller` (1).
    pub caller: Option<Address>,
    /// `argument` (2).
    pub argument: Option<TypedValue>,
}

/// Reads a `ToFunction` body.
///
/// # Errors
///
/// Bytes that are not a `ToFunction` with an invocation batch.
pub fn read(body: &[u8]) -> Result<Batch, DecodeError> {
    let mut batch = Batch::default();
    read_into(body, &mut batch)?;
    Ok(batch)
}

/// Reads a `ToFunction` body into `batch`, which is empty: decoded in
/// place, so a large batch is not moved.
///
/// # Errors
///
/// As [`read`].
#[inline]
pub fn read_into(body: &[u8], batch: &mut Batch) -> Result<(), DecodeError> {
    check_size(body, "ToFunction")?;
    if read_canonical(body, batch).is_some() {
        return Ok(());
    }
    // Not in the runtime's layout: start over on the general path, which
    // also names what is wrong with a malformed request.
    batch.target = None;
    batch.states.clear();
    batch.invocations.clear();
    read_general(body, batch)
}

/// The general path: any valid encoding, with the reason when invalid.
#[doc(hidden)]
pub fn read_general(body: &[u8], batch: &mut Batch) -> Result<(), DecodeError> {
    check_size(body, "ToFunction")?;
    let mut reader = Reader::new(body, "ToFunction");
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
        Err(reader.error(Problem::NoInvocationBatch))
    }
}

fn merge_batch(reader: &mut Reader<'_>, batch: &mut Batch) -> Result<(), DecodeError> {
    while let Some((field, wire_type)) = reader.key()? {
        match field {
            1 => {
                let mut nested = reader.nested("target", wire_type, "Address")?;
                super::merge_address(&mut nested, batch.target.get_or_insert_default())?;
            }
            2 => {
                let mut nested = reader.nested("state", wire_type, "ToFunction.PersistedValue")?;
                // Decoded in place, to avoid moving it into the vector.
                batch.states.push(State::default());
                if let Some(state) = batch.states.last_mut() {
                    merge_state(&mut nested, state)?;
                }
            }
            3 => {
                let mut nested =
                    reader.nested("invocations", wire_type, "ToFunction.Invocation")?;
                batch.invocations.push(Invocation::default());
                if let Some(invocation) = batch.invocations.last_mut() {
                    merge_invocation(&mut nested, invocation)?;
                }
            }
            _ => reader.skip(field, wire_type)?,
        }
    }
    Ok(())
}

fn merge_state(reader: &mut Reader<'_>, state: &mut State) -> Result<(), DecodeError> {
    while let Some((field, wire_type)) = reader.key()? {
        match field {
            1 => state.name = reader.text("state_name", wire_type)?,
            2 => {
                let mut nested = reader.nested("state_value", wire_type, "TypedValue")?;
                super::merge_typed_value(&mut nested, state.value.get_or_insert_default())?;
            }
            _ => reader.skip(field, wire_type)?,
        }
    }
    Ok(())
}

fn merge_invocation(
    reader: &mut Reader<'_>,
    invocation: &mut Invocation,
) -> Result<(), DecodeError> {
    while let Some((field, wire_type)) = reader.key()? {
        match field {
            1 => {
                let mut nested = reader.nested("caller", wire_type, "Address")?;
                super::merge_address(&mut nested, invocation.caller.get_or_insert_default())?;
            }
            2 => {
                let mut nested = reader.nested("argument", wire_type, "TypedValue")?;
                super::merge_typed_value(&mut nested, invocation.argument.get_or_insert_default())?;
            }
            _ => reader.skip(field, wire_type)?,
        }
    }
    Ok(())
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

/// Reads a request laid out as the runtime (protobuf-java) and prost write
/// it: every field in field-number order, each singular field at most
/// once, repeated fields together, no unknown fields, `has_value` written
/// as `1`. That is one straight pass with no dispatch on field numbers.
/// `None` at the first difference (or at anything malformed), and `batch`
/// is then in an unspecified state for the general path to reset; when it
/// answers, it answers what the general path would.
#[doc(hidden)]
pub fn read_canonical(body: &[u8], batch: &mut Batch) -> Option<()> {
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
        let mut state = State::default();
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
        let mut invocation = Invocation::default();
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
    fn address(&mut self) -> Option<Address> {
        let mut m = self.message()?;
        // An address is only strings: when all of its bytes are ASCII (its
        // keys and short lengths are), so is each string.
        let ascii = is_ascii(m.buf.get(m.pos..)?);
        let mut address = Address::default();
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
    fn value(&mut self) -> Option<TypedValue> {
        let mut m = self.message()?;
        let mut value = TypedValue::default();
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

// --- Writing ----------------------------------------------------------------

/// A state to send with a request: its name and, when it has one, its
/// value.
#[derive(Debug, Clone, Copy)]
pub struct StateRef<'a> {
    /// The state's name.
    pub name: &'a [u8],
    /// Its value; `None` when it has none (the runtime then sends only the
    /// name).
    pub value: Option<ValueRef<'a>>,
}

/// A message to send with a request.
#[derive(Debug, Clone, Copy)]
pub struct InvocationRef<'a> {
    /// Who sent it; `None` for ingress.
    pub caller: Option<AddressRef<'a>>,
    /// The message.
    pub argument: ValueRef<'a>,
}

/// `ToFunction.PersistedValue`'s size.
#[inline]
fn state_len(state: &StateRef<'_>) -> usize {
    bytes_field_len(1, state.name.len())
        + state
            .value
            .map_or(0, |v| message_field_len(2, v.encoded_len()))
}

/// `ToFunction.Invocation`'s size.
#[inline]
fn invocation_len(invocation: &InvocationRef<'_>) -> usize {
    invocation
        .caller
        .map_or(0, |c| message_field_len(1, c.encoded_len()))
        + message_field_len(2, invocation.argument.encoded_len())
}

/// Writes `ToFunction { invocation: InvocationBatchRequest { target,
/// state, invocations } }`, byte for byte as prost writes it.
///
/// ```
/// use statefun_protocol::wire::{AddressRef, to_function};
///
/// let target = AddressRef { namespace: b"ns", name: b"fn", id: b"1" };
/// let body = to_function::write(target, [].into_iter(), [].into_iter());
/// assert_eq!(body, b"\xa2\x06\x0d\x0a\x0b\x0a\x02ns\x12\x02fn\x1a\x011");
/// ```
pub fn write<'a, 'b>(
    target: AddressRef<'_>,
    states: impl Iterator<Item = StateRef<'a>> + Clone,
    invocations: impl Iterator<Item = InvocationRef<'b>> + Clone,
) -> Vec<u8> {
    let target_len = target.encoded_len();
    let batch_len = message_field_len(1, target_len)
        + states
            .clone()
            .map(|s| message_field_len(2, state_len(&s)))
            .sum::<usize>()
        + invocations
            .clone()
            .map(|i| message_field_len(3, invocation_len(&i)))
            .sum::<usize>();
    Writer::exact(message_field_len(100, batch_len), |w| {
        w.message_header(100, batch_len);
        target.write(w, 1, target_len);
        for state in states {
            w.message_header(2, state_len(&state));
            w.bytes_field(1, state.name);
            if let Some(value) = state.value {
                value.write(w, 2, value.encoded_len());
            }
        }
        for invocation in invocations {
            w.message_header(3, invocation_len(&invocation));
            if let Some(caller) = invocation.caller {
                caller.write(w, 1, caller.encoded_len());
            }
            let argument = invocation.argument;
            argument.write(w, 2, argument.encoded_len());
        }
    })
}
