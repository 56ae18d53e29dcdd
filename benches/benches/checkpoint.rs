//! Checkpoint and restore of 1,000,000 addresses in the harness, each an
//! inventory with both of its states (`stock`, `reserved`): take the
//! checkpoint, serialize it, read it back, restore it into a fresh harness,
//! run one write (state is shared with the checkpoint in chunks of
//! addresses until written, so the first write after a restore copies the
//! chunk it touches), and check the state is all there.
//!
//! ```text
//! cargo bench -p statefun-benches --bench checkpoint            # 1,000,000 addresses, 3 rounds
//! cargo bench -p statefun-benches --bench checkpoint -- 100000  # another count
//! ```
//!
//! A plain timing loop rather than divan: the setup (two million
//! invocations through the harness) is far longer than what is timed, and
//! each phase is reported on its own.

#![allow(clippy::print_stdout)] // a benchmark reports on stdout

use std::time::{Duration, Instant};

use shopping_cart::{InventoryState, Restock, functions, item};
use statefun_harness::{Checkpoint, Harness};

fn main() -> anyhow::Result<()> {
    let addresses: usize = std::env::args()
        .skip(1)
        .find(|a| !a.starts_with('-'))
        .map_or(Ok(1_000_000), |a| a.parse())?;
    let runtime = tokio::runtime::Builder::new_current_thread().build()?;
    let harness = || {
        Harness::builder()
            .seed(1)
            .max_steps(u64::MAX)
            .functions(functions().map_err(anyhow::Error::from_boxed)?)
            .build()
            .map_err(anyhow::Error::from)
    };

    let setup = Instant::now();
    let mut source = harness()?;
    for i in 0..addresses {
        let id = format!("item-{i}");
        source.send(
            item(&id),
            &Restock {
                item_id: id.clone(),
                quantity: 10,
            },
        )?;
        source.send(
            item(&id),
            &shopping_cart::CommitItem {
                item_id: id,
                quantity: 1,
            },
        )?;
    }
    runtime.block_on(source.run())?;
    println!(
        "setup: {addresses} addresses with 2 states each, {} invocations, in {:.2?}",
        2 * addresses,
        setup.elapsed()
    );

    for round in 1..=3 {
        let t = Instant::now();
        source.checkpoint();
        let take = t.elapsed();
        let t = Instant::now();
        let bytes = source.last_checkpoint().expect("taken").to_bytes();
        let serialize = t.elapsed();
        // The running job's next write copies the chunk it touches away
        // from the checkpoint's: part of what a checkpoint costs.
        let t = Instant::now();
        restock_nothing(&runtime, &mut source)?;
        let source_write = t.elapsed();
        let t = Instant::now();
        let read = Checkpoint::from_bytes(&bytes)?;
        let parse = t.elapsed();
        let mut restored = harness()?;
        let t = Instant::now();
        restored.restore(&read);
        let restore = t.elapsed();
        // State is shared with the checkpoint until written: the first
        // write after a restore copies the chunk it touches. Count it.
        let t = Instant::now();
        restock_nothing(&runtime, &mut restored)?;
        let first_write = t.elapsed();
        let total = take + serialize + source_write + parse + restore + first_write;
        println!(
            "round {round}: take {} + serialize {} + next write {} + read {} + restore {} + first write {} = {} ({:.1} MB)",
            ms(take),
            ms(serialize),
            ms(source_write),
            ms(parse),
            ms(restore),
            ms(first_write),
            ms(total),
            bytes.len() as f64 / 1e6
        );
        // Every address came back with both states.
        for i in [0, addresses / 2, addresses - 1] {
            let id = format!("item-{i}");
            let stock = restored.state(&item(&id), &InventoryState::STOCK)?;
            let reserved = restored.state(&item(&id), &InventoryState::RESERVED)?;
            anyhow::ensure!(
                stock == Some(9) && reserved == Some(-1),
                "item-{i} restored as stock {stock:?}, reserved {reserved:?}"
            );
        }
        drop(restored);
    }
    Ok(())
}

/// One write to `item-0` that changes nothing.
fn restock_nothing(runtime: &tokio::runtime::Runtime, harness: &mut Harness) -> anyhow::Result<()> {
    harness.send(
        item("item-0"),
        &Restock {
            item_id: "item-0".to_owned(),
            quantity: 0,
        },
    )?;
    runtime.block_on(harness.run())?;
    Ok(())
}

fn ms(d: Duration) -> String {
    format!("{:.0} ms", d.as_secs_f64() * 1e3)
}
