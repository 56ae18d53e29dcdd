//! Harness throughput: invocations per second of a trivial in-process
//! function through the full wire path (encode `ToFunction`, the SDK
//! handler, decode `FromFunction`, apply), on one core.
//!
//! ```text
//! cargo bench -p statefun-harness --bench throughput
//! ```

use divan::Bencher;
use stateful_functions::{
    Address, Context, FunctionError, FunctionSpec, Functions, Message, StatefulFunction, TypeName,
    ValueSpec, async_trait,
};
use statefun_harness::Harness;

fn main() {
    divan::main();
}

const COUNT: ValueSpec<i64> = ValueSpec::named("count");
const COUNTER: TypeName = TypeName::from_static("bench/counter");

struct Counter;

#[async_trait]
impl StatefulFunction for Counter {
    async fn invoke(&self, ctx: &mut Context, message: Message) -> Result<(), FunctionError> {
        let n = message.decode::<i64>()?;
        let count = ctx.storage().get(&COUNT)?.unwrap_or(0) + n;
        ctx.storage().set(&COUNT, &count)?;
        Ok(())
    }
}

const MESSAGES: usize = 10_000;

/// 10,000 messages spread over 100 addresses, run to idle.
#[divan::bench(sample_count = 20)]
fn invocations(bencher: Bencher<'_, '_>) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let functions = || {
        Functions::new()
            .with(
                FunctionSpec::builder(COUNTER)
                    .with_state(&COUNT)
                    .build(Counter)
                    .expect("spec"),
            )
            .expect("registry")
    };
    bencher
        .counter(divan::counter::ItemsCount::new(MESSAGES))
        .with_inputs(|| {
            let mut h = Harness::builder()
                .seed(1)
                .functions(functions())
                .build()
                .expect("harness");
            for i in 0..MESSAGES {
                h.send(Address::new(COUNTER, format!("id-{}", i % 100)), &1_i64)
                    .expect("send");
            }
            h
        })
        .bench_local_values(|mut h| {
            runtime.block_on(h.run()).expect("run");
            h
        });
}
