//! Fuzzing the handler on the stable toolchain: arbitrary bytes, and
//! mutations of the golden requests (which reach deep into decoding, the
//! state handshake and the user function), must never panic. Every input
//! gets an answer or a typed error.
//!
//! CI runs the default number of cases. For a long run:
//!
//! ```text
//! PROPTEST_CASES=1000000 cargo test --release -p stateful-functions --test protocol fuzz::
//! ```

use std::panic::{AssertUnwindSafe, catch_unwind};

use bytes::Bytes;
use proptest::prelude::*;
use stateful_functions::RequestReplyHandler;

use crate::golden::{handler, wire_cases};
use crate::wire::hex;

fn seeds() -> Vec<Vec<u8>> {
    wire_cases().iter().map(|c| hex(&c.request_hex)).collect()
}

/// Runs the handler on `body`, failing the test on a panic.
fn never_panics(handler: &RequestReplyHandler, body: &[u8]) -> Result<(), TestCaseError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        runtime.block_on(handler.handle(Bytes::copy_from_slice(body)))
    }));
    match outcome {
        Err(_) => Err(TestCaseError::fail(format!(
            "the handler panicked on {body:02x?}"
        ))),
        // An answer or a typed error (a panic inside the user function is
        // caught and becomes `HandlerError::FunctionPanicked`).
        Ok(_answer_or_error) => Ok(()),
    }
}

proptest! {
    #[test]
    fn arbitrary_bytes(body in proptest::collection::vec(any::<u8>(), 0..512)) {
        never_panics(&handler(), &body)?;
    }

    #[test]
    fn mutated_golden_requests(
        seed in any::<proptest::sample::Index>(),
        edits in proptest::collection::vec((any::<proptest::sample::Index>(), any::<u8>(), 0_u8..3), 1..6),
    ) {
        let seeds = seeds();
        let mut body = seeds[seed.index(seeds.len())].clone();
        for (position, byte, mode) in edits {
            if body.is_empty() {
                body.push(byte);
                continue;
            }
            let i = position.index(body.len());
            match mode {
                0 => body[i] = byte,
                1 => body.insert(i, byte),
                _ => {
                    body.remove(i);
                }
            }
        }
        never_panics(&handler(), &body)?;
    }
}
