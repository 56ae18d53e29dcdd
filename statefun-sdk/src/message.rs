//! Incoming [`Message`]s and [`CancellationToken`]s for delayed messages.

use std::fmt;
use std::sync::OnceLock;

use bytes::Bytes;

use crate::small_bytes::SmallBytes;
use crate::state::decode_small;
use crate::text::Text;
use crate::{TypeName, Value, ValueError};

/// A message delivered to a function: a typed value addressed to it.
///
/// Decode it with [`Message::decode`], after checking its type with
/// [`Message::is`] when a function accepts several types:
///
/// ```
/// # use stateful_functions::{FunctionError, Message};
/// fn describe(message: &Message) -> Result<String, FunctionError> {
///     Ok(if message.is::<i32>() {
///         format!("an int: {}", message.decode::<i32>()?)
///     } else if message.is::<String>() {
///         format!("a string: {}", message.decode::<String>()?)
///     } else {
///         format!("something of type {}", message.value_type_name())
///     })
/// }
/// # let _ = describe;
/// ```
#[derive(Clone)]
pub struct Message {
    type_name: Text,
    /// Short values are held in place, longer ones share the request.
    value: Option<SmallBytes>,
    /// A value held in place as [`Bytes`], made on the first call to
    /// [`Message::raw_value`].
    raw: OnceLock<Bytes>,
}

impl Message {
    /// A message carrying `type_name` and `value` as received; `None` when
    /// the sender set no value.
    pub(crate) fn new(type_name: Text, value: Option<SmallBytes>) -> Self {
        Self {
            type_name,
            value,
            raw: OnceLock::new(),
        }
    }

    /// The typename the value carries, as received.
    #[must_use]
    pub fn value_type_name(&self) -> &str {
        self.type_name.as_str()
    }

    /// Whether the value's typename is `T`'s.
    #[must_use]
    pub fn is<T: Value>(&self) -> bool {
        self.has_type(&T::type_name())
    }

    /// Whether the value's typename is `type_name`.
    pub(crate) fn has_type(&self, type_name: &TypeName) -> bool {
        self.type_name.as_bytes() == type_name.as_str().as_bytes()
    }

    /// Decodes the value as `T`.
    ///
    /// # Errors
    ///
    /// When the value has another typename ([`ValueError::TypeMismatch`]),
    /// carries no value ([`ValueError::Missing`]), or does not decode.
    pub fn decode<T: Value>(&self) -> Result<T, ValueError> {
        let expected = T::type_name();
        if !self.has_type(&expected) {
            return Err(ValueError::TypeMismatch {
                expected,
                actual: self.type_name.to_string(),
            });
        }
        self.decode_value(expected)
    }

    /// Decodes the value as `T`, whose typename the caller checked.
    pub(crate) fn decode_value<T: Value>(&self, expected: TypeName) -> Result<T, ValueError> {
        match &self.value {
            Some(bytes) => decode_small(bytes),
            None => Err(ValueError::Missing { expected }),
        }
    }

    /// The encoded value, as received; `None` when the sender set no value.
    #[must_use]
    pub fn raw_value(&self) -> Option<&Bytes> {
        match self.value.as_ref()? {
            SmallBytes::Shared(bytes) => Some(bytes),
            inline @ SmallBytes::Inline { .. } => Some(
                self.raw
                    .get_or_init(|| Bytes::copy_from_slice(inline.as_slice())),
            ),
        }
    }
}

impl fmt::Debug for Message {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Message")
            .field("type_name", &self.type_name)
            .field("len", &self.value.as_ref().map(|v| v.as_slice().len()))
            .finish()
    }
}

/// A function received a message of a type it does not handle.
///
/// ```
/// use stateful_functions::{types, UnexpectedMessage};
///
/// let err = UnexpectedMessage::new("com.example/Other", [types::INT_TYPE, types::STRING_TYPE]);
/// assert_eq!(
///     err.to_string(),
///     "unexpected message of type \"com.example/Other\"; this function accepts io.statefun.types/int, io.statefun.types/string"
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unexpected message of type {type_name:?}; this function accepts {}",
    accepted_list(accepted)
)]
pub struct UnexpectedMessage {
    type_name: String,
    accepted: Vec<TypeName>,
}

