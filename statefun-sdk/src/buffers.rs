//! The buffers each thread reuses for encoding: a scratch buffer
//! ([`with_scratch`]) for values on their way into a response, and a small
//! pool ([`pooled`], [`give_back`]) for a batch's effect buffers.

use std::cell::RefCell;

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
            let mut buf = pooled();
            let result = f(&mut buf);
            give_back(buf);
            result
        }
        // `f` is taken only when it is run, and then there is a result.
        (None, None) => unreachable!("with_scratch ran `f` without a result"),
    }
}

/// How many buffers [`pooled`] keeps per thread.
const POOL_KEEP: usize = 4;

thread_local! {
    static POOL: RefCell<Vec<Vec<u8>>> = const { RefCell::new(Vec::new()) };
}

/// An empty buffer, reusing one a finished batch gave back on this thread
/// (see [`give_back`]) when there is one.
pub(crate) fn pooled() -> Vec<u8> {
    POOL.try_with(|pool| pool.try_borrow_mut().ok()?.pop())
        .ok()
        .flatten()
        .unwrap_or_default()
}

/// Keeps `buf` for a later [`pooled`] on this thread, unless it is
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
        let mut buf = pooled();
        buf.extend_from_slice(b"used");
        let capacity = buf.capacity();
        let address = buf.as_ptr();
        give_back(buf);
        let again = pooled();
        assert!(again.is_empty());
        assert_eq!((again.capacity(), again.as_ptr()), (capacity, address));
        // Large buffers are not kept.
        give_back(Vec::with_capacity(SCRATCH_KEEP + 1));
        assert_eq!(pooled().capacity(), 0);
    }
}
