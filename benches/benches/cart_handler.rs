//! The request-reply handler on the shopping cart's real inventory
//! function (JSON `RequestItem` in, `ItemReserved` out, two `int` states):
//! decode the `ToFunction`, run the function, encode the `FromFunction`.
//!
//! ```text
//! cargo bench -p statefun-benches --bench cart_handler
//! ```
//!
//! The request is built once; each iteration hands the handler a clone of
//! its `Bytes` (a reference-count increment), as the HTTP server does with
//! the body it read.

use std::future::Future;
use std::pin::{Pin, pin};
use std::task::{Context, Poll, Waker};

use divan::{Bencher, black_box};
use stateful_functions::RequestReplyHandler;
use statefun_benches::{check_inventory_response, inventory_request};

fn main() {
    divan::main();
}

/// Polls a future that never waits (the inventory does not) to completion,
/// without an executor. The future is pinned where the caller makes it:
/// moving it here would add a copy of its whole size (about 1 KB) that is
/// the benchmark's, not the handler's.
fn run<F: Future>(mut future: Pin<&mut F>) -> F::Output {
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
            return output;
        }
    }
}

#[divan::bench(args = [1, 100])]
fn inventory(bencher: Bencher<'_, '_>, invocations: usize) {
    let handler = RequestReplyHandler::new(shopping_cart::functions().expect("functions"));
    let body = inventory_request(invocations);
    let answer = run(pin!(handler.handle(body.clone()))).expect("handled");
    check_inventory_response(&answer, invocations).expect("the expected answer");
    bencher
        .counter(divan::counter::ItemsCount::new(invocations))
        .bench(|| run(pin!(handler.handle(black_box(body.clone())))));
}
