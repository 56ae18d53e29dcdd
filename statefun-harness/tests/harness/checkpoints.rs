//! Checkpoints, crashes and restores (spec §3.10).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use stateful_functions::{
    Address, Context, EgressIdentifier, FunctionError, FunctionSpec, Functions, KafkaRecord,
    Message, StatefulFunction, TypeName, ValueSpec, async_trait,
};
use statefun_harness::{EgressSemantics, Event, Harness};

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
    // Eight steps: c's first request on its partition (blocking it until it
    // completes, `reqreply/RequestReplyFunction.java`) sends to a, whose
    // request is then in flight with one message waiting behind it.
    for _ in 0..8 {
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
    for _ in 0..8 {
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
        .map(|r| String::from_utf8(r.value().to_vec()).unwrap())
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

const LOG: EgressIdentifier = EgressIdentifier::from_static("test/log");

/// Writes each number it gets to two egresses, `RESULTS` and `LOG`.
struct Twice;

#[async_trait]
impl StatefulFunction for Twice {
    async fn invoke(&self, ctx: &mut Context, message: Message) -> Result<(), FunctionError> {
        let n = message.decode::<i64>()?;
        ctx.send_egress(&RESULTS, KafkaRecord::new("out", n.to_string()))?;
        ctx.send_egress(&LOG, KafkaRecord::new("log", n.to_string()))?;
        Ok(())
    }
}

/// module.yaml gives each Kafka egress its own `deliverySemantic`
/// (`GenericKafkaEgressSpec.java`): in one job, an at-least-once egress
/// shows its records at once and again after a crash, while an
/// exactly-once one shows them only when a checkpoint commits them.
#[tokio::test]
async fn each_egress_has_its_own_semantics() {
    let twice_type = TypeName::from_static("test/twice");
    let spec = FunctionSpec::builder(twice_type.clone())
        .build(Twice)
        .unwrap();
    let mut h = Harness::builder()
        .seed(34)
        .functions(Functions::new().with(spec).unwrap())
        .egress_semantics(EgressSemantics::AtLeastOnce)
        .kafka_egress_with(&RESULTS, EgressSemantics::ExactlyOnce)
        .kafka_egress_with(&LOG, EgressSemantics::AtLeastOnce)
        .build()
        .unwrap();
    let twice = Address::new(twice_type, "x");
    for n in 1_i64..=3 {
        h.send(twice.clone(), &n).unwrap();
    }
    h.run().await.unwrap();
    let count = |h: &Harness, id: &EgressIdentifier| h.kafka_records(id).unwrap().len();
    assert_eq!(count(&h, &LOG), 3, "at least once: visible at once");
    assert_eq!(
        count(&h, &RESULTS),
        0,
        "exactly once: not before a checkpoint"
    );
    h.crash();
    h.run().await.unwrap();
    assert_eq!(count(&h, &LOG), 6, "written again by the replay");
    assert_eq!(count(&h, &RESULTS), 0, "the crash discarded them");
    h.checkpoint();
    assert_eq!(count(&h, &RESULTS), 3, "committed once");
    assert_eq!(count(&h, &LOG), 6);
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

/// A run with something of everything in flight at checkpoint 1: state,
/// backlogs, requests in flight, messages on their way, delayed messages
/// with a token, committed egress.
async fn busy_checkpoint() -> (Harness, statefun_harness::Checkpoint) {
    let mut h = Harness::builder()
        .seed(60)
        .partitions(2)
        .functions(functions())
        .kafka_egress(&crate::fixture::RESULTS)
        .egress_semantics(EgressSemantics::ExactlyOnce)
        .build()
        .unwrap();
    h.send(recorder("a"), &Command::Add(5)).unwrap();
    h.send(recorder("b"), &Command::Egress { declared: true })
        .unwrap();
    h.send(
        recorder("b"),
        &Command::Later {
            ms: 5_000,
            token: Some("wake".into()),
            text: "later".into(),
        },
    )
    .unwrap();
    h.run().await.unwrap();
    for n in 1..=3 {
        h.send(recorder("a"), &Command::Add(n)).unwrap();
    }
    h.send(
        recorder("c"),
        &Command::Forward {
            to: "a".into(),
            text: "hi".into(),
        },
    )
    .unwrap();
    for _ in 0..8 {
        h.step().await.unwrap();
    }
    h.checkpoint();
    let checkpoint = h.last_checkpoint().unwrap().clone();
    (h, checkpoint)
}

/// Everything a test would look at, after running to the end.
async fn finish(h: &mut Harness) -> (Option<i64>, String, String, usize, usize) {
    h.run().await.unwrap();
    let before_timer = h.pending_timers();
    h.advance(std::time::Duration::from_secs(10)).await.unwrap();
    h.checkpoint();
    (
        sum(h, "a"),
        crate::fixture::log(h, "a"),
        crate::fixture::log(h, "b"),
        before_timer,
        h.kafka_records(&crate::fixture::RESULTS).unwrap().len(),
    )
}

#[tokio::test]
async fn a_serialized_checkpoint_restores_the_same_run_even_on_other_partitions() {
    let (mut h, checkpoint) = busy_checkpoint().await;
    let bytes = checkpoint.to_bytes();
    let read = statefun_harness::Checkpoint::from_bytes(&bytes).unwrap();
    assert_eq!(read.to_bytes(), bytes, "a stable round trip");
    assert_eq!(read.id(), 1);

    // The original job crashes back to its checkpoint ...
    h.crash();
    let expected = finish(&mut h).await;
    assert_eq!(expected.0, Some(11), "5, then 1 + 2 + 3");
    assert_eq!(expected.1, "hi from test/recorder:c\n");
    assert_eq!(expected.2, "later from test/recorder:b\n");
    assert_eq!(expected.3, 1, "the delayed message survived");
    assert_eq!(expected.4, 1, "the egress record, once");

    // ... and fresh harnesses restore its bytes, with 1, 2 or 5 partitions.
    for partitions in [1, 2, 5] {
        let mut fresh = Harness::builder()
            .seed(61)
            .partitions(partitions)
            .functions(functions())
            .kafka_egress(&crate::fixture::RESULTS)
            .egress_semantics(EgressSemantics::ExactlyOnce)
            .build()
            .unwrap();
        fresh.restore(&read);
        assert_eq!(fresh.egress(&crate::fixture::RESULTS).len(), 1);
        let resent = fresh.trace().iter().find_map(|e| match e.event {
            Event::Restored { resent, .. } => Some(resent),
            _ => None,
        });
        assert_eq!(resent, Some(1), "a's request was in flight");
        assert!(
            fresh.backlog() + fresh.pending_timers() >= 2,
            "{}",
            fresh.trace_text()
        );
        assert_eq!(
            finish(&mut fresh).await,
            expected,
            "{partitions} partitions"
        );
    }
}

/// A checkpoint kept as a fixture: the format stays readable. Regenerate
/// with `STATEFUN_BLESS=1` when the format changes on purpose (and bump
/// its version, keeping the older fixtures: they must still restore).
#[tokio::test]
async fn a_checkpoint_kept_as_a_fixture_still_restores() {
    let fixtures = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/harness/fixtures");
    let path = fixtures.join("checkpoint-v3.bin");
    let (_, checkpoint) = busy_checkpoint().await;
    if std::env::var_os("STATEFUN_BLESS").is_some() {
        std::fs::write(&path, checkpoint.to_bytes()).unwrap();
    }
    let kept = std::fs::read(&path).unwrap();
    assert_eq!(
        checkpoint.to_bytes(),
        kept,
        "the same run gives the same bytes"
    );
    let read = |bytes: &[u8]| statefun_harness::Checkpoint::from_bytes(bytes).unwrap();
    // Format 3 keeps the max parallelism (two partitions: Flink's 128).
    assert_eq!(read(&kept).max_parallelism(), Some(128));
    // Formats 1 (every value with its whole address) and 2 (values per
    // address, without the max parallelism) are still read, and hold the
    // same checkpoint (of the same run before first requests blocked their
    // partition, so of another schedule than format 3's), without a max
    // parallelism.
    let v2 = std::fs::read(fixtures.join("checkpoint-v2.bin")).unwrap();
    let v1 = std::fs::read(fixtures.join("checkpoint-v1.bin")).unwrap();
    assert!(v1.len() > v2.len(), "format 2 is the smaller");
    assert_eq!(read(&v2).max_parallelism(), None);
    assert_eq!(
        read(&v1).to_bytes(),
        read(&v2).to_bytes(),
        "format 1 and 2 read as the same checkpoint"
    );
    for bytes in [kept, v2, v1] {
        let mut h = Harness::builder()
            .functions(functions())
            .kafka_egress(&crate::fixture::RESULTS)
            .egress_semantics(EgressSemantics::ExactlyOnce)
            .build()
            .unwrap();
        h.restore(&statefun_harness::Checkpoint::from_bytes(&bytes).unwrap());
        let (a, _, b, _, egress) = finish(&mut h).await;
        assert_eq!(
            (a, b.as_str(), egress),
            (Some(11), "later from test/recorder:b\n", 1)
        );
    }
}

#[test]
fn bytes_that_are_not_a_checkpoint_are_refused() {
    use statefun_harness::{Checkpoint, CheckpointError};
    assert!(matches!(
        Checkpoint::from_bytes(b"\xff\xff\xff"),
        Err(CheckpointError::Decode(_))
    ));
    // Field 1 (the format) = 4 (format 3 added the max parallelism).
    let error = Checkpoint::from_bytes(b"\x08\x04").unwrap_err();
    assert!(matches!(error, CheckpointError::Format { found: 4 }));
    assert!(error.to_string().contains("format 4"), "{error}");
    // Format 2 with nothing else: an empty checkpoint.
    assert_eq!(Checkpoint::from_bytes(b"\x08\x02").unwrap().id(), 0);
    // Format 2 with values of an address whose type is name 1 of a table
    // of one.
    let bad = b"\x08\x02\x62\x03a/b\x6a\x02\x08\x01";
    let error = Checkpoint::from_bytes(bad).unwrap_err();
    assert!(
        error
            .to_string()
            .contains("name 1 is not in the table of 1 names"),
        "{error}"
    );
    // ... whose type is not a type.
    let bad = b"\x08\x02\x62\x04oops\x6a\x00";
    let error = Checkpoint::from_bytes(bad).unwrap_err();
    assert!(error.to_string().contains("\"oops\""), "{error}");
    // ... twice.
    let bad = b"\x08\x02\x62\x03a/b\x6a\x03\x12\x01x\x6a\x03\x12\x01x";
    let error = Checkpoint::from_bytes(bad).unwrap_err();
    assert!(
        error
            .to_string()
            .contains("the values of a/b:x appear twice"),
        "{error}"
    );
    // ... with one state twice.
    let bad = b"\x08\x02\x62\x03a/b\x6a\x07\x12\x01x\x1a\x00\x1a\x00";
    let error = Checkpoint::from_bytes(bad).unwrap_err();
    assert!(
        error
            .to_string()
            .contains("state \"a/b\" of a/b:x has two values"),
        "{error}"
    );
    // Format 1 with a value whose address names no valid type.
    let bad = b"\x08\x01\x42\x08\x0a\x06\x0a\x04oops";
    let error = Checkpoint::from_bytes(bad).unwrap_err();
    assert!(error.to_string().contains("\"oops\""), "{error}");
}

#[tokio::test]
async fn review_regressions_of_the_fault_and_checkpoint_work() {
    use std::time::Duration;

    use statefun_harness::{Checkpoint, Faults};

    use crate::fixture::touched;

    // Expiration survives a serialized restore: what expired stays expired.
    let mut h = Harness::builder()
        .seed(70)
        .functions(functions())
        .build()
        .unwrap();
    h.send(recorder("t"), &Command::Add(1)).unwrap();
    h.run().await.unwrap();
    h.advance(Duration::from_secs(11)).await.unwrap();
    h.checkpoint();
    let bytes = h.last_checkpoint().unwrap().to_bytes();
    let mut fresh = Harness::builder().functions(functions()).build().unwrap();
    fresh.restore(&Checkpoint::from_bytes(&bytes).unwrap());
    assert_eq!(touched(&fresh, "t").1, None, "expired after write");
    assert_eq!(fresh.outcome(), h.outcome());

    // Two requests in flight for one address is not a checkpoint.
    let address = b"\x0a\x08\x0a\x03a/b\x12\x01x";
    let mut twice = b"\x08\x01".to_vec();
    for _ in 0..2 {
        twice.extend_from_slice(&[0x3a, 0x0a]);
        twice.extend_from_slice(address);
    }
    let error = Checkpoint::from_bytes(&twice).unwrap_err();
    assert!(
        error
            .to_string()
            .contains("two requests in flight for a/b:x"),
        "{error}"
    );

    // Retries at the end of time do not overflow the clock.
    let mut h = Harness::builder()
        .functions(functions())
        .faults(Faults::none().refused(1000))
        .max_steps(1_000)
        .build()
        .unwrap();
    h.advance(Duration::MAX).await.unwrap();
    h.send(recorder("m"), &Command::Add(1)).unwrap();
    assert!(h.run().await.is_err(), "the budget cannot pass: a livelock");
}

/// State spread over many addresses (so over many of the store's shared
/// chunks): writes after a checkpoint, to old addresses and new ones,
/// change neither the checkpoint nor its bytes, and a harness restored
/// from it (directly or from its bytes) starts from exactly its state,
/// whatever that harness and the source write next.
#[tokio::test]
async fn writes_after_a_checkpoint_of_many_addresses_leave_it_as_it_was() {
    const ADDRESSES: i64 = 1_500;
    let harness = || {
        Harness::builder()
            .seed(62)
            .functions(functions())
            .build()
            .unwrap()
    };
    let mut h = harness();
    for i in 0..ADDRESSES {
        h.send(recorder(&format!("m{i}")), &Command::Add(i))
            .unwrap();
    }
    h.run().await.unwrap();
    h.checkpoint();
    let checkpoint = h.last_checkpoint().unwrap().clone();
    let bytes = checkpoint.to_bytes();
    let at_checkpoint = h.outcome();

    let later = [0, 1, 700, 1_499, 2_000, 2_001];
    for i in later {
        h.send(recorder(&format!("m{i}")), &Command::Add(1_000_000))
            .unwrap();
    }
    h.run().await.unwrap();
    assert_eq!(sum(&h, "m700"), Some(1_000_700));
    assert_eq!(sum(&h, "m2000"), Some(1_000_000));
    assert_eq!(
        checkpoint.to_bytes(),
        bytes,
        "the checkpoint did not change"
    );

    let read = statefun_harness::Checkpoint::from_bytes(&bytes).unwrap();
    for from in [&checkpoint, &read] {
        let mut restored = harness();
        restored.restore(from);
        assert_eq!(restored.outcome(), at_checkpoint);
        assert_eq!(restored.addresses_with_state().count(), 1_500);
        for i in later {
            restored
                .send(recorder(&format!("m{i}")), &Command::Add(1))
                .unwrap();
        }
        restored.run().await.unwrap();
        assert_eq!(sum(&restored, "m700"), Some(701));
        assert_eq!(sum(&restored, "m2001"), Some(1));
        assert_eq!(sum(&restored, "m701"), Some(701));
    }
    assert_eq!(checkpoint.to_bytes(), bytes);
    assert_eq!(read.to_bytes(), bytes);
    assert_eq!(
        sum(&h, "m700"),
        Some(1_000_700),
        "the source kept its writes"
    );
}
