//! Property testing over generated schedules: exactly once, batch shapes,
//! determinism, shrinking and reproduction.

// The point of one test: a handler that iterates a HashMap.
#[allow(clippy::disallowed_types)]
use std::collections::HashMap;
use std::error::Error;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use prost::Message as _;
use stateful_functions::{
    Address, Context, EgressIdentifier, FunctionError, FunctionSpec, Functions, KafkaRecord,
    Message, StatefulFunction, TypeName, ValueSpec, async_trait,
};
use statefun_harness::{Batching, Endpoint, Explorer, Harness, HarnessBuilder, Schedule};
use statefun_protocol::reqreply::from_function::{
    self, IncompleteInvocationContext, InvocationResponse, PersistedValueMutation,
    PersistedValueSpec, persisted_value_mutation::MutationType,
};
use statefun_protocol::reqreply::{FromFunction, ToFunction, TypedValue, to_function};

use crate::fixture::{Command, RESULTS, functions, recorder};

type Result<T = (), E = Box<dyn Error>> = std::result::Result<T, E>;

fn recorders() -> HarnessBuilder {
    Harness::builder()
        .partitions(3)
        .functions(functions())
        .kafka_egress(&RESULTS)
}

/// Sums on three addresses, a forward, an egress record per address.
async fn recorder_workload(h: &mut Harness) -> Result {
    for (n, id) in (1..).zip(["a", "b", "c", "a", "b", "a"]) {
        h.send(recorder(id), &Command::Add(n))?;
    }
    h.send(
        recorder("c"),
        &Command::Forward {
            to: "a".into(),
            text: "hello".into(),
        },
    )?;
    for id in ["a", "b", "c"] {
        h.send(recorder(id), &Command::Egress { declared: true })?;
    }
    h.run().await?;
    Ok(())
}

#[tokio::test]
async fn the_recorder_is_exactly_once_over_generated_schedules() {
    let report = Explorer::new(recorders, async |h: &mut Harness| {
        recorder_workload(h).await
    })
    .cases(300)
    .check_exactly_once()
    .await
    .unwrap();
    assert_eq!(report.schedules, 300);
    assert!(report.restarts > 100, "{report:?}");
    assert!(report.failed_attempts > 100, "{report:?}");
    // Crashes and checkpoints explored are counted, and shown.
    assert!(report.crashes > 50, "{report:?}");
    assert!(report.crashes <= report.restarts, "{report:?}");
    assert!(report.checkpoints > 50, "{report:?}");
    let text = report.to_string();
    assert!(
        text.starts_with(&format!(
            "300 schedules: {} crashes, {} checkpoints, {} restarts",
            report.crashes, report.checkpoints, report.restarts
        )),
        "{text}"
    );
}

#[tokio::test]
async fn timeouts_fail_the_job_which_restarts_and_stays_exactly_once() {
    // The recorder's expiring state would expire in the minutes timeouts
    // take; compare what does not expire.
    let report = Explorer::new(recorders, async |h: &mut Harness| {
        recorder_workload(h).await
    })
    .cases(100)
    .with_timeouts()
    .max_fault_rate(250)
    .observe(|h| {
        let sums: Vec<_> = ["a", "b", "c"].map(|id| crate::fixture::sum(h, id)).into();
        let egress = h.kafka_records(&RESULTS).unwrap().len();
        format!(
            "sums {sums:?}, log {:?}, {egress} records",
            crate::fixture::log(h, "a")
        )
    })
    .check_exactly_once()
    .await
    .unwrap();
    assert!(report.restarts > 20, "{report:?}");
}

const TOTAL: ValueSpec<i64> = ValueSpec::named("total");
const OUT: EgressIdentifier = EgressIdentifier::from_static("test/out");
const LEAKY: TypeName = TypeName::from_static("test/leaky");

/// Numbers its egress records with a counter of its own, outside StateFun
/// state: a replay or retry numbers them again.
struct Leaky {
    seen: Arc<AtomicU64>,
}

#[async_trait]
impl StatefulFunction for Leaky {
    async fn invoke(&self, ctx: &mut Context, message: Message) -> Result<(), FunctionError> {
        let total = ctx.storage().get(&TOTAL)?.unwrap_or(0) + message.decode::<i64>()?;
        ctx.storage().set(&TOTAL, &total)?;
        let seen = self.seen.fetch_add(1, Ordering::SeqCst) + 1;
        ctx.send_egress(&OUT, KafkaRecord::new("out", seen.to_string()))?;
        Ok(())
    }
}

