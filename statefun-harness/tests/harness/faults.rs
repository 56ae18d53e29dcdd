//! Transport faults, the runtime's retries on the virtual clock, restarts
//! after a failed job (spec §2.3, §3.10), and batch shapes.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use bytes::Bytes;
use prost::Message as _;
use stateful_functions::{
    Address, Context, FunctionError, FunctionSpec, Functions, Message, StatefulFunction, TypeName,
    ValueSpec, async_trait,
};
use statefun_harness::{Batching, Cause, Endpoint, Event, Faults, Harness};
use statefun_protocol::reqreply::FromFunction;

use crate::fixture::{Command, functions, recorder, sum};

pub(crate) const TOTAL: ValueSpec<i64> = ValueSpec::named("total");
pub(crate) const FLAKY: TypeName = TypeName::from_static("test/flaky");

/// Adds its input to `total`, after failing its first `fail_first` calls;
/// counts every call it gets.
struct Flaky {
    fail_first: u32,
    calls: Arc<AtomicU32>,
}

#[async_trait]
impl StatefulFunction for Flaky {
    async fn invoke(&self, ctx: &mut Context, message: Message) -> Result<(), FunctionError> {
        let call = self.calls.fetch_add(1, Ordering::SeqCst);
        if call < self.fail_first {
            return Err(FunctionError::msg(format!("failing call {call}")));
        }
        let total = ctx.storage().get(&TOTAL)?.unwrap_or(0) + message.decode::<i64>()?;
        ctx.storage().set(&TOTAL, &total)?;
        Ok(())
    }
}

pub(crate) fn flaky(fail_first: u32) -> (Functions, Arc<AtomicU32>) {
    let calls = Arc::new(AtomicU32::new(0));
    let spec = FunctionSpec::builder(FLAKY)
        .with_state(&TOTAL)
        .build(Flaky {
            fail_first,
            calls: Arc::clone(&calls),
        })
        .unwrap();
    (Functions::new().with(spec).unwrap(), calls)
}

fn events(h: &Harness, pick: impl Fn(&Event) -> bool) -> usize {
    h.trace().iter().filter(|e| pick(&e.event)).count()
}

#[tokio::test]
async fn refused_and_failed_calls_are_retried_with_backoff_on_the_virtual_clock() {
    let mut h = Harness::builder()
        .seed(50)
        .partitions(2)
        .functions(functions())
        .faults(Faults::none().refused(300).server_error(100))
        .build()
        .unwrap();
    for (id, n) in [("a", 1), ("b", 2), ("a", 3), ("c", 4), ("b", 5)] {
        h.send(recorder(id), &Command::Add(n)).unwrap();
    }
    h.run().await.unwrap();
    assert_eq!(
        (sum(&h, "a"), sum(&h, "b"), sum(&h, "c")),
        (Some(4), Some(7), Some(4))
    );
    let failed = h.counters().failed_attempts;
    assert!(failed > 0, "40% of attempts fail");
    assert_eq!(
        events(&h, |e| matches!(e, Event::AttemptFailed { .. })) as u64,
        failed
    );
    // Waiting out the backoffs moved the virtual clock, by milliseconds.
    assert!(h.now() > Duration::ZERO);
    assert!(h.now() < Duration::from_secs(1), "{:?}", h.now());
    let first = h.trace().iter().find_map(|e| match &e.event {
        Event::AttemptFailed {
            attempt: 1,
            retry_in,
            reason,
            ..
        } => Some((*retry_in, reason.clone())),
        _ => None,
    });
    let (retry_in, reason) = first.unwrap();
    // nettyclient/NettyRequest.java: the attempt counter is incremented
    // before the backoff 2ms*2^attempts is computed, so the first wait is
    // 4 ms (the runtime logs "Retry #1 ... About to sleep for 4").
    assert_eq!(
        retry_in,
        Some(Duration::from_millis(4)),
        "the first backoff"
    );
    assert!(reason.contains("injected fault"), "{reason}");
}

#[tokio::test]
async fn the_same_seed_gives_the_same_faults() {
    let mut traces = Vec::new();
    for _ in 0..2 {
        let mut h = Harness::builder()
            .seed(51)
            .functions(functions())
            .faults(Faults::none().refused(200).lost_response(200))
            .build()
            .unwrap();
        for n in 1..=6 {
            h.send(recorder("d"), &Command::Add(n)).unwrap();
        }
        h.run().await.unwrap();
        assert_eq!(sum(&h, "d"), Some(21));
        traces.push(h.trace_json_lines());
    }
    assert_eq!(traces[0], traces[1]);
}

