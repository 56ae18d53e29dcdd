//! One test per conformance check of spec §3.13.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use prost::Message as _;
use stateful_functions::{Address, TypeName};
use statefun_harness::{Cause, Endpoint, Event, Harness};
use statefun_protocol::reqreply::from_function::{self, persisted_value_mutation};
use statefun_protocol::reqreply::{FromFunction, ToFunction, TypedValue, to_function};

use crate::fixture::{Command, RESULTS, functions, log, recorder, sum, touched};

/// A raw endpoint's answer, as bytes.
fn encoded(response: from_function::Response) -> Bytes {
    Bytes::from(
        FromFunction {
            response: Some(response),
        }
        .encode_to_vec(),
    )
}

fn harness(seed: u64) -> Harness {
    Harness::builder()
        .seed(seed)
        .functions(functions())
        .kafka_egress(&RESULTS)
        .build()
        .unwrap()
}

fn requests(harness: &Harness) -> Vec<(Address, usize, Vec<String>)> {
    harness
        .trace()
        .iter()
        .filter_map(|e| match &e.event {
            Event::RequestSent {
                address,
                batch_size,
                states,
            } => Some((address.clone(), *batch_size, states.clone())),
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn first_request_carries_no_state_then_the_handshake_resends_it() {
    let mut h = harness(1);
    h.send(recorder("a"), &Command::Log("hi".into())).unwrap();
    h.run().await.unwrap();
    let sent = requests(&h);
    // Fresh type: no states; the handshake registers them; the same batch
    // goes again with every state (valueless).
    assert_eq!(sent[0], (recorder("a"), 1, vec![]));
    assert_eq!(sent[1].1, 1);
    assert_eq!(
        sent[1].2,
        ["log", "sum", "touched_by_call", "touched_by_write"]
    );
    assert_eq!(h.counters().handshakes, 1);
    assert_eq!(log(&h, "a"), "hi from ingress\n");
}

#[tokio::test]
async fn the_handshake_resends_the_identical_invocations() {
    // A raw endpoint records each request and asks once for state `x`.
    let seen: Arc<Mutex<Vec<ToFunction>>> = Arc::default();
    let recorded = Arc::clone(&seen);
    let endpoint = Endpoint::raw(move |body: Bytes| {
        let request = ToFunction::decode(body).map_err(|e| e.to_string())?;
        let first = recorded.lock().unwrap().is_empty();
        recorded.lock().unwrap().push(request);
        let response = if first {
            from_function::Response::IncompleteInvocationContext(
                from_function::IncompleteInvocationContext {
                    missing_values: vec![from_function::PersistedValueSpec {
                        state_name: "x".into(),
                        expiration_spec: None,
                        type_typename: "io.statefun.types/int".into(),
                    }],
                },
            )
        } else {
            from_function::Response::InvocationResult(from_function::InvocationResponse::default())
        };
        Ok(encoded(response))
    });
    let mut h = Harness::builder()
        .seed(3)
        .endpoint("raw/*", endpoint)
        .build()
        .unwrap();
    let target = Address::new(TypeName::from_static("raw/fn"), "1");
    h.send(target, &"payload".to_owned()).unwrap();
    h.run().await.unwrap();
    let seen = seen.lock().unwrap();
    let batch = |r: &ToFunction| match r.request.clone().unwrap() {
        to_function::Request::Invocation(b) => b,
    };
    let (first, second) = (batch(&seen[0]), batch(&seen[1]));
    assert!(first.state.is_empty());
    assert_eq!(
        first.invocations, second.invocations,
        "the same invocations, byte for byte"
    );
    assert_eq!(second.state.len(), 1);
    assert_eq!(second.state[0].state_name, "x");
    assert!(
        second.state[0].state_value.is_none(),
        "a valueless state has no state_value"
    );
}

#[tokio::test]
async fn messages_arriving_in_flight_go_as_one_batch_in_order() {
    let mut batched = false;
    for seed in 0..20 {
        let mut h = harness(seed);
        for i in 0..5 {
            h.send(recorder("b"), &Command::Log(format!("m{i}")))
                .unwrap();
        }
        h.run().await.unwrap();
        // Whatever the schedule, the order holds...
        assert_eq!(
            log(&h, "b"),
            "m0 from ingress\nm1 from ingress\nm2 from ingress\nm3 from ingress\nm4 from ingress\n",
            "seed {seed}"
        );
        // ... and the backlog goes out as one batch when the request returns.
        if requests(&h).iter().any(|(_, size, _)| *size > 1) {
            batched = true;
            assert!(h.counters().buffered > 0);
        }
    }
    assert!(
        batched,
        "some schedule buffers messages while a request is in flight"
    );
}

#[tokio::test]
async fn state_written_in_one_batch_is_seen_by_the_next() {
    let mut h = harness(5);
    for n in [1, 2, 3] {
        h.send(recorder("c"), &Command::Add(n)).unwrap();
        h.run().await.unwrap();
    }
    assert_eq!(sum(&h, "c"), Some(6));
}

#[tokio::test]
async fn delete_removes_a_value_and_modify_with_empty_bytes_keeps_a_zero() {
    let mut h = harness(6);
    h.send(recorder("d"), &Command::Add(5)).unwrap();
    h.send(recorder("d"), &Command::Zero).unwrap();
    h.run().await.unwrap();
    assert_eq!(sum(&h, "d"), Some(0));
    let (type_name, bytes) = h.state_raw(&recorder("d"), "sum").unwrap();
    assert_eq!(type_name, "io.statefun.types/long");
    assert!(bytes.is_empty(), "zero is present, as empty bytes");
    h.send(recorder("d"), &Command::Clear).unwrap();
    h.run().await.unwrap();
    assert_eq!(
        h.state_raw(&recorder("d"), "sum"),
        None,
        "deleted: no value at all"
    );
}

/// A raw endpoint that registers `x` as an int, then writes it as a long.
fn mistyped_writer() -> Endpoint {
    Endpoint::raw(|body: Bytes| {
        let to_function::Request::Invocation(batch) = ToFunction::decode(body)
            .map_err(|e| e.to_string())?
            .request
            .unwrap();
        let response = if batch.state.is_empty() {
            from_function::Response::IncompleteInvocationContext(
                from_function::IncompleteInvocationContext {
                    missing_values: vec![from_function::PersistedValueSpec {
                        state_name: "x".into(),
                        expiration_spec: None,
                        type_typename: "io.statefun.types/int".into(),
                    }],
                },
            )
        } else {
            from_function::Response::InvocationResult(from_function::InvocationResponse {
                state_mutations: vec![from_function::PersistedValueMutation {
                    mutation_type: persisted_value_mutation::MutationType::Modify.into(),
                    state_name: "x".into(),
                    state_value: Some(TypedValue {
                        typename: "io.statefun.types/long".into(),
                        has_value: true,
                        value: Bytes::new(),
                    }),
                }],
                ..Default::default()
            })
        };
        Ok(encoded(response))
    })
}

#[tokio::test]
async fn modify_with_another_typename_fails_the_job() {
    let mut h = Harness::builder()
        .seed(8)
        .endpoint("raw/*", mistyped_writer())
        .build()
        .unwrap();
    h.send(Address::new(TypeName::from_static("raw/fn"), "1"), &1_i32)
        .unwrap();
    let failure = h.run().await.unwrap_err();
    assert!(
        matches!(failure.cause(), Cause::ModifyTypeMismatch { .. }),
        "{failure}"
    );
    assert_eq!(failure.seed(), 8);
    let text = failure.to_string();
    assert!(
        text.starts_with("job failed (seed 8) at raw/fn:1 (batch of 1):"),
        "{text}"
    );
}

#[tokio::test]
async fn egress_to_an_undeclared_id_fails_the_job_and_a_declared_one_collects() {
    let mut h = harness(9);
    h.send(recorder("e"), &Command::Egress { declared: true })
        .unwrap();
    h.run().await.unwrap();
    let records = h.kafka_records(&RESULTS).unwrap();
    assert_eq!(records.len(), 1);
    assert_eq!(
        (records[0].topic(), records[0].key()),
        ("results", Some("e"))
    );

    h.send(recorder("e"), &Command::Egress { declared: false })
        .unwrap();
    let failure = h.run().await.unwrap_err();
    assert_eq!(
        failure.cause(),
        &Cause::UnknownEgress("test/nowhere".into())
    );
}

#[tokio::test]
async fn a_delayed_message_can_be_cancelled_before_it_fires_and_cancelling_later_is_a_no_op() {
    let mut h = harness(10);
    let later = |token: &str, text: &str| Command::Later {
        ms: 5_000,
        token: Some(token.into()),
        text: text.into(),
    };
    h.send(recorder("f"), &later("t1", "cancelled")).unwrap();
    h.send(recorder("f"), &later("t2", "fired")).unwrap();
    h.run().await.unwrap();
    h.send(recorder("f"), &Command::Cancel("t1".into()))
        .unwrap();
    h.advance(Duration::from_secs(6)).await.unwrap();
    assert!(!log(&h, "f").contains("cancelled"));
    assert_eq!(
        log(&h, "f"),
        "fired from test/recorder:f\n",
        "the caller of a delayed message is its sender"
    );
    // t2 has fired: cancelling it now changes nothing and fails nothing.
    h.send(recorder("f"), &Command::Cancel("t2".into()))
        .unwrap();
    h.run().await.unwrap();
    assert!(h.trace().iter().any(|e| matches!(
        &e.event,
        Event::TimerCancelled { token, found: false, .. } if token == "t2"
    )));
}

#[tokio::test]
async fn delayed_messages_fire_in_time_order_ties_in_send_order() {
    let mut h = harness(11);
    for (ms, text) in [(300, "c"), (100, "a"), (300, "d"), (200, "b")] {
        h.send(
            recorder("g"),
            &Command::Later {
                ms,
                token: None,
                text: text.into(),
            },
        )
        .unwrap();
        h.run().await.unwrap();
    }
    h.advance(Duration::from_millis(250)).await.unwrap();
    assert_eq!(
        log(&h, "g"),
        "a from test/recorder:g\nb from test/recorder:g\n"
    );
    h.advance(Duration::from_millis(100)).await.unwrap();
    assert!(
        log(&h, "g").ends_with("c from test/recorder:g\nd from test/recorder:g\n"),
        "{}",
        log(&h, "g")
    );
}

#[tokio::test]
async fn a_duplicate_pending_token_fails_the_job() {
    let mut h = harness(12);
    let later = Command::Later {
        ms: 1_000,
        token: Some("same".into()),
        text: "x".into(),
    };
    h.send(recorder("h"), &later).unwrap();
    h.run().await.unwrap();
    h.send(recorder("h"), &later).unwrap();
    let failure = h.run().await.unwrap_err();
    assert_eq!(
        failure.cause(),
        &Cause::DuplicateToken {
            id: "h".into(),
            token: "same".into()
        }
    );
}

#[tokio::test]
async fn after_call_expiry_restarts_with_each_request_and_after_write_does_not() {
    let mut h = harness(13);
    h.send(recorder("i"), &Command::Add(1)).unwrap();
    h.run().await.unwrap();
    assert_eq!(touched(&h, "i"), (Some(1), Some(1)));
    // A request at 8 s reads both; only the after-call one restarts.
    h.advance(Duration::from_secs(8)).await.unwrap();
    h.send(recorder("i"), &Command::Add(1)).unwrap();
    h.run().await.unwrap();
    h.advance(Duration::from_secs(8)).await.unwrap(); // 16 s
    assert_eq!(
        touched(&h, "i"),
        (Some(1), None),
        "after-write expired at 10 s"
    );
    h.advance(Duration::from_secs(3)).await.unwrap(); // 19 s
    assert_eq!(touched(&h, "i"), (None, None), "after-call expired at 18 s");
}

#[tokio::test]
async fn the_caller_is_absent_for_ingress_and_the_sender_otherwise() {
    let mut h = harness(14);
    h.send(recorder("j"), &Command::Log("direct".into()))
        .unwrap();
    h.send(
        recorder("k"),
        &Command::Forward {
            to: "j".into(),
            text: "forwarded".into(),
        },
    )
    .unwrap();
    h.run().await.unwrap();
    let log = log(&h, "j");
    assert!(log.contains("direct from ingress\n"), "{log}");
    assert!(log.contains("forwarded from test/recorder:k\n"), "{log}");
}

#[tokio::test]
async fn a_message_to_an_unknown_function_type_fails_the_job() {
    let mut h = harness(15);
    h.send(
        Address::new(TypeName::from_static("test/ghost"), "1"),
        &1_i32,
    )
    .unwrap();
    let failure = h.run().await.unwrap_err();
    assert_eq!(
        failure.cause(),
        &Cause::UnknownFunctionType("test/ghost".into())
    );
}

#[tokio::test]
async fn a_livelock_is_reported_at_the_step_limit() {
    let mut h = Harness::builder()
        .seed(16)
        .functions(functions())
        .max_steps(500)
        .build()
        .unwrap();
    h.send(recorder("l"), &Command::Loop).unwrap();
    let failure = h.run().await.unwrap_err();
    assert_eq!(failure.cause(), &Cause::Livelock(500));
}

#[tokio::test]
async fn an_unlimited_step_count_does_not_overflow_on_a_later_run() {
    let mut h = Harness::builder()
        .seed(16)
        .functions(functions())
        .max_steps(u64::MAX)
        .build()
        .unwrap();
    for round in 0..2 {
        h.send(recorder("u"), &Command::Add(1)).unwrap();
        h.run().await.unwrap_or_else(|e| panic!("run {round}: {e}"));
    }
}

#[tokio::test]
async fn placement_follows_flink_and_shows_in_the_trace() {
    let mut h = Harness::builder()
        .seed(17)
        .partitions(4)
        .functions(functions())
        .build()
        .unwrap();
    for id in ["Kim", "socks", "user-42", "a"] {
        h.send(recorder(id), &Command::Add(1)).unwrap();
    }
    h.run().await.unwrap();
    let partitions: Vec<u32> = ["Kim", "socks", "user-42", "a"]
        .iter()
        .map(|id| h.partition_of(&recorder(id)))
        .collect();
    assert!(partitions.iter().all(|p| *p < 4));
    for entry in h.trace() {
        if let Event::Delivered { to, partition, .. } = &entry.event {
            assert_eq!(*partition, h.partition_of(to));
        }
    }
    // The key is the id alone: another function type with the same id
    // lands on the same partition.
    let other = Address::new(TypeName::from_static("test/other"), "Kim");
    assert_eq!(h.partition_of(&other), h.partition_of(&recorder("Kim")));
}

#[tokio::test]
async fn a_full_backlog_blocks_its_partition_ingress() {
    let mut h = Harness::builder()
        .seed(18)
        .functions(functions())
        .max_batch_requests(2)
        .build()
        .unwrap();
    for i in 0..6 {
        h.send(recorder("m"), &Command::Add(i)).unwrap();
    }
    h.send(recorder("n"), &Command::Add(100)).unwrap();
    let mut most_blocked = 0;
    while h.step().await.unwrap() {
        most_blocked = most_blocked.max(h.blocked_addresses());
        if h.blocked_addresses() > 0 {
            // While an address is blocked, no ingress is taken on its
            // partition (one partition here): only requests complete
            // (`functions/FunctionGroupOperator.java`, `processElement`;
            // blocked until a request of the address completes,
            // `backpressure/ThresholdBackPressureValve.java`).
            let before = h.trace().len();
            h.step().await.unwrap();
            assert!(
                !h.trace()[before..]
                    .iter()
                    .any(|e| matches!(&e.event, Event::Delivered { from: None, .. })),
                "ingress delivered while blocked"
            );
        }
    }
    assert!(most_blocked > 0, "the backlog reached maxNumBatchRequests");
    assert_eq!(sum(&h, "m"), Some(15));
    assert_eq!(sum(&h, "n"), Some(100));
    assert_eq!(h.backlog(), 0);
}

/// A raw endpoint with many states (more than a request gathers on the
/// stack): registers `s00`..`s11` (listed backwards), then writes each one
/// its own name as a value the first time it runs with state, and refuses
/// a request whose values are not all there, in name order.
fn many_states() -> Endpoint {
    Endpoint::raw(|body: Bytes| {
        let to_function::Request::Invocation(batch) = ToFunction::decode(body)
            .map_err(|e| e.to_string())?
            .request
            .unwrap();
        let names = (0..12).rev().map(|i| format!("s{i:02}"));
        let response = if batch.state.is_empty() {
            from_function::Response::IncompleteInvocationContext(
                from_function::IncompleteInvocationContext {
                    missing_values: names
                        .map(|state_name| from_function::PersistedValueSpec {
                            state_name,
                            expiration_spec: None,
                            type_typename: "test.types/name".into(),
                        })
                        .collect(),
                },
            )
        } else {
            let unwritten = batch.state.iter().all(|s| s.state_value.is_none());
            // Once written, every value comes back, in name order.
            let each_its_name = batch.state.iter().all(|s| {
                s.state_value
                    .as_ref()
                    .is_some_and(|v| v.value == s.state_name.as_bytes())
            });
            let in_order = batch.state.is_sorted_by(|a, b| a.state_name < b.state_name);
            if !(unwritten || each_its_name) || !in_order || batch.state.len() != 12 {
                return Err(format!("states sent: {:?}", batch.state));
            }
            from_function::Response::InvocationResult(from_function::InvocationResponse {
                state_mutations: names
                    .filter(|_| unwritten)
                    .map(|state_name| from_function::PersistedValueMutation {
                        mutation_type: persisted_value_mutation::MutationType::Modify.into(),
                        state_value: Some(TypedValue {
                            typename: "test.types/name".into(),
                            has_value: true,
                            value: Bytes::from(state_name.clone()),
                        }),
                        state_name,
                    })
                    .collect(),
                ..Default::default()
            })
        };
        Ok(encoded(response))
    })
}

#[tokio::test]
async fn a_request_carries_every_registered_state_in_name_order() {
    let mut h = Harness::builder()
        .endpoint("raw/*", many_states())
        .build()
        .unwrap();
    let many = Address::new(TypeName::from_static("raw/many"), "1");
    h.send(many.clone(), &1_i32).unwrap();
    h.send(many.clone(), &2_i32).unwrap();
    h.run().await.unwrap();
    let names: Vec<String> = (0..12).map(|i| format!("s{i:02}")).collect();
    let sent = requests(&h);
    // The handshake, the first batch again with the states (none set), and
    // the second with every value.
    assert_eq!(sent.len(), 3, "{sent:?}");
    assert!(sent.iter().skip(1).all(|(_, _, states)| *states == names));
    for name in &names {
        let (_, bytes) = h.state_raw(&many, name).unwrap();
        assert_eq!(bytes, name.as_bytes());
    }
}

#[tokio::test]
async fn reading_a_state_the_function_never_declared_is_an_error() {
    const STRAY: stateful_functions::ValueSpec<i64> = stateful_functions::ValueSpec::named("stray");
    let mut h = harness(1);
    h.send(recorder("a"), &Command::Log("hi".into())).unwrap();
    h.run().await.unwrap();
    let err = h.state(&recorder("a"), &STRAY).unwrap_err();
    match &err {
        stateful_functions::ValueError::Undeclared {
            function_type,
            state,
            declared,
        } => {
            assert_eq!(function_type.as_str(), "test/recorder");
            assert_eq!(state, "stray");
            assert!(declared.iter().any(|s| s == "sum"), "{declared:?}");
        }
        other => panic!("expected Undeclared, got {other:?}"),
    }
    let text = err.to_string();
    assert!(
        text.contains("test/recorder") && text.contains("\"stray\""),
        "{text}"
    );
    // Declared but never written: still no value.
    assert_eq!(sum(&h, "a"), None);
    assert_eq!(sum(&h, "b"), None);
}

#[tokio::test]
async fn an_in_process_functions_states_are_known_before_its_first_call() {
    const STRAY: stateful_functions::ValueSpec<i64> = stateful_functions::ValueSpec::named("stray");
    let h = harness(1);
    // No request yet, so no handshake: the spec the harness serves in
    // process says what the function declares.
    match h.state(&recorder("a"), &STRAY) {
        Err(stateful_functions::ValueError::Undeclared { declared, .. }) => {
            assert!(declared.iter().any(|s| s == "sum"), "{declared:?}");
        }
        other => panic!("expected Undeclared before the first call, got {other:?}"),
    }
    assert_eq!(sum(&h, "a"), None);
}
