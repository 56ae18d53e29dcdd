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

#[tokio::test]
async fn traces_export_as_mermaid_and_json_lines() {
    let h = run(5).await;
    let mermaid = h.trace_mermaid();
    assert!(mermaid.starts_with("sequenceDiagram\n"));
    assert!(mermaid.contains("participant a_test_recorder_x as test/recorder:x [p"));
    assert!(mermaid.contains("ingress->>a_test_recorder_x: t=0ms"));
    assert!(
        mermaid.contains("a_test_recorder_x->>a_test_recorder_y"),
        "a message between functions"
    );
    let lines = h.trace_json_lines();
    assert_eq!(lines.lines().count(), h.trace().len());
    assert!(
        lines
            .lines()
            .all(|l| l.starts_with("{\"at_ms\":") && l.ends_with('}'))
    );
    assert!(lines.contains("\"event\":\"delivered\",\"from\":null,\"to\":\"test/recorder:x\""));

    // Written where a failing test writes it; the diagram is the same text.
    let path = h.write_trace().unwrap();
    assert_eq!(std::fs::read_to_string(&path).unwrap(), mermaid);
    let _ = std::fs::remove_file(path.with_extension("jsonl"));
    let _ = std::fs::remove_file(path);
}
