//! Typed values: the [`Value`] trait that ties a Rust type to a StateFun
//! typename and a codec, the built-in `io.statefun.types/*` types, and
//! [`TypedBytes`] for payloads handled as raw bytes.

use std::fmt;

use bytes::Bytes;

use crate::TypeName;

#[cfg(feature = "json")]
mod json;
mod primitive;
#[cfg(feature = "protobuf")]
mod protobuf;

#[cfg(feature = "json")]
pub use json::{Json, JsonType};
pub use primitive::{BOOL_TYPE, DOUBLE_TYPE, FLOAT_TYPE, INT_TYPE, LONG_TYPE, STRING_TYPE};
#[cfg(feature = "protobuf")]
pub use protobuf::Protobuf;

/// A boxed error from a codec.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// A Rust type that is a StateFun value type: a typename plus a codec.
///
/// Every message argument, state value and egress payload is a typed value
/// on the wire: the typename of its logical type and its bytes. The SDK
/// implements this trait for the built-in types (`bool`, `i32`, `i64`,
/// `f32`, `f64`, `String`, encoded exactly as `io.statefun.types/*`), for
/// [`Json<T>`] (feature `json`) and for `Protobuf<T>` (feature `protobuf`).
///
/// Implement it by hand for any other encoding:
///
/// ```
/// use bytes::Bytes;
/// use stateful_functions::{TypeName, Value, ValueError};
///
/// /// Plain UTF-8 text, as a Kafka ingress would deliver it.
/// #[derive(Debug, PartialEq)]
/// struct Utf8Text(String);
///
/// impl Value for Utf8Text {
///     fn type_name() -> TypeName {
///         TypeName::from_static("com.example.types/utf8-text")
///     }
///     fn to_bytes(&self) -> Result<Bytes, ValueError> {
///         Ok(Bytes::copy_from_slice(self.0.as_bytes()))
///     }
///     fn from_bytes(bytes: &Bytes) -> Result<Self, ValueError> {
///         String::from_utf8(bytes.to_vec())
///             .map(Utf8Text)
///             .map_err(|e| ValueError::decode(Self::type_name(), e))
///     }
/// }
///
/// let bytes = Utf8Text("hi".into()).to_bytes()?;
/// assert_eq!(Utf8Text::from_bytes(&bytes)?, Utf8Text("hi".into()));
/// # Ok::<(), ValueError>(())
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a StateFun value type",
    label = "this type has no StateFun typename and codec",
    note = "derive it for a serde type with `#[derive(Value)]` and `#[statefun(typename = \"ns/Name\")]`, implement `stateful_functions::Value` for it, or wrap a serde type in `stateful_functions::Json<T>` (after implementing `JsonType`)"
)]
#[doc = ""]
#[cfg_attr(
    not(feature = "json"),
    doc = "[`Json<T>`]: https://docs.rs/stateful-functions/latest/stateful_functions/struct.Json.html"
)]
pub trait Value: Sized {
    /// The typename of this type, sent with every encoded value.
    fn type_name() -> TypeName;

    /// Encodes a value.
    ///
    /// # Errors
    ///
    /// When the codec cannot encode the value.
    fn to_bytes(&self) -> Result<Bytes, ValueError>;

    /// Decodes a value. Values longer than a few dozen bytes are shared
    /// with the request, so a type that keeps bytes can clone them without
    /// copying (shorter ones go through [`Value::from_slice`]).
    ///
    /// # Errors
    ///
    /// When the bytes are not a valid encoding.
    fn from_bytes(bytes: &Bytes) -> Result<Self, ValueError>;

