//! Driving a harness from a long-lived loop (as statefun-local does): a
//! bounded number of steps, a clock moved from outside, committed egress
//! and trace taken out, per-endpoint budgets and backlog limits.

use std::time::Duration;

use statefun_harness::{
    Checkpoint, EgressSemantics, Endpoint, EndpointOptions, Event, Harness, JobFailure, Progress,
};

use crate::fixture::{Command, RESULTS, functions, log, recorder, sum};

#[tokio::test]
async fn run_steps_stops_at_the_budget_and_reports_the_next_wake_up() {
    let mut h = Harness::builder()
        .seed(3)
        .functions(functions())
        .build()
        .unwrap();
    for n in 1..=5 {
        h.send(recorder("a"), &Command::Add(n)).unwrap();
    }
    h.send(
        recorder("a"),
        &Command::Later {
            ms: 500,
            token: None,
            text: "late".into(),
        },
    )
    .unwrap();
    assert_eq!(h.run_steps(1).await.unwrap(), Progress::Busy);
    let mut progress = Progress::Busy;
    while progress == Progress::Busy {
        progress = h.run_steps(2).await.unwrap();
    }
    assert_eq!(sum(&h, "a"), Some(15));
    // The delayed message is due at 500 ms; nothing runs until the clock
    // is moved there.
    assert_eq!(
        progress,
        Progress::Idle {
            wake_up: Some(Duration::from_millis(500))
        }
    );
    assert_eq!(h.next_wake_up(), Some(Duration::from_millis(500)));
    h.move_clock_to(Duration::from_millis(499));
    h.run_steps(100).await.unwrap();
    assert!(!log(&h, "a").contains("late"));
    h.move_clock_to(Duration::from_millis(500));
    assert_eq!(
        h.run_steps(100).await.unwrap(),
        Progress::Idle { wake_up: None }
    );
    assert!(log(&h, "a").contains("late"));
    // The clock never goes back.
    h.move_clock_to(Duration::ZERO);
    assert_eq!(h.now(), Duration::from_millis(500));
}

#[tokio::test]
async fn a_retry_backoff_is_a_wake_up_not_a_jump_of_the_clock() {
    let calls = std::sync::Arc::new(std::sync::atomic::AtomicU32::new(0));
    let seen = std::sync::Arc::clone(&calls);
    // Fails the first attempt, then answers an empty invocation result.
    let flaky = Endpoint::raw(move |_| {
        if seen.fetch_add(1, std::sync::atomic::Ordering::SeqCst) == 0 {
            return Err("not yet".into());
        }
        Ok(bytes::Bytes::from_static(b"\xa2\x06\x00"))
    });
    let mut h = Harness::builder()
        .endpoint("test/recorder", flaky)
        .build()
        .unwrap();
    h.send(recorder("a"), &Command::Add(2)).unwrap();
    let progress = h.run_steps(100).await.unwrap();
    // nettyclient/NettyRequest.java: the attempt counter is incremented
    // before the backoff 2ms*2^attempts is computed: the first wait is 4 ms.
    assert_eq!(
        progress,
        Progress::Idle {
            wake_up: Some(Duration::from_millis(4))
        },
        "the first backoff of the runtime's transport"
    );
    assert_eq!(h.now(), Duration::ZERO);
    h.move_clock_to(Duration::from_millis(4));
    assert_eq!(
        h.run_steps(100).await.unwrap(),
        Progress::Idle { wake_up: None }
    );
    assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 2);
    assert_eq!(h.counters().failed_attempts, 1);
}

#[tokio::test]
async fn committed_egress_is_taken_once_and_never_comes_back() {
    let mut h = Harness::builder()
        .seed(1)
        .functions(functions())
        .kafka_egress(&RESULTS)
        .egress_semantics(EgressSemantics::ExactlyOnce)
        .build()
        .unwrap();
    h.send(recorder("a"), &Command::Egress { declared: true })
        .unwrap();
    h.run().await.unwrap();
    // Not committed yet: nothing to take.
    assert!(h.take_committed_egress().is_empty());
    h.checkpoint();
    let taken = h.take_committed_egress();
    assert_eq!(taken.len(), 1);
    assert_eq!(taken[0].0, RESULTS);
    let record = taken[0].1[0].kafka().unwrap();
    assert_eq!((record.topic(), record.key()), ("results", Some("a")));
    assert!(h.egress(&RESULTS).is_empty());
    // A crash goes back to the checkpoint, whose egress has been taken.
    h.crash();
    h.run().await.unwrap();
    assert!(h.take_committed_egress().is_empty());
    // Nor does a restore from the serialized checkpoint bring it back.
    let bytes = h.last_checkpoint().unwrap().to_bytes();
    let mut fresh = Harness::builder()
        .functions(functions())
        .kafka_egress(&RESULTS)
        .egress_semantics(EgressSemantics::ExactlyOnce)
        .build()
        .unwrap();
    fresh.restore(&Checkpoint::from_bytes(&bytes).unwrap());
    assert!(fresh.take_committed_egress().is_empty());
    // The next record is taken after the next checkpoint, once.
    h.send(recorder("a"), &Command::Egress { declared: true })
        .unwrap();
    h.run().await.unwrap();
    h.checkpoint();
    assert_eq!(h.take_committed_egress()[0].1.len(), 1);
    assert!(h.take_committed_egress().is_empty());
}

