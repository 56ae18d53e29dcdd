//! [`SmallBytes`]: short byte strings held in place, longer ones shared.

use std::fmt;

use bytes::Bytes;

use crate::buffers::with_scratch;

/// The most bytes held in place: enough for the usual ids (a UUID has 36
/// characters), many type names, every built-in value and small JSON
/// messages, while keeping a `SmallBytes` at 40 bytes.
pub(crate) const INLINE: usize = 38;

/// Immutable bytes: a copy held in place when short, else a [`Bytes`].
///
/// Short values are copied because sharing costs more: taking and dropping
/// a reference to a [`Bytes`] are two atomic operations, each slower than
/// copying a few dozen bytes, and a buffer of its own is an allocation.
#[derive(Clone)]
pub(crate) enum SmallBytes {
    /// `bytes[..len]`.
    Inline {
        len: u8,
        bytes: [u8; INLINE],
    },
    Shared(Bytes),
}

impl SmallBytes {
    /// `bytes` held in place, when short enough.
    #[inline]
    fn inline(bytes: &[u8]) -> Option<Self> {
        let len = u8::try_from(bytes.len())
            .ok()
            .filter(|&n| usize::from(n) <= INLINE)?;
        let mut inline = [0; INLINE];
        inline.get_mut(..bytes.len())?.copy_from_slice(bytes);
        Some(Self::Inline { len, bytes: inline })
    }

    /// A copy of `bytes`: in place when short, else in a buffer of its own.
    pub(crate) fn copy_from_slice(bytes: &[u8]) -> Self {
        Self::inline(bytes).unwrap_or_else(|| Self::Shared(Bytes::copy_from_slice(bytes)))
    }

    /// `bytes`, copied in place when short (dropping the reference).
    pub(crate) fn from_bytes(bytes: Bytes) -> Self {
        Self::inline(&bytes).unwrap_or(Self::Shared(bytes))
    }

    /// A range of `buf`: a copy when short, else a shared slice. The range
    /// must lie within `buf`; one that does not gives no bytes.
    #[inline]
    pub(crate) fn from_range(buf: &Bytes, range: std::ops::Range<usize>) -> Self {
        let Some(bytes) = buf.get(range.clone()) else {
            return Self::Shared(Bytes::new());
        };
        // A whole inline buffer's worth copied at once, when the request
        // has that many bytes from here on (the bytes past `len` are never
        // read): a fixed-size copy, without clearing first.
        if bytes.len() <= INLINE {
            if let Some(chunk) = buf.get(range.start..range.start + INLINE) {
                let mut inline = [0; INLINE];
                inline.copy_from_slice(chunk);
                // At most INLINE, so it fits.
                let len = u8::try_from(bytes.len()).unwrap_or_default();
                return Self::Inline { len, bytes: inline };
            }
        }
        Self::inline(bytes).unwrap_or_else(|| Self::Shared(buf.slice(range)))
    }

    /// What `encode` appends to an empty buffer, held as [`SmallBytes`]: it
    /// writes into a buffer reused by the thread, so a short result costs
    /// no allocation at all.
    pub(crate) fn encode<E>(encode: impl FnOnce(&mut Vec<u8>) -> Result<(), E>) -> Result<Self, E> {
        with_scratch(|buf| encode(buf).map(|()| Self::copy_from_slice(buf)))
    }

    pub(crate) fn as_slice(&self) -> &[u8] {
        match self {
            Self::Inline { len, bytes } => bytes.get(..usize::from(*len)).unwrap_or_default(),
            Self::Shared(bytes) => bytes,
        }
    }
}

impl fmt::Debug for SmallBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02x?}", self.as_slice())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn stays_small() {
        assert_eq!(std::mem::size_of::<SmallBytes>(), 40);
    }

    #[test]
    fn nested_encodings_use_their_own_buffers() {
        let outer = SmallBytes::encode(|buf| {
            buf.extend_from_slice(b"outer ");
            let inner = SmallBytes::encode(|buf| {
                buf.extend_from_slice(b"inner");
                Ok::<_, ()>(())
            })?;
            buf.extend_from_slice(inner.as_slice());
            Ok::<_, ()>(())
        });
        assert_eq!(outer.unwrap().as_slice(), b"outer inner");
    }

    /// Which way `bytes` is held, after checking it holds `expected`.
    fn held(bytes: &SmallBytes, expected: &[u8]) -> &'static str {
        assert_eq!(bytes.as_slice(), expected);
        match bytes {
            SmallBytes::Inline { len, .. } => {
                assert_eq!(usize::from(*len), expected.len());
                "inline"
            }
            SmallBytes::Shared(_) => "shared",
        }
    }

    #[test]
    fn holds_up_to_inline_bytes_in_place() {
        for (len, way) in [
            (INLINE - 1, "inline"),
            (INLINE, "inline"),
            (INLINE + 1, "shared"),
        ] {
            // No two bytes equal, and none zero (what a fresh inline
            // buffer holds).
            let bytes: Vec<u8> = (1..=255).take(len).collect();
            assert_eq!(held(&SmallBytes::copy_from_slice(&bytes), &bytes), way);
            let shared = Bytes::from(bytes.clone());
            let from_bytes = SmallBytes::from_bytes(shared.clone());
            assert_eq!(held(&from_bytes, &bytes), way, "from_bytes, {len}");
            if let SmallBytes::Shared(kept) = &from_bytes {
                // The same buffer, not a copy.
                assert_eq!(kept.as_ptr(), shared.as_ptr());
            }
            // A range with a few bytes before it and from none to more than
            // INLINE after it: the whole-buffer copy when INLINE bytes follow
            // its start, else a copy of the range alone.
            for before in [0, 1, 7] {
                for after in 0..=INLINE + 1 {
                    let mut buf = vec![0xee; before];
                    buf.extend_from_slice(&bytes);
                    buf.resize(before + len + after, 0xdd);
                    let buf = Bytes::from(buf);
                    let range = SmallBytes::from_range(&buf, before..before + len);
                    let what = format!("from_range, {len} bytes after {before}, {after} more");
                    assert_eq!(held(&range, &bytes), way, "{what}");
                    if let SmallBytes::Shared(kept) = &range {
                        assert_eq!(kept.as_ptr(), buf[before..].as_ptr(), "{what}");
                    }
                    // An empty range, and one reaching one byte past the end.
                    assert_eq!(
                        held(&SmallBytes::from_range(&buf, before..before), &[]),
                        "inline"
                    );
                    let past = SmallBytes::from_range(&buf, before..buf.len() + 1);
                    assert_eq!(past.as_slice(), b"", "{what}");
                }
            }
        }
    }

    proptest! {
        #[test]
        fn every_way_in_holds_the_same_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..80)) {
            let mut buf = vec![7];
            buf.extend_from_slice(&bytes);
            let buf = Bytes::from(buf);
            let ways = [
                SmallBytes::copy_from_slice(&bytes),
                SmallBytes::from_bytes(Bytes::from(bytes.clone())),
                SmallBytes::from_range(&buf, 1..buf.len()),
                SmallBytes::encode(|b| { b.extend_from_slice(&bytes); Ok::<_, ()>(()) }).unwrap(),
            ];
            for way in &ways {
                prop_assert_eq!(way.as_slice(), &bytes[..]);
                prop_assert_eq!(matches!(way, SmallBytes::Inline { .. }), bytes.len() <= INLINE);
            }
        }
    }
}
