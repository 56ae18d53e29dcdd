//! The request-reply handler in a plain loop, for profilers: callgrind
//! counts per request as the difference between two runs, and `perf`
//! samples a long one. What the `cart_handler` bench times, without the
//! timing harness.
//!
//! ```text
//! handler-loop REQUESTS [INVOCATIONS]   # INVOCATIONS per request, 1 by default
//!
//! cargo build --profile production -p statefun-benches --bin handler-loop
//! valgrind --tool=callgrind target/production/handler-loop 1000 # and 3000:
//! # (instructions at 3000 - at 1000) / 2000 = instructions per request
//! ```

use std::future::Future;
use std::hint::black_box;
use std::pin::{Pin, pin};
use std::task::{Context, Poll, Waker};

use anyhow::{Context as _, bail};
use stateful_functions::RequestReplyHandler;
use statefun_benches::{check_inventory_response, inventory_request};

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let requests: usize = args.next().context("REQUESTS missing")?.parse()?;
    let invocations: usize = args.next().map_or(Ok(1), |n| n.parse())?;
    let functions = shopping_cart::functions().map_err(anyhow::Error::from_boxed)?;
    let handler = RequestReplyHandler::new(functions);
    let body = inventory_request(invocations);
    let answer = run(pin!(handler.handle(body.clone())))?;
    if let Err(problem) = check_inventory_response(&answer, invocations) {
        bail!("unexpected answer: {problem}");
    }
    for _ in 0..requests {
        // Built in place: a future moved after it is made would add a copy
        // of its whole size to every request.
        black_box(run(pin!(handler.handle(black_box(body.clone()))))?);
    }
    Ok(())
}

/// Polls a future that never waits (the inventory does not) to completion.
fn run<F: Future>(mut future: Pin<&mut F>) -> F::Output {
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
            return output;
        }
    }
}