#[tokio::test]
async fn the_trace_is_taken_out_and_states_are_listed() {
    let mut h = Harness::builder().functions(functions()).build().unwrap();
    h.send(recorder("b"), &Command::Add(4)).unwrap();
    h.send(recorder("a"), &Command::Log("x".into())).unwrap();
    h.run().await.unwrap();
    let trace = h.take_trace();
    assert!(
        trace
            .iter()
            .any(|e| matches!(e.event, Event::StateChanged { .. }))
    );
    assert!(h.trace().is_empty());
    let addresses: Vec<String> = h.addresses_with_state().map(ToString::to_string).collect();
    assert_eq!(addresses, ["test/recorder:a", "test/recorder:b"]);
    let names: Vec<String> = h
        .states(&recorder("b"))
        .into_iter()
        .map(|(name, type_name, _)| format!("{name}: {type_name}"))
        .collect();
    assert!(
        names.contains(&"sum: io.statefun.types/long".to_owned()),
        "{names:?}"
    );
}

#[tokio::test]
async fn each_endpoint_has_its_own_budget_and_backlog_limit() {
    // The first request of a type on a partition blocks it until it
    // completes (`reqreply/RequestReplyFunction.java`): it succeeds (an
    // empty answer), so that the later ones fail while messages wait.
    let calls = std::sync::atomic::AtomicUsize::new(0);
    let failing = Endpoint::raw(move |_| {
        if calls.fetch_add(1, std::sync::atomic::Ordering::Relaxed) == 0 {
            Ok(bytes::Bytes::new())
        } else {
            Err("down".into())
        }
    });
    let mut h = Harness::builder()
        .endpoint_with(
            "test/recorder",
            failing,
            EndpointOptions::new()
                .call_timeout(Duration::from_millis(50))
                .max_batch_requests(2),
        )
        // The harness-wide budget is much longer.
        .call_timeout(Duration::from_secs(120))
        .build()
        .unwrap();
    h.send(recorder("a"), &Command::Add(0)).unwrap();
    h.run().await.unwrap();
    h.send(recorder("a"), &Command::Add(1)).unwrap();
    h.send(recorder("a"), &Command::Add(2)).unwrap();
    h.send(recorder("a"), &Command::Add(3)).unwrap();
    let failure: JobFailure = h.run().await.unwrap_err();
    // nettyclient/NettyRequest.java: attempts at 0, 4, 12 and 28 ms (waits
    // of 2ms*2^attempts, the counter incremented first); the next backoff
    // is capped at the 50 ms deadline, where the request fails without
    // another attempt.
    assert_eq!(failure.attempts(), Some(4), "{failure}");
    assert_eq!(h.now(), Duration::from_millis(50));
    assert_eq!(
        h.blocked_addresses(),
        1,
        "a backlog of 2 blocks the partition"
    );
}

#[tokio::test]
async fn after_a_restart_the_job_waits_for_the_restart_delay() {
    let mut h = Harness::builder()
        .functions(functions())
        .restart_on_failure(1)
        .build()
        .unwrap();
    h.send(recorder("a"), &Command::Egress { declared: false })
        .unwrap();
    // Writing to an undeclared egress fails the job; it restarts from the
    // start one second later and fails again, with no restart left.
    let progress = h.run_steps(100).await.unwrap();
    assert_eq!(
        progress,
        Progress::Idle {
            wake_up: Some(Duration::from_secs(1))
        }
    );
    assert_eq!(h.now(), Duration::from_secs(1));
    assert_eq!(h.counters().restarts, 1);
    assert!(h.run_steps(100).await.is_err());
}