    /// Appends the encoded value to `buf`: what [`Value::to_bytes`] returns,
    /// without a buffer of its own.
    ///
    /// The SDK encodes state values and outgoing payloads with this, into
    /// buffers it reuses, so that writing a state or sending a message
    /// costs no allocation of its own. The default appends the bytes of
    /// [`Value::to_bytes`];
    /// override it when the codec can write into a `Vec<u8>` (the built-in
    /// types, [`Json<T>`], `Protobuf<T>` and `#[derive(Value)]` types do).
    ///
    /// ```
    /// use bytes::Bytes;
    /// use stateful_functions::{TypeName, Value, ValueError};
    ///
    /// /// Plain UTF-8 text.
    /// struct Utf8Text(String);
    ///
    /// impl Value for Utf8Text {
    ///     fn type_name() -> TypeName {
    ///         TypeName::from_static("com.example.types/utf8-text")
    ///     }
    ///     fn to_bytes(&self) -> Result<Bytes, ValueError> {
    ///         Ok(Bytes::copy_from_slice(self.0.as_bytes()))
    ///     }
    ///     fn from_bytes(bytes: &Bytes) -> Result<Self, ValueError> {
    ///         Self::from_slice(bytes)
    ///     }
    ///     fn encode_into(&self, buf: &mut Vec<u8>) -> Result<(), ValueError> {
    ///         buf.extend_from_slice(self.0.as_bytes());
    ///         Ok(())
    ///     }
    ///     fn from_slice(bytes: &[u8]) -> Result<Self, ValueError> {
    ///         std::str::from_utf8(bytes)
    ///             .map(|s| Utf8Text(s.to_owned()))
    ///             .map_err(|e| ValueError::decode(Self::type_name(), e))
    ///     }
    /// }
    ///
    /// let mut buf = b"prefix:".to_vec();
    /// Utf8Text("hi".into()).encode_into(&mut buf)?;
    /// assert_eq!(buf, b"prefix:hi");
    /// assert_eq!(Utf8Text::from_slice(&buf[7..])?.0, "hi");
    /// # Ok::<(), ValueError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// When the codec cannot encode the value; `buf` may then hold part of
    /// the encoding.
    #[doc = ""]
    #[cfg_attr(
        not(feature = "json"),
        doc = "[`Json<T>`]: https://docs.rs/stateful-functions/latest/stateful_functions/struct.Json.html"
    )]
    fn encode_into(&self, buf: &mut Vec<u8>) -> Result<(), ValueError> {
        buf.extend_from_slice(&self.to_bytes()?);
        Ok(())
    }

    /// Decodes a value from borrowed bytes.
    ///
    /// The SDK decodes short values with this (message arguments and
    /// state values up to a few dozen bytes), which it holds in place
    /// rather than as slices of the request. The default copies the bytes
    /// for [`Value::from_bytes`]; override it when the type reads its
    /// bytes rather than keeping them (as the built-in types, [`Json<T>`],
    /// `Protobuf<T>` and `#[derive(Value)]` types do). See
    /// [`Value::encode_into`] for an example.
    ///
    /// # Errors
    ///
    /// When the bytes are not a valid encoding.
    #[doc = ""]
    #[cfg_attr(
        not(feature = "json"),
        doc = "[`Json<T>`]: https://docs.rs/stateful-functions/latest/stateful_functions/struct.Json.html"
    )]
    fn from_slice(bytes: &[u8]) -> Result<Self, ValueError> {
        Self::from_bytes(&Bytes::copy_from_slice(bytes))
    }
}

/// A typed value handled as raw bytes: a typename and the encoded bytes.
///
/// Useful for payloads the SDK does not decode, such as Kafka ingress
/// records with a user-chosen `valueType`, or to forward a message
/// unchanged.
///
/// ```
/// use bytes::Bytes;
/// use stateful_functions::{TypeName, TypedBytes};
///
/// let raw = TypedBytes::new(TypeName::from_static("com.example/csv"), Bytes::from_static(b"a,b"));
/// assert_eq!(raw.type_name().as_str(), "com.example/csv");
/// assert_eq!(&raw.bytes()[..], b"a,b");
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct TypedBytes {
    type_name: TypeName,
    bytes: Bytes,
}

impl TypedBytes {
    /// Pairs a typename with already-encoded bytes.
    #[must_use]
    pub fn new(type_name: TypeName, bytes: Bytes) -> Self {
        Self { type_name, bytes }
    }

    /// Encodes `value` with its type's codec.
    ///
    /// # Errors
    ///
    /// When the codec fails.
    ///
    /// ```
    /// use stateful_functions::TypedBytes;
    ///
    /// let v = TypedBytes::encode(&42_i32)?;
    /// assert_eq!(v.type_name().as_str(), "io.statefun.types/int");
    /// assert_eq!(&v.bytes()[..], &[0x0d, 42, 0, 0, 0]);
    /// # Ok::<(), stateful_functions::ValueError>(())
    /// ```
    pub fn encode<T: Value>(value: &T) -> Result<Self, ValueError> {
        Ok(Self {
            type_name: T::type_name(),
            bytes: value.to_bytes()?,
        })
    }

    /// The typename.
    #[must_use]
    pub fn type_name(&self) -> &TypeName {
        &self.type_name
    }

    /// The encoded bytes.
    #[must_use]
    pub fn bytes(&self) -> &Bytes {
        &self.bytes
    }

    /// Splits into typename and bytes.
    #[must_use]
    pub fn into_parts(self) -> (TypeName, Bytes) {
        (self.type_name, self.bytes)
    }
}

impl fmt::Debug for TypedBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TypedBytes")
            .field("type_name", &self.type_name.as_str())
            .field("len", &self.bytes.len())
            .finish()
    }
}

