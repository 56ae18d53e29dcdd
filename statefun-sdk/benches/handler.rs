//! Handler hot path: decode a `ToFunction`, run the function, encode the
//! `FromFunction`.
//!
//! ```text
//! cargo bench -p stateful-functions --bench handler
//! ```
//!
//! Requests are built once outside the timed region; each iteration hands
//! the handler a clone of the `Bytes` (a reference-count increment).

use std::future::Future;
use std::pin::{Pin, pin};
use std::task::{Context as TaskContext, Poll, Waker};

use bytes::Bytes;
use divan::{Bencher, black_box};
use prost::Message as _;
use stateful_functions::{
    Context, FunctionError, FunctionSpec, Functions, Message, RequestReplyHandler,
    StatefulFunction, TypeName, Value, ValueSpec, async_trait,
};
use statefun_protocol::reqreply::{Address, ToFunction, TypedValue, to_function};

fn main() {
    divan::main();
}

const STOCK: ValueSpec<i32> = ValueSpec::named("stock");
const RESERVED: ValueSpec<i32> = ValueSpec::named("reserved");

/// Reserves the requested quantity when stock allows, as the shopping
/// cart's inventory does.
struct Inventory;

#[async_trait]
impl StatefulFunction for Inventory {
    async fn invoke(&self, ctx: &mut Context, message: Message) -> Result<(), FunctionError> {
        let quantity = message.decode::<i32>()?;
        let stock = ctx.storage().get(&STOCK)?.unwrap_or(0);
        let reserved = ctx.storage().get(&RESERVED)?.unwrap_or(0);
        if stock - reserved >= quantity {
            ctx.storage().set(&RESERVED, &(reserved + quantity))?;
        }
        Ok(())
    }
}

fn handler() -> RequestReplyHandler {
    let spec = FunctionSpec::builder(TypeName::from_static("com.example/inventory"))
        .with_state(&STOCK)
        .with_state(&RESERVED)
        .build(Inventory)
        .expect("spec");
    RequestReplyHandler::new(Functions::new().with(spec).expect("registry"))
}

fn int(v: i32) -> TypedValue {
    TypedValue {
        typename: "io.statefun.types/int".into(),
        has_value: true,
        value: v.to_bytes().expect("int"),
    }
}

fn request(invocations: usize) -> Bytes {
    let caller = Address {
        namespace: "com.example".into(),
        r#type: "cart".into(),
        id: "Kim".into(),
    };
    let batch = to_function::InvocationBatchRequest {
        target: Some(Address {
            namespace: "com.example".into(),
            r#type: "inventory".into(),
            id: "socks".into(),
        }),
        state: vec![
            to_function::PersistedValue {
                state_name: "stock".into(),
                state_value: Some(int(1_000_000)),
            },
            to_function::PersistedValue {
                state_name: "reserved".into(),
                state_value: Some(int(10)),
            },
        ],
        invocations: (0..invocations)
            .map(|_| to_function::Invocation {
                caller: Some(caller.clone()),
                argument: Some(int(2)),
            })
            .collect(),
    };
    Bytes::from(
        ToFunction {
            request: Some(to_function::Request::Invocation(batch)),
        }
        .encode_to_vec(),
    )
}

/// Polls a future that never waits (in-process functions do not) to
/// completion, without an executor. The future is pinned where the caller
/// makes it: moving it here would copy all of it (about 1 KB), a cost of
/// the benchmark rather than of the handler.
fn run<F: Future>(mut future: Pin<&mut F>) -> F::Output {
    let mut cx = TaskContext::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
            return output;
        }
    }
}

#[divan::bench(args = [1, 100])]
fn request_reply(bencher: Bencher<'_, '_>, invocations: usize) {
    let handler = handler();
    let body = request(invocations);
    // Sanity: the request succeeds and produces one mutation.
    assert!(run(pin!(handler.handle(body.clone()))).is_ok());
    bencher
        .counter(divan::counter::ItemsCount::new(invocations))
        .bench(|| run(pin!(handler.handle(black_box(body.clone())))));
}

#[divan::bench]
fn handshake(bencher: Bencher<'_, '_>) {
    let handler = handler();
    let batch = to_function::InvocationBatchRequest {
        target: Some(Address {
            namespace: "com.example".into(),
            r#type: "inventory".into(),
            id: "socks".into(),
        }),
        state: vec![],
        invocations: vec![to_function::Invocation {
            caller: None,
            argument: Some(int(2)),
        }],
    };
    let body = Bytes::from(
        ToFunction {
            request: Some(to_function::Request::Invocation(batch)),
        }
        .encode_to_vec(),
    );
    bencher.bench(|| run(pin!(handler.handle(black_box(body.clone())))));
}

#[divan::bench]
fn encode_int(bencher: Bencher<'_, '_>) {
    bencher.bench(|| black_box(42_i32).to_bytes());
}

#[divan::bench]
fn decode_int(bencher: Bencher<'_, '_>) {
    let bytes = 42_i32.to_bytes().expect("int");
    bencher.bench(|| i32::from_bytes(black_box(&bytes)));
}
