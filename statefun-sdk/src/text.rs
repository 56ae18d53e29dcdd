//! [`Text`]: an immutable UTF-8 string that shares the request buffer, or
//! holds a short string in place.

use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};

use bytes::Bytes;

use crate::small_bytes::SmallBytes;

/// A UTF-8 string: a slice of a shared buffer (strings decoded from a
/// request), or a copy held in place when short (see [`SmallBytes`]).
/// Cloning is a copy for short strings and a reference count increment
/// otherwise (nothing for static ones).
///
/// Invariant: the bytes are valid UTF-8, checked on construction.
#[derive(Clone)]
pub(crate) struct Text(SmallBytes);

impl Text {
    /// A range of `buf` already checked to be UTF-8 (by the decoder).
    pub(crate) fn from_checked_range(buf: &Bytes, range: std::ops::Range<usize>) -> Self {
        let text = Self(SmallBytes::from_range(buf, range));
        debug_assert!(std::str::from_utf8(text.as_bytes()).is_ok());
        text
    }

    pub(crate) fn as_str(&self) -> &str {
        // The invariant makes this infallible; the fallback is never taken.
        std::str::from_utf8(self.as_bytes()).unwrap_or_default()
    }

    pub(crate) fn as_bytes(&self) -> &[u8] {
        self.0.as_slice()
    }
}

impl From<String> for Text {
    fn from(s: String) -> Self {
        Self(SmallBytes::from_bytes(Bytes::from(s)))
    }
}

impl From<&str> for Text {
    fn from(s: &str) -> Self {
        Self(SmallBytes::copy_from_slice(s.as_bytes()))
    }
}

// Compared, ordered and hashed as the string, whatever the representation.

impl PartialEq for Text {
    fn eq(&self, other: &Self) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl Eq for Text {}

impl PartialOrd for Text {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Text {
    fn cmp(&self, other: &Self) -> Ordering {
        self.as_bytes().cmp(other.as_bytes())
    }
}

impl Hash for Text {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_bytes().hash(state);
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

#[cfg(test)]
mod tests {
    use std::hash::BuildHasher;

    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn representations_agree(s in "\\PC{0,50}", t in "\\PC{0,50}") {
            let buf = Bytes::from(format!("x{s}"));
            let texts = [
                Text::from(s.as_str()),
                Text::from(s.clone()),
                Text::from_checked_range(&buf, 1..buf.len()),
            ];
            let other = Text::from(t.as_str());
            let state = std::collections::hash_map::RandomState::new();
            for text in &texts {
                prop_assert_eq!(text.as_str(), s.as_str());
                prop_assert_eq!(text, &texts[0]);
                prop_assert_eq!(state.hash_one(text), state.hash_one(&texts[0]));
                prop_assert_eq!(text.cmp(&other), s.as_str().cmp(t.as_str()));
            }
        }
    }
}