fn leaky() -> HarnessBuilder {
    let spec = FunctionSpec::builder(LEAKY)
        .with_state(&TOTAL)
        .build(Leaky {
            seen: Arc::default(),
        })
        .unwrap();
    Harness::builder()
        .functions(Functions::new().with(spec).unwrap())
        .kafka_egress(&OUT)
}

async fn leaky_workload(h: &mut Harness) -> Result {
    for n in 1..=4_i64 {
        h.send(Address::new(LEAKY, "x"), &n)?;
    }
    h.run().await?;
    Ok(())
}

#[tokio::test]
async fn a_non_idempotent_function_is_caught_shrunk_and_reproducible() {
    let explorer = Explorer::new(leaky, async |h: &mut Harness| leaky_workload(h).await).cases(200);
    let violation = explorer.check_exactly_once().await.unwrap_err();
    let text = violation.to_string();
    assert!(
        text.starts_with("exactly once violated: egress test/out"),
        "{text}"
    );
    assert!(
        text.contains("reproduce: STATEFUN_HARNESS_SCHEDULE='seed="),
        "{text}"
    );
    assert!(text.contains("trace: "), "{text}");
    // Shrunk to one cause: a single crash, or a single kind of fault.
    let schedule = violation.schedule().clone();
    let causes = schedule.crashes.len()
        + schedule
            .faults
            .to_string()
            .split(',')
            .filter(|f| !f.ends_with(":0"))
            .count();
    assert_eq!(causes, 1, "{text}");
    assert_eq!(schedule.batching, Batching::Natural, "{text}");
    // The printed schedule replays to the same violation.
    let line = schedule.to_string();
    let again = explorer
        .replay(line.parse().unwrap())
        .check_exactly_once()
        .await
        .unwrap_err();
    assert_eq!(again.what(), violation.what());
    assert_eq!(again.schedule(), &schedule);
}

/// A function written against the protocol by hand, with a bug: it adds 1
/// per batch instead of per invocation.
fn batch_counter(request: Bytes) -> Result<Bytes, String> {
    let request = ToFunction::decode(request).map_err(|e| e.to_string())?;
    let Some(to_function::Request::Invocation(batch)) = request.request else {
        return Err("no invocation".into());
    };
    let Some(state) = batch.state.iter().find(|s| s.state_name == "count") else {
        let missing = PersistedValueSpec {
            state_name: "count".into(),
            type_typename: "io.statefun.types/long".into(),
            ..PersistedValueSpec::default()
        };
        let response =
            from_function::Response::IncompleteInvocationContext(IncompleteInvocationContext {
                missing_values: vec![missing],
            });
        return Ok(FromFunction {
            response: Some(response),
        }
        .encode_to_vec()
        .into());
    };
    let count = state
        .state_value
        .as_ref()
        .map_or(Ok(0), |v| i64::from_bytes_value(&v.value))?;
    let mutation = PersistedValueMutation {
        mutation_type: MutationType::Modify.into(),
        state_name: "count".into(),
        state_value: Some(TypedValue {
            typename: "io.statefun.types/long".into(),
            has_value: true,
            value: (count + 1).to_value_bytes(),
        }),
    };
    let result = InvocationResponse {
        state_mutations: vec![mutation],
        ..InvocationResponse::default()
    };
    Ok(FromFunction {
        response: Some(from_function::Response::InvocationResult(result)),
    }
    .encode_to_vec()
    .into())
}

/// `i64` as the SDKs' `io.statefun.types/long` bytes, both ways.
trait LongBytes: Sized {
    fn from_bytes_value(bytes: &[u8]) -> Result<Self, String>;
    fn to_value_bytes(self) -> Bytes;
}

impl LongBytes for i64 {
    fn from_bytes_value(bytes: &[u8]) -> Result<Self, String> {
        <i64 as stateful_functions::Value>::from_bytes(&Bytes::copy_from_slice(bytes))
            .map_err(|e| e.to_string())
    }
    fn to_value_bytes(self) -> Bytes {
        stateful_functions::Value::to_bytes(&self).unwrap()
    }
}