impl UnexpectedMessage {
    /// A message of `type_name` reached a function that accepts `accepted`.
    pub fn new(type_name: impl Into<String>, accepted: impl IntoIterator<Item = TypeName>) -> Self {
        Self {
            type_name: type_name.into(),
            accepted: accepted.into_iter().collect(),
        }
    }

    /// The typename of the message.
    #[must_use]
    pub fn type_name(&self) -> &str {
        &self.type_name
    }

    /// The typenames the function accepts.
    #[must_use]
    pub fn accepted(&self) -> &[TypeName] {
        &self.accepted
    }
}

fn accepted_list(accepted: &[TypeName]) -> String {
    crate::typename::join(accepted, "no message types")
}

/// The token that identifies a delayed message, so it can be cancelled.
///
/// Never empty: the runtime fails the whole job on an empty cancellation
/// token, so the SDK rejects one up front. Tokens are scoped to the
/// sender's *id* (not its function type), and scheduling a token that is
/// still pending for the same id fails the job: make tokens unique, for
/// example from the purpose and the id.
///
/// ```
/// use stateful_functions::CancellationToken;
///
/// let token = CancellationToken::new("cart-expiry:Kim")?;
/// assert_eq!(token.as_str(), "cart-expiry:Kim");
/// assert!(CancellationToken::new("").is_err());
/// # Ok::<(), stateful_functions::EmptyTokenError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CancellationToken(String);

impl CancellationToken {
    /// Makes a token.
    ///
    /// # Errors
    ///
    /// When `token` is empty.
    pub fn new(token: impl Into<String>) -> Result<Self, EmptyTokenError> {
        let token = token.into();
        if token.is_empty() {
            Err(EmptyTokenError)
        } else {
            Ok(Self(token))
        }
    }

    /// The token text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for CancellationToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for CancellationToken {
    type Error = EmptyTokenError;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::new(value)
    }
}

impl TryFrom<&str> for CancellationToken {
    type Error = EmptyTokenError;

    fn try_from(value: &str) -> Result<Self, Self::Error> {
        Self::new(value)
    }
}

/// An empty string was given as a [`CancellationToken`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a cancellation token must not be empty (the runtime fails the job on an empty token)")]
pub struct EmptyTokenError;

#[cfg(test)]
mod tests {
    use super::*;

    fn message(type_name: &str, value: Option<&'static [u8]>) -> Message {
        Message::new(
            Text::from(type_name),
            value.map(SmallBytes::copy_from_slice),
        )
    }

    #[test]
    fn values_held_in_place_or_shared_read_the_same() {
        let long = [7_u8; 100];
        for value in [&[0x0d, 7, 0, 0, 0][..], &long[..]] {
            let bytes = Bytes::copy_from_slice(value);
            let m = Message::new(
                Text::from("com.example/t"),
                Some(SmallBytes::from_bytes(bytes.clone())),
            );
            assert_eq!(m.raw_value(), Some(&bytes));
            assert_eq!(m.clone().raw_value(), Some(&bytes));
        }
        assert_eq!(message("io.statefun.types/int", None).raw_value(), None);
    }

    #[test]
    fn decodes_only_its_own_type() {
        let m = message("io.statefun.types/int", Some(&[0x0d, 7, 0, 0, 0]));
        assert!(m.is::<i32>());
        assert!(!m.is::<i64>());
        assert_eq!(m.decode::<i32>().unwrap(), 7);
        let err = m.decode::<String>().unwrap_err();
        assert!(
            err.to_string()
                .contains("expected a value of type io.statefun.types/string"),
            "{err}"
        );
    }

    #[test]
    fn a_message_without_value_is_an_error_not_a_default() {
        let m = message("io.statefun.types/int", None);
        assert!(matches!(m.decode::<i32>(), Err(ValueError::Missing { .. })));
        // An empty but present value is the zero value.
        let zero = message("io.statefun.types/int", Some(&[]));
        assert_eq!(zero.decode::<i32>().unwrap(), 0);
    }
}
