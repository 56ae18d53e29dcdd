//! Short byte strings on the request path: [`SmallBytes`] (held in place
//! when short, else a shared [`Bytes`]), [`bytes_eq`] for comparing them,
//! and the buffers each thread reuses for encoding ([`with_scratch`],
//! [`pooled_buffer`]).

use std::cell::RefCell;
use std::fmt;

use bytes::Bytes;

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

/// Whether two byte strings are equal: for the short names and typenames
/// compared on every request, a few word comparisons in line rather than a
/// call to `memcmp`.
#[inline(always)]
pub(crate) fn bytes_eq(a: &[u8], b: &[u8]) -> bool {
    let len = a.len();
    if len != b.len() {
        return false;
    }
    let word = |s: &[u8], at: usize| {
        let mut word = [0; 8];
        if let Some(bytes) = s.get(at..at + 8) {
            word.copy_from_slice(bytes);
        }
        u64::from_le_bytes(word)
    };
    match len {
        0..8 => a == b,
        // Two overlapping words.
        8..=16 => word(a, 0) == word(b, 0) && word(a, len - 8) == word(b, len - 8),
        // Four overlapping words.
        17..=32 => {
            word(a, 0) == word(b, 0)
                && word(a, 8) == word(b, 8)
                && word(a, len - 16) == word(b, len - 16)
                && word(a, len - 8) == word(b, len - 8)
        }
        _ => a == b,
    }
}

/// Buffers larger than this are not kept between calls.
const SCRATCH_KEEP: usize = 64 * 1024;