#[tokio::test]
async fn a_function_whose_result_depends_on_batch_shape_is_reported() {
    let explorer = Explorer::new(
        || Harness::builder().endpoint("test/batches", Endpoint::raw(batch_counter)),
        async |h: &mut Harness| {
            for _ in 0..6 {
                h.send(
                    Address::new(TypeName::from_static("test/batches"), "x"),
                    &1_i64,
                )?;
            }
            h.run().await?;
            Ok::<_, Box<dyn Error>>(())
        },
    )
    .seeds(4);
    let violation = explorer.check_batch_shapes().await.unwrap_err();
    let text = violation.to_string();
    assert!(
        text.contains("the outcome depends on the batch shape"),
        "{text}"
    );
    assert!(text.contains("test/batches:x \"count\""), "{text}");
}

/// Sends one message per name, in the order a `HashMap` iterates them.
struct Fanout;

#[async_trait]
impl StatefulFunction for Fanout {
    async fn invoke(&self, ctx: &mut Context, message: Message) -> Result<(), FunctionError> {
        let names = message.decode::<String>()?;
        #[allow(clippy::disallowed_types)]
        let targets: HashMap<&str, usize> = names.split(',').map(|n| (n, n.len())).collect();
        for name in targets.keys() {
            ctx.send(recorder(name), &Command::Log("hi".into()))?;
        }
        Ok(())
    }
}

#[tokio::test]
async fn a_handler_that_iterates_a_hash_map_is_caught_by_running_twice() {
    let fanout = TypeName::from_static("test/fanout");
    let explorer = Explorer::new(
        move || {
            let spec = FunctionSpec::builder(fanout.clone()).build(Fanout).unwrap();
            Harness::builder()
                .functions(functions().with(spec).unwrap())
                .partitions(2)
        },
        async |h: &mut Harness| {
            let names = "ann,bob,cid,dan,eve,fay,gus,hal,ida,jon";
            h.send(
                Address::new(TypeName::from_static("test/fanout"), "f"),
                &names.to_owned(),
            )?;
            h.run().await?;
            Ok::<_, Box<dyn Error>>(())
        },
    )
    .cases(20);
    let violation = explorer.check_deterministic().await.unwrap_err();
    assert!(
        violation.what().contains("they part at event"),
        "{violation}"
    );
    // The recorder's own workload is deterministic.
    Explorer::new(recorders, async |h: &mut Harness| {
        recorder_workload(h).await
    })
    .cases(20)
    .check_deterministic()
    .await
    .unwrap();
}

#[test]
fn schedules_parse_their_one_line_form() {
    let line = "seed=3 batching=random-cuts faults=refused:5,error:0,lost:7,timeout:1 checkpoints=- crashes=4,8";
    let schedule: Schedule = line.parse().unwrap();
    assert_eq!(schedule.to_string(), line);
    assert_eq!(schedule.crashes, [4, 8]);
    assert!("seed=x".parse::<Schedule>().unwrap_err().contains("\"x\""));
    assert!("batching=odd".parse::<Schedule>().is_err());
}

/// Stamps its state with the wall clock.
struct Stamper;

const STAMP: ValueSpec<i64> = ValueSpec::named("stamp");

#[async_trait]
impl StatefulFunction for Stamper {
    async fn invoke(&self, ctx: &mut Context, _message: Message) -> Result<(), FunctionError> {
        // The point of the test: a handler that reads the wall clock.
        #[allow(clippy::disallowed_methods)]
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_err(FunctionError::msg)?;
        ctx.storage()
            .set(&STAMP, &i64::try_from(now.as_nanos()).unwrap_or(i64::MAX))?;
        Ok(())
    }
}

#[tokio::test]
async fn a_handler_that_reads_the_wall_clock_is_caught_by_running_twice() {
    let stamper = TypeName::from_static("test/stamper");
    let explorer = Explorer::new(
        move || {
            let spec = FunctionSpec::builder(stamper.clone())
                .with_state(&STAMP)
                .build(Stamper)
                .unwrap();
            Harness::builder().functions(Functions::new().with(spec).unwrap())
        },
        async |h: &mut Harness| {
            h.send(
                Address::new(TypeName::from_static("test/stamper"), "s"),
                &1_i64,
            )?;
            h.run().await?;
            Ok::<_, Box<dyn Error>>(())
        },
    )
    .cases(2);
    let violation = explorer.check_deterministic().await.unwrap_err();
    assert!(
        violation
            .what()
            .starts_with("the same schedule gave two outcomes: state test/stamper:s \"stamp\""),
        "{violation}"
    );
}