#[tokio::test]
async fn a_lost_response_runs_the_function_again_but_state_changes_once() {
    let (functions, calls) = flaky(0);
    let mut h = Harness::builder()
        .seed(52)
        .functions(functions)
        .faults(Faults::none().lost_response(500))
        .build()
        .unwrap();
    let x = Address::new(FLAKY, "x");
    // One request per message.
    for n in 1..=10_i64 {
        h.send(x.clone(), &n).unwrap();
        h.run().await.unwrap();
    }
    assert_eq!(h.state(&x, &TOTAL).unwrap(), Some(55));
    let invocations = h.counters().invocations;
    let called = u64::from(calls.load(Ordering::SeqCst));
    assert!(
        called > invocations - h.counters().handshakes,
        "retries re-ran the function: {called} calls\n{}",
        h.trace_text()
    );
}

#[tokio::test]
async fn a_function_that_keeps_failing_fails_the_job_when_the_budget_is_spent() {
    let (functions, calls) = flaky(u32::MAX);
    let mut h = Harness::builder()
        .seed(53)
        .functions(functions)
        .build()
        .unwrap();
    let x = Address::new(FLAKY, "x");
    h.send(x.clone(), &1_i64).unwrap();
    let failure = h.run().await.unwrap_err();
    assert!(matches!(failure.cause(), Cause::FunctionFailed(_)));
    assert_eq!(failure.address(), Some(&x));
    // nettyclient/NettyRequest.java: waits of 4, 8, 16… ms (the attempt
    // counter is incremented before 2ms*2^attempts is computed), the last
    // one capped at the deadline, after which the request fails without
    // another attempt. Observed with the default 2 minutes: 15 attempts.
    let attempts = failure.attempts().unwrap();
    assert_eq!(attempts, 15, "{failure}");
    assert!(
        failure.to_string().contains("call budget is spent"),
        "{failure}"
    );
    assert_eq!(h.now(), Duration::from_secs(120));
    // One handshake attempt, then every retry ran the function.
    assert!(calls.load(Ordering::SeqCst) >= attempts);
}

#[tokio::test]
async fn the_default_transport_backs_off_4_8_16_ms_and_fails_at_the_deadline() {
    // nettyclient/NettyRequest.java: the attempt counter is incremented
    // before the backoff 2ms*2^attempts is computed, so the waits are 4, 8,
    // 16, 32… ms, capped by what is left of the call budget; when a backoff
    // ends at the deadline (1 ms or less left) the request fails
    // (RequestTimeoutException) without another attempt. Observed with an
    // always-500 endpoint and `call: 100ms`: 5 attempts, then the failure at
    // the deadline.
    let (functions, calls) = flaky(u32::MAX);
    let mut h = Harness::builder()
        .functions(functions)
        .call_timeout(Duration::from_millis(100))
        .build()
        .unwrap();
    let x = Address::new(FLAKY, "x");
    h.send(x, &1_i64).unwrap();
    let failure = h.run().await.unwrap_err();
    let attempts: Vec<(u128, u32, Option<u128>)> = h
        .trace()
        .iter()
        .filter_map(|e| match &e.event {
            Event::AttemptFailed {
                attempt, retry_in, ..
            } => Some((e.at.as_millis(), *attempt, retry_in.map(|d| d.as_millis()))),
            _ => None,
        })
        .collect();
    assert_eq!(
        attempts,
        [
            (0, 1, Some(4)),
            (4, 2, Some(8)),
            (12, 3, Some(16)),
            (28, 4, Some(32)),
            (60, 5, None),
        ]
    );
    assert_eq!(failure.attempts(), Some(5));
    assert!(matches!(failure.cause(), Cause::FunctionFailed(_)));
    // The job fails when the last (capped) backoff ends, at the deadline.
    assert_eq!(h.now(), Duration::from_millis(100));
    // After the handshake (which does not run the function), each attempt
    // ran it.
    assert_eq!(calls.load(Ordering::SeqCst), 5);
}

