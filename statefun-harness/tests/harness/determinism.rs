//! The seed fixes the schedule.

use statefun_harness::Harness;

use crate::fixture::{Command, functions, recorder, sum};

/// An order-independent workload: additions to three addresses, some sent
/// on by other addresses.
async fn run(seed: u64) -> Harness {
    let mut h = Harness::builder()
        .seed(seed)
        .partitions(3)
        .functions(functions())
        .build()
        .unwrap();
    for round in 0..10 {
        for id in ["x", "y", "z"] {
            h.send(recorder(id), &Command::Add(round)).unwrap();
        }
        h.send(
            recorder("x"),
            &Command::Forward {
                to: "y".into(),
                text: format!("r{round}"),
            },
        )
        .unwrap();
    }
    h.run().await.unwrap();
    h
}

#[tokio::test]
async fn the_same_seed_gives_the_same_trace() {
    let a = run(42).await;
    let b = run(42).await;
    assert_eq!(a.trace_text(), b.trace_text());
    assert_eq!(a.trace(), b.trace());
}

#[tokio::test]
async fn different_seeds_explore_different_schedules_with_the_same_outcome() {
    let mut traces = std::collections::BTreeSet::new();
    for seed in 0..8 {
        let h = run(seed).await;
        for id in ["x", "y", "z"] {
            assert_eq!(sum(&h, id), Some(45), "seed {seed}, address {id}");
        }
        traces.insert(h.trace_text());
    }
    assert!(traces.len() > 1, "different seeds interleave differently");
}
