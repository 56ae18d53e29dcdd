//! [`Text`]: an immutable UTF-8 string that shares the request buffer.

use std::fmt;

use bytes::Bytes;

/// A UTF-8 string stored as [`Bytes`], so that strings decoded from a
/// request are slices of it rather than copies. Cloning is a reference
/// count increment (nothing at all for static strings).
///
/// Invariant: the bytes are valid UTF-8, checked on construction.
#[derive(Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct Text(Bytes);

impl Text {
    /// Wraps bytes already checked to be UTF-8 (by the decoder).
    pub(crate) fn from_checked(bytes: Bytes) -> Self {
        debug_assert!(std::str::from_utf8(&bytes).is_ok());
        Self(bytes)
    }

    pub(crate) fn as_str(&self) -> &str {
        // The invariant makes this infallible; the fallback is never taken.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }

    pub(crate) fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl From<String> for Text {
    fn from(s: String) -> Self {
        Self(Bytes::from(s))
    }
}

impl From<&str> for Text {
    fn from(s: &str) -> Self {
        Self(Bytes::copy_from_slice(s.as_bytes()))
    }
}

impl fmt::Display for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}