thread_local! {
    static SCRATCH: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// Runs `f` on an empty buffer reused by the thread. A nested call (an
/// encoder that encodes, such as a hand-written `Value` whose `to_bytes`
/// calls `codec::json::encode`) finds the buffer taken and uses one from the
/// thread's pool instead; a call while the thread's locals are being
/// destroyed uses a fresh one.
pub(crate) fn with_scratch<R>(f: impl FnOnce(&mut Vec<u8>) -> R) -> R {
    // Borrowed in place: the buffer is neither moved out nor back.
    let mut f = Some(f);
    let result = SCRATCH
        .try_with(|scratch| {
            let mut buf = scratch.try_borrow_mut().ok()?;
            let f = f.take()?;
            // Also here: a call that panicked left its buffer as it was.
            if buf.capacity() > SCRATCH_KEEP {
                *buf = Vec::new();
            }
            buf.clear();
            let result = f(&mut buf);
            if buf.capacity() > SCRATCH_KEEP {
                *buf = Vec::new();
            }
            Some(result)
        })
        .ok()
        .flatten();
    match (result, f) {
        (Some(result), _) => result,
        (None, Some(f)) => {
            let mut buf = pooled_buffer();
            let result = f(&mut buf);
            give_back(buf);
            result
        }
        // `f` is taken only when it is run, and then there is a result.
        (None, None) => unreachable!("with_scratch ran `f` without a result"),
    }
}

/// How many buffers [`pooled_buffer`] keeps per thread.
const POOL_KEEP: usize = 4;

thread_local! {
    static POOL: RefCell<Vec<Vec<u8>>> = const { RefCell::new(Vec::new()) };
}

/// An empty buffer, reusing one a finished batch gave back on this thread
/// (see [`give_back`]) when there is one.
pub(crate) fn pooled_buffer() -> Vec<u8> {
    POOL.try_with(|pool| pool.try_borrow_mut().ok()?.pop())
        .ok()
        .flatten()
        .unwrap_or_default()
}

/// Keeps `buf` for a later [`pooled_buffer`] on this thread, unless it is
/// large or enough are kept already.
#[inline]
pub(crate) fn give_back(buf: Vec<u8>) {
    // Checked in line: most batches leave some of their buffers unused.
    if buf.capacity() != 0 {
        keep(buf);
    }
}

fn keep(mut buf: Vec<u8>) {
    if buf.capacity() > SCRATCH_KEEP {
        return;
    }
    buf.clear();
    let _ = POOL.try_with(|pool| {
        if let Ok(mut buffers) = pool.try_borrow_mut() {
            if buffers.len() < POOL_KEEP {
                buffers.push(buf);
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// An encoder that panicked after growing the scratch buffer past what
    /// is kept: the next call does not find the large buffer.
    #[test]
    fn a_panic_while_encoding_leaves_no_large_buffer_behind() {
        std::thread::spawn(|| {
            let caught = std::panic::catch_unwind(|| {
                with_scratch(|buf| {
                    buf.reserve(SCRATCH_KEEP * 2);
                    panic!("the encoder failed");
                })
            });
            assert!(caught.is_err());
            assert!(with_scratch(|buf| buf.capacity()) <= SCRATCH_KEEP);
            // Still the thread's scratch buffer, reused and empty.
            with_scratch(|buf| buf.extend_from_slice(b"abc"));
            assert_eq!(
                with_scratch(|buf| (buf.len(), buf.capacity() >= 3)),
                (0, true)
            );
        })
        .join()
        .unwrap();
    }

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

    #[test]
    fn nested_encodings_reuse_warm_buffers() {
        // The buffers an outer and a nested encoding wrote into, in order.
        let round = || {
            let mut inner_at = None;
            let mut outer_at = None;
            with_scratch(|outer| {
                outer.extend_from_slice(b"outer");
                with_scratch(|inner| {
                    inner.extend_from_slice(b"inner");
                    inner_at = Some(inner.as_ptr());
                });
                outer_at = Some(outer.as_ptr());
            });
            let mut both = [outer_at.unwrap(), inner_at.unwrap()];
            both.sort();
            both
        };
        let first = round();
        // Later rounds allocate nothing: the same two buffers come back.
        assert_eq!(round(), first);
        assert_eq!(round(), first);
    }

    #[test]
    fn buffers_given_back_are_reused_empty() {
        let mut buf = pooled_buffer();
        buf.extend_from_slice(b"used");
        let capacity = buf.capacity();
        let address = buf.as_ptr();
        give_back(buf);
        let again = pooled_buffer();
        assert!(again.is_empty());
        assert_eq!((again.capacity(), again.as_ptr()), (capacity, address));
        // Large buffers are not kept.
        give_back(Vec::with_capacity(SCRATCH_KEEP + 1));
        assert_eq!(pooled_buffer().capacity(), 0);
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

    #[test]
    fn bytes_eq_at_the_word_boundaries() {
        // Every length at which `bytes_eq` changes how many words it
        // compares, and the lengths either side.
        for len in [0, 1, 7, 8, 9, 15, 16, 17, 24, 31, 32, 33, 40] {
            let a: Vec<u8> = (1..=255).take(len).collect();
            // Compared at an odd offset in another buffer, so never the
            // same slice.
            let mut other = vec![0];
            other.extend_from_slice(&a);
            let b = &other[1..];
            assert!(bytes_eq(&a, b), "{len}");
            for i in 0..len {
                for flip in [0x01, 0x80, 0xff] {
                    let mut c = a.clone();
                    c[i] ^= flip;
                    assert_ne!(a, c);
                    assert_eq!(bytes_eq(&a, &c), a == c, "{len} bytes, at {i}");
                    assert_eq!(bytes_eq(&c, &a), c == a, "{len} bytes, at {i}");
                }
            }
            // One byte longer or shorter.
            let mut longer = a.clone();
            longer.push(0);
            assert!(!bytes_eq(&a, &longer), "{len}");
            assert!(!bytes_eq(&longer, &a), "{len}");
            if let Some((_, shorter)) = a.split_last() {
                assert!(!bytes_eq(&a, shorter), "{len}");
            }
        }
    }

    proptest! {
        #[test]
        fn bytes_eq_is_equality(
            a in proptest::collection::vec(0_u8..3, 0..40),
            b in proptest::collection::vec(0_u8..3, 0..40),
        ) {
            prop_assert_eq!(bytes_eq(&a, &b), a == b);
            prop_assert!(bytes_eq(&a, &a.clone()));
            for i in 0..a.len() {
                let mut flipped = a.clone();
                flipped[i] ^= 0x80;
                prop_assert!(!bytes_eq(&a, &flipped));
            }
        }

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
