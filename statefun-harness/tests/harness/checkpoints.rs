//! Checkpoints, crashes and restores (spec §3.10).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use statefun_harness::{EgressSemantics, Event, Harness};
use statefun_sdk::{
    Address, Context, EgressIdentifier, FunctionError, FunctionSpec, Functions, KafkaRecord,
    Message, StatefulFunction, TypeName, ValueSpec, async_trait,
};

use crate::fixture::{Command, functions, recorder, sum};

#[tokio::test]
async fn a_crash_restores_the_checkpoint_replays_ingress_and_resends_in_flight_batches() {
    let mut expected = Harness::builder()
        .seed(30)
        .functions(functions())
        .build()
        .unwrap();
    let mut h = Harness::builder()
        .seed(30)
        .functions(functions())
        .build()
        .unwrap();
    for harness in [&mut expected, &mut h] {
        harness.send(recorder("a"), &Command::Add(1)).unwrap();
        harness.run().await.unwrap();
    }
    h.checkpoint();
    for harness in [&mut expected, &mut h] {
        for n in 2..=4 {
            harness.send(recorder("a"), &Command::Add(n)).unwrap();
        }
    }
    expected.run().await.unwrap();
    // Crash with work in flight: the checkpoint's state, then the replay.
    for _ in 0..3 {
        h.step().await.unwrap();
    }
    h.crash();
    h.run().await.unwrap();
    assert_eq!(sum(&h, "a"), sum(&expected, "a"));
    assert_eq!(sum(&h, "a"), Some(10), "1 + 2 + 3 + 4, each once");
    assert_eq!(h.counters().restarts, 1);
    let restored = h.trace().iter().find_map(|e| match &e.event {
        Event::Restored {
            checkpoint,
            replayed,
            ..
        } => Some((*checkpoint, *replayed)),
        _ => None,
    });
    assert_eq!(restored, Some((1, 3)));
    // The registry is not in the checkpoint: the handshake happens again.
    assert!(h.counters().handshakes >= 2);
}

#[tokio::test]
async fn a_crash_before_any_checkpoint_starts_over() {
    let mut h = Harness::builder()
        .seed(31)
        .functions(functions())
        .build()
        .unwrap();
    for n in 1..=3 {
        h.send(recorder("b"), &Command::Add(n)).unwrap();
    }
    for _ in 0..4 {
        h.step().await.unwrap();
    }
    h.crash();
    h.run().await.unwrap();
    assert_eq!(sum(&h, "b"), Some(6));
}

const RESULTS: EgressIdentifier = EgressIdentifier::from_static("test/out");
const TOTAL: ValueSpec<i64> = ValueSpec::named("total");

/// Counts invocations in a variable of its own, outside StateFun state, and
/// writes the count to an egress: not idempotent.
struct Leaky {
    invocations: Arc<AtomicU64>,
}

#[async_trait]
impl StatefulFunction for Leaky {
    async fn invoke(&self, ctx: &mut Context, message: Message) -> Result<(), FunctionError> {
        let n = message.decode::<i64>()?;
        let total = ctx.storage().get(&TOTAL)?.unwrap_or(0) + n;
        ctx.storage().set(&TOTAL, &total)?;
        let seen = self.invocations.fetch_add(1, Ordering::SeqCst) + 1;
        ctx.send_egress(&RESULTS, KafkaRecord::new("out", seen.to_string()))?;
        Ok(())
    }
}

/// A harness serving `Leaky` at `test/leaky:x`, with 1, 2 and 3 sent to it.
fn leaky_harness(semantics: EgressSemantics) -> (Harness, Address) {
    let spec = FunctionSpec::builder(TypeName::from_static("test/leaky"))
        .with_state(&TOTAL)
        .build(Leaky {
            invocations: Arc::default(),
        })
        .unwrap();
    let mut h = Harness::builder()
        .seed(32)
        .functions(Functions::new().with(spec).unwrap())
        .kafka_egress(&RESULTS)
        .egress_semantics(semantics)
        .build()
        .unwrap();
    let leaky = Address::new(TypeName::from_static("test/leaky"), "x");
    for n in 1_i64..=3 {
        h.send(leaky.clone(), &n).unwrap();
    }
    (h, leaky)
}