#[tokio::test]
async fn a_failed_job_restarts_from_its_checkpoint_when_restarts_are_allowed() {
    // Fails long enough to spend one budget, then recovers.
    let (functions, _) = flaky(20);
    let mut h = Harness::builder()
        .seed(54)
        .functions(functions)
        .restart_on_failure(3)
        .build()
        .unwrap();
    let x = Address::new(FLAKY, "x");
    h.send(x.clone(), &1_i64).unwrap();
    h.run().await.unwrap();
    h.checkpoint();
    h.send(x.clone(), &2_i64).unwrap();
    h.run().await.unwrap();
    assert_eq!(h.state(&x, &TOTAL).unwrap(), Some(3));
    assert_eq!(h.counters().restarts, 1);
    assert_eq!(events(&h, |e| matches!(e, Event::JobFailed { .. })), 1);

    // A timeout takes the whole budget: every one fails the job, and the
    // restarts run out.
    let (functions, _) = flaky(0);
    let mut h = Harness::builder()
        .seed(55)
        .functions(functions)
        .faults(Faults::none().timeout(1000))
        .restart_on_failure(2)
        .build()
        .unwrap();
    h.send(x, &1_i64).unwrap();
    let failure = h.run().await.unwrap_err();
    assert_eq!(failure.attempts(), Some(1));
    assert!(matches!(failure.cause(), Cause::Transport { .. }));
    assert_eq!(h.counters().restarts, 2);
    // Three budgets of 2 minutes, and two restart delays of 1 s.
    assert_eq!(h.now(), Duration::from_secs(362));
}

#[tokio::test]
async fn planned_crashes_and_checkpoints_happen_before_their_steps() {
    let mut h = Harness::builder()
        .seed(56)
        .functions(functions())
        .checkpoint_before_steps([3])
        .crash_before_steps([5, 9])
        .build()
        .unwrap();
    for n in 1..=4 {
        h.send(recorder("e"), &Command::Add(n)).unwrap();
    }
    h.run().await.unwrap();
    assert_eq!(sum(&h, "e"), Some(10));
    assert_eq!(h.counters().restarts, 2);
    let kinds: Vec<&str> = h
        .trace()
        .iter()
        .filter_map(|e| match e.event {
            Event::Checkpoint { .. } => Some("checkpoint"),
            Event::Restored { .. } => Some("restored"),
            _ => None,
        })
        .collect();
    assert_eq!(kinds, ["checkpoint", "restored", "restored"]);
}

#[tokio::test]
async fn batch_shapes() {
    async fn batches(batching: Batching) -> (Vec<usize>, Option<i64>) {
        let mut h = Harness::builder()
            .seed(57)
            .functions(functions())
            .batching(batching)
            .build()
            .unwrap();
        for n in 1..=12 {
            h.send(recorder("f"), &Command::Add(n)).unwrap();
        }
        h.run().await.unwrap();
        let sizes = h
            .trace()
            .iter()
            .filter_map(|e| match e.event {
                Event::RequestSent { batch_size, .. } => Some(batch_size),
                _ => None,
            })
            .collect();
        (sizes, sum(&h, "f"))
    }
    let (singleton, total) = batches(Batching::Singleton).await;
    assert_eq!(total, Some(78));
    assert!(singleton.iter().all(|n| *n == 1), "{singleton:?}");
    // Maximal: every message is waiting before the first answer is applied.
    let (maximal, total) = batches(Batching::Maximal).await;
    assert_eq!(total, Some(78));
    assert_eq!(maximal, [1, 1, 11], "first, handshake retry, the rest");
    let (cuts, total) = batches(Batching::RandomCuts).await;
    assert_eq!(total, Some(78));
    assert!(
        cuts.len() > maximal.len() && cuts.len() < singleton.len(),
        "{cuts:?}"
    );
}

#[test]
fn fault_rates_above_one_in_one_are_refused() {
    let error = Harness::builder()
        .faults(Faults::none().refused(600).timeout(1001))
        .build()
        .unwrap_err();
    assert!(error.to_string().contains("1001 per mille"), "{error}");
}

#[tokio::test]
async fn a_malformed_answer_is_retried_then_fails_the_job_in_prosts_words() {
    // An invocation result whose state mutation is named "\xff".
    const ANSWER: &[u8] = b"\xa2\x06\x05\x0a\x03\x12\x01\xff";
    let mut h = Harness::builder()
        .endpoint(
            "test/broken",
            Endpoint::raw(|_| Ok(Bytes::from_static(ANSWER))),
        )
        .call_timeout(Duration::from_millis(100))
        .build()
        .unwrap();
    h.send(
        Address::new(TypeName::from_static("test/broken"), "x"),
        &1_i64,
    )
    .unwrap();
    let failure = h.run().await.unwrap_err();
    assert!(failure.attempts().unwrap() > 1, "retried: {failure}");
    let reason = FromFunction::decode(ANSWER).unwrap_err().to_string();
    assert_eq!(failure.cause(), &Cause::MalformedResponse(reason));
}