/// Anything that can become the payload of a message or egress record: a
/// reference to a [`Value`], [`TypedBytes`], or a Kafka or Kinesis record.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be sent as a StateFun payload",
    note = "pass a reference to a `stateful_functions::Value` (for example `&42_i32`), a `TypedBytes`, or an egress record"
)]
pub trait IntoTypedBytes {
    /// Encodes the payload.
    ///
    /// # Errors
    ///
    /// When encoding fails.
    fn into_typed_bytes(self) -> Result<TypedBytes, ValueError>;

    /// Appends the payload's bytes to `buf` and returns its typename: what
    /// [`IntoTypedBytes::into_typed_bytes`] returns, without a buffer of
    /// its own.
    ///
    /// The SDK encodes every message and egress record with this, into a
    /// buffer it reuses. The default copies the bytes of
    /// `into_typed_bytes`; a reference to a [`Value`] writes straight into
    /// `buf` with [`Value::encode_into`].
    ///
    /// ```
    /// use stateful_functions::IntoTypedBytes;
    ///
    /// let mut buf = Vec::new();
    /// let type_name = (&42_i32).encode_payload(&mut buf)?;
    /// assert_eq!(type_name.as_str(), "io.statefun.types/int");
    /// assert_eq!(buf, [0x0d, 42, 0, 0, 0]);
    /// # Ok::<(), stateful_functions::ValueError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// When encoding fails; `buf` may then hold part of the encoding.
    fn encode_payload(self, buf: &mut Vec<u8>) -> Result<TypeName, ValueError>
    where
        Self: Sized,
    {
        let (type_name, bytes) = self.into_typed_bytes()?.into_parts();
        buf.extend_from_slice(&bytes);
        Ok(type_name)
    }
}

impl<T: Value> IntoTypedBytes for &T {
    fn into_typed_bytes(self) -> Result<TypedBytes, ValueError> {
        TypedBytes::encode(self)
    }

    fn encode_payload(self, buf: &mut Vec<u8>) -> Result<TypeName, ValueError> {
        self.encode_into(buf)?;
        Ok(T::type_name())
    }
}

impl IntoTypedBytes for TypedBytes {
    fn into_typed_bytes(self) -> Result<TypedBytes, ValueError> {
        Ok(self)
    }
}

impl IntoTypedBytes for &TypedBytes {
    fn into_typed_bytes(self) -> Result<TypedBytes, ValueError> {
        Ok(self.clone())
    }

    fn encode_payload(self, buf: &mut Vec<u8>) -> Result<TypeName, ValueError> {
        buf.extend_from_slice(&self.bytes);
        Ok(self.type_name.clone())
    }
}

/// A value could not be encoded or decoded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ValueError {
    /// The codec failed to encode a value.
    #[error("cannot encode a value of type {type_name}")]
    Encode {
        /// The value's type.
        type_name: TypeName,
        /// What the codec reported.
        #[source]
        source: BoxError,
    },
    /// The bytes are not a valid encoding of the type.
    #[error("cannot decode a value of type {type_name}")]
    Decode {
        /// The type being decoded.
        type_name: TypeName,
        /// What the codec reported.
        #[source]
        source: BoxError,
    },
    /// The value carries a different typename than the one asked for.
    #[error("expected a value of type {expected}, but it has type {actual:?}")]
    TypeMismatch {
        /// The typename asked for.
        expected: TypeName,
        /// The typename the value carries.
        actual: String,
    },
    /// The message carries no value at all (`has_value` is false).
    #[error("expected a value of type {expected}, but the message carries no value")]
    Missing {
        /// The typename asked for.
        expected: TypeName,
    },
    /// The state was never declared by the function type that would hold
    /// it (a test harness reading a state its function does not have).
    #[error(
        "function type {function_type} declares no state {state:?} (its declared states: {declared:?}); add its ValueSpec to the function's spec (with #[function], list it in the `state = …` struct)"
    )]
    Undeclared {
        /// The function type asked about.
        function_type: TypeName,
        /// The state name asked for.
        state: String,
        /// The states the function type declares, in order.
        declared: Vec<String>,
    },
}

impl ValueError {
    /// An encoding failure of a value of `type_name`.
    pub fn encode(type_name: TypeName, source: impl Into<BoxError>) -> Self {
        Self::Encode {
            type_name,
            source: source.into(),
        }
    }

    /// A decoding failure of a value of `type_name`.
    pub fn decode(type_name: TypeName, source: impl Into<BoxError>) -> Self {
        Self::Decode {
            type_name,
            source: source.into(),
        }
    }
}
