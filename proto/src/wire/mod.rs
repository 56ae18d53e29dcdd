//! The one place that reads and writes the protocol's bytes: a zero-copy
//! reader and an exact-size writer for `ToFunction` and `FromFunction`,
//! with the [`egress`] records and the built-in value wrappers ([`types`]), on one set of
//! varint, key and length primitives with one error type.
//!
//! Functions (the SDK) read [`to_function`] and write [`from_function`];
//! runtimes (the harness, statefun-local) write [`to_function`] and read
//! [`from_function`]. Readers give [`Span`]s, byte ranges of the buffer
//! read, so nothing is copied until the caller keeps it; writers add up
//! the exact size first and fill one buffer of that size. Both follow
//! protobuf's rules and write what prost writes: the tests check every
//! reader and writer against prost's generated code for the same schema
//! (`crate::reqreply`), on generated and on mangled messages.
//!
//! Formats of the project's own (the harness's checkpoints) build on the
//! same [`Reader`] and [`Writer`].
//!
//! ```
//! use statefun_protocol::wire::{AddressRef, ValueRef, from_function, to_function};
//!
//! // A runtime writes a request ...
//! let target = AddressRef { namespace: b"ns", name: b"counter", id: b"7" };
//! let hello = ValueRef { type_name: b"io.statefun.types/string", bytes: Some(b"\x0a\x02hi") };
//! let request = to_function::write(
//!     target,
//!     [].into_iter(),
//!     [to_function::InvocationRef { caller: None, argument: hello }].into_iter(),
//! );
//! // ... a function reads it in place ...
//! let batch = to_function::read(&request)?;
//! let argument = batch.invocations[0].argument.expect("an argument");
//! assert_eq!(argument.bytes.raw(&request), b"\x0a\x02hi");
//! // ... and answers that nothing changed.
//! let answer = from_function::write_result([].into_iter(), &[], &[], &[]);
//! assert_eq!(answer, b"\xa2\x06\x00");
//! # Ok::<(), statefun_protocol::wire::DecodeError>(())
//! ```

pub mod egress;
mod error;
pub mod from_function;
mod read;
pub mod to_function;
pub mod types;
mod write;

#[cfg(test)]
mod tests;

pub use error::{DecodeError, Problem};
pub use read::{
    END_GROUP, FIXED32, FIXED64, LEN, RECURSION_LIMIT, Reader, START_GROUP, Span, VARINT,
};
pub use write::{
    Writer, bytes_field_len, int64_bits, key_len, message_field_len, varint_field_len, varint_len,
};

/// `reqreply.Address` as read: ranges of the buffer, strings checked to be
/// UTF-8, not yet validated as a function address.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Address {
    /// `namespace` (1).
    pub namespace: Span,
    /// `type` (2): the function type's name.
    pub name: Span,
    /// `id` (3).
    pub id: Span,
}

impl Address {
    /// SDKs treat an address whose three fields are empty as no address.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.namespace.is_empty() && self.name.is_empty() && self.id.is_empty()
    }
}

/// `reqreply.TypedValue` as read: ranges of the buffer.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct TypedValue {
    /// `typename` (1), checked to be UTF-8.
    pub type_name: Span,
    /// `has_value` (2).
    pub has_value: bool,
    /// `value` (3).
    pub bytes: Span,
}

/// `reqreply.Address` to write.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct AddressRef<'a> {
    /// `namespace` (1).
    pub namespace: &'a [u8],
    /// `type` (2): the function type's name.
    pub name: &'a [u8],
    /// `id` (3).
    pub id: &'a [u8],
}

impl AddressRef<'_> {
    /// The size of its body.
    #[inline]
    #[must_use]
    pub fn encoded_len(&self) -> usize {
        bytes_field_len(1, self.namespace.len())
            + bytes_field_len(2, self.name.len())
            + bytes_field_len(3, self.id.len())
    }

    /// Writes it as field `field`, its body `len` ([`AddressRef::encoded_len`]) bytes.
    #[inline(always)]
    pub(crate) fn write(&self, w: &mut Writer<'_>, field: u32, len: usize) {
        w.message_header(field, len);
        w.bytes_field(1, self.namespace);
        w.bytes_field(2, self.name);
        w.bytes_field(3, self.id);
    }
}

/// `reqreply.TypedValue` to write.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ValueRef<'a> {
    /// `typename` (1).
    pub type_name: &'a [u8],
    /// `value` (3), with `has_value` (2) set; `None`: no value.
    pub bytes: Option<&'a [u8]>,
}

impl ValueRef<'_> {
    /// The size of its body.
    #[inline]
    #[must_use]
    pub fn encoded_len(&self) -> usize {
        // has_value = true takes two bytes.
        bytes_field_len(1, self.type_name.len())
            + self.bytes.map_or(0, |v| 2 + bytes_field_len(3, v.len()))
    }

    /// Writes it as field `field`, its body `len` ([`ValueRef::encoded_len`]) bytes.
    #[inline(always)]
    pub(crate) fn write(&self, w: &mut Writer<'_>, field: u32, len: usize) {
        w.message_header(field, len);
        w.bytes_field(1, self.type_name);
        if let Some(bytes) = self.bytes {
            w.raw(&[0x10, 1]);
            w.bytes_field(3, bytes);
        }
    }
}

pub(crate) fn merge_address(
    reader: &mut Reader<'_>,
    address: &mut Address,
) -> Result<(), DecodeError> {
    while let Some((field, wire_type)) = reader.key()? {
        match field {
            1 => address.namespace = reader.text("namespace", wire_type)?,
            2 => address.name = reader.text("type", wire_type)?,
            3 => address.id = reader.text("id", wire_type)?,
            _ => reader.skip(field, wire_type)?,
        }
    }
    Ok(())
}

pub(crate) fn merge_typed_value(
    reader: &mut Reader<'_>,
    value: &mut TypedValue,
) -> Result<(), DecodeError> {
    while let Some((field, wire_type)) = reader.key()? {
        match field {
            1 => value.type_name = reader.text("typename", wire_type)?,
            2 => value.has_value = reader.bool("has_value", wire_type)?,
            3 => value.bytes = reader.bytes("value", wire_type)?,
            _ => reader.skip(field, wire_type)?,
        }
    }
    Ok(())
}