async fn leaky_run(crash_after: Option<u64>) -> (Option<i64>, Vec<String>) {
    let (mut h, leaky) = leaky_harness(EgressSemantics::ExactlyOnce);
    if let Some(k) = crash_after {
        for _ in 0..k {
            h.step().await.unwrap();
        }
        h.crash();
    }
    h.run().await.unwrap();
    h.checkpoint();
    let out = h
        .kafka_records(&RESULTS)
        .unwrap()
        .into_iter()
        .map(|r| String::from_utf8(r.value.to_vec()).unwrap())
        .collect();
    (h.state(&leaky, &TOTAL).unwrap(), out)
}

#[tokio::test]
async fn a_function_with_effects_outside_statefun_is_caught_by_a_crash() {
    let (total, out) = leaky_run(None).await;
    assert_eq!(total, Some(6));
    assert_eq!(out, ["1", "2", "3"]);
    let mut caught = false;
    for k in 1..12 {
        let (crashed_total, crashed_out) = leaky_run(Some(k)).await;
        // StateFun state stays exactly once ...
        assert_eq!(crashed_total, Some(6), "crash after step {k}");
        // ... but the function's own counter saw the replayed invocations.
        if crashed_out != out {
            caught = true;
        }
    }
    assert!(
        caught,
        "replaying after a crash exposes the non-idempotent counter"
    );
}

#[tokio::test]
async fn at_least_once_egress_shows_the_duplicates_exactly_once_hides() {
    let (_, exactly_once) = leaky_run(Some(5)).await;
    assert_eq!(exactly_once.len(), 3, "{exactly_once:?}");
    // The same crash with an at-least-once sink: records written before the
    // crash stay, and the replay writes them again.
    let (mut h, leaky) = leaky_harness(EgressSemantics::AtLeastOnce);
    h.run().await.unwrap();
    h.crash();
    h.run().await.unwrap();
    assert_eq!(
        h.kafka_records(&RESULTS).unwrap().len(),
        6,
        "every record twice"
    );
    assert_eq!(h.state(&leaky, &TOTAL).unwrap(), Some(6));
}

#[tokio::test]
async fn periodic_checkpoints_on_the_virtual_clock() {
    let mut h = Harness::builder()
        .seed(33)
        .functions(functions())
        .checkpoint_interval(std::time::Duration::from_secs(10))
        .build()
        .unwrap();
    h.send(recorder("c"), &Command::Add(1)).unwrap();
    h.advance(std::time::Duration::from_secs(25)).await.unwrap();
    let checkpoints = h
        .trace()
        .iter()
        .filter(|e| matches!(e.event, Event::Checkpoint { .. }))
        .count();
    assert_eq!(checkpoints, 2, "at 10 s and 20 s");
    h.send(recorder("c"), &Command::Add(2)).unwrap();
    h.crash();
    h.run().await.unwrap();
    assert_eq!(sum(&h, "c"), Some(3), "1 from the checkpoint, 2 replayed");
}

#[tokio::test]
async fn review_regressions() {
    use std::time::Duration;

    use crate::fixture::{RecorderState, touched};

    // A zero checkpoint interval is refused (it would never advance).
    let zero = Harness::builder()
        .checkpoint_interval(Duration::ZERO)
        .build();
    assert!(zero.unwrap_err().to_string().contains("longer than zero"));

    // State seeded before any checkpoint survives a crash.
    let mut h = Harness::builder()
        .seed(40)
        .functions(functions())
        .build()
        .unwrap();
    h.set_state(&recorder("s"), &RecorderState::SUM, &100)
        .unwrap();
    h.send(recorder("s"), &Command::Add(1)).unwrap();
    h.run().await.unwrap();
    h.crash();
    h.run().await.unwrap();
    assert_eq!(sum(&h, "s"), Some(101));

    // A value that expired before a crash does not come back after it.
    let mut h = Harness::builder()
        .seed(41)
        .functions(functions())
        .build()
        .unwrap();
    h.send(recorder("t"), &Command::Add(1)).unwrap();
    h.run().await.unwrap();
    h.checkpoint();
    h.advance(Duration::from_secs(11)).await.unwrap();
    assert_eq!(touched(&h, "t").1, None, "expired after write");
    h.crash();
    assert_eq!(touched(&h, "t").1, None, "still expired after the crash");

    // Advancing by the largest duration does not overflow.
    h.advance(Duration::MAX).await.unwrap();
}
