//! Where the harness does what StateFun 3.3.0's runtime does (issue 20):
//! each test cites the runtime source that decides the behaviour.

use bytes::Bytes;
use prost::Message as _;
use stateful_functions::{
    Address, EgressIdentifier, IntoTypedBytes, KAFKA_RECORD_TYPE, KINESIS_RECORD_TYPE, KafkaRecord,
    TypeName,
};
use statefun_harness::{Cause, Endpoint, Event, Harness, JobFailure};
use statefun_protocol::reqreply::from_function::{
    self, ExpirationSpec, PersistedValueMutation, PersistedValueSpec, expiration_spec,
    persisted_value_mutation,
};
use statefun_protocol::reqreply::{FromFunction, ToFunction, TypedValue, to_function};

/// The address the raw endpoints serve.
fn raw(id: &str) -> Address {
    Address::new(TypeName::from_static("raw/fn"), id)
}

/// A raw endpoint that asks for `specs` while a request carries fewer
/// states, then answers every batch with `result`.
fn scripted(specs: Vec<PersistedValueSpec>, result: from_function::InvocationResponse) -> Endpoint {
    Endpoint::raw(move |body: Bytes| {
        let to_function::Request::Invocation(batch) = ToFunction::decode(body)
            .map_err(|e| e.to_string())?
            .request
            .ok_or("no request")?;
        let response = if batch.state.len() < specs.len() {
            from_function::Response::IncompleteInvocationContext(
                from_function::IncompleteInvocationContext {
                    missing_values: specs.clone(),
                },
            )
        } else {
            from_function::Response::InvocationResult(result.clone())
        };
        Ok(Bytes::from(
            FromFunction {
                response: Some(response),
            }
            .encode_to_vec(),
        ))
    })
}

fn spec(
    name: &str,
    type_name: &str,
    expiration: Option<(expiration_spec::ExpireMode, i64)>,
) -> PersistedValueSpec {
    PersistedValueSpec {
        state_name: name.into(),
        type_typename: type_name.into(),
        expiration_spec: expiration.map(|(mode, millis)| ExpirationSpec {
            mode: mode.into(),
            expire_after_millis: millis,
        }),
    }
}

fn modify(name: &str, type_name: &str, value: &'static [u8]) -> from_function::InvocationResponse {
    from_function::InvocationResponse {
        state_mutations: vec![PersistedValueMutation {
            mutation_type: persisted_value_mutation::MutationType::Modify.into(),
            state_name: name.into(),
            state_value: Some(TypedValue {
                typename: type_name.into(),
                has_value: true,
                value: Bytes::from_static(value),
            }),
        }],
        ..Default::default()
    }
}

/// Runs one message to `raw/fn:1` served by `endpoint`.
async fn run_one(endpoint: Endpoint) -> (Harness, Result<(), JobFailure>) {
    let mut h = Harness::builder()
        .seed(20)
        .endpoint("raw/*", endpoint)
        .build()
        .unwrap();
    h.send(raw("1"), &1_i32).unwrap();
    let outcome = h.run().await.map(drop);
    (h, outcome)
}

/// `reqreply/PersistedRemoteFunctionValues.java` reads a spec's typename
/// with `TypeName.parseFrom` (`sdkStateType`), which fails the job for a
/// typename without a `/`: "Invalid type name string: int. Must be of
/// format <namespace>/<name>." (observed: the task fails). The harness
/// used to register it.
#[tokio::test]
async fn a_state_typename_without_a_namespace_fails_the_job() {
    let endpoint = scripted(vec![spec("x", "int", None)], Default::default());
    let (_, outcome) = run_one(endpoint).await;
    let failure = outcome.unwrap_err();
    assert_eq!(
        failure.cause(),
        &Cause::InvalidTypeName {
            state: "x".into(),
            type_name: "int".into()
        }
    );
    assert!(
        failure
            .to_string()
            .ends_with("Invalid type name string: int. Must be of format <namespace>/<name>."),
        "{failure}"
    );
}

/// A new state's expiration becomes a Flink `StateTtlConfig`
/// (`state/ExpirationUtil.java`, from `reqreply/PersistedRemoteFunctionValues.java`'s
/// `registerValueState`), which refuses a TTL of zero or less, after write
/// and after invoke alike: "TTL is expected to be positive." (observed:
/// the task fails). Mode NONE never builds one, whatever its milliseconds.
/// The harness used to register them (as never expiring).
#[tokio::test]
async fn an_expiration_of_zero_or_less_fails_the_job() {
    use expiration_spec::ExpireMode;
    for (mode, millis) in [
        (ExpireMode::AfterWrite, 0),
        (ExpireMode::AfterInvoke, 0),
        (ExpireMode::AfterWrite, -5),
        (ExpireMode::AfterInvoke, -1),
    ] {
        let endpoint = scripted(
            vec![spec("x", "io.statefun.types/int", Some((mode, millis)))],
            Default::default(),
        );
        let (_, outcome) = run_one(endpoint).await;
        let failure = outcome.unwrap_err();
        assert_eq!(
            failure.cause(),
            &Cause::NonPositiveTtl {
                state: "x".into(),
                millis
            },
            "{mode:?} {millis}"
        );
        assert!(
            failure
                .to_string()
                .ends_with("TTL is expected to be positive."),
            "{failure}"
        );
    }
    let endpoint = scripted(
        vec![spec(
            "x",
            "io.statefun.types/int",
            Some((ExpireMode::None, 0)),
        )],
        Default::default(),
    );
    run_one(endpoint).await.1.unwrap();
}

/// `reqreply/PersistedRemoteFunctionValues.java` registers a spec without
/// a typename as `io.statefun.types/unset`, and checks a MODIFY's typename
/// read the same way (`validateType(handle, stateValue.getTypename())`
/// through `sdkStateType`): a MODIFY without a typename is accepted
/// exactly when the state is registered as `unset` (without a typename, or
/// with `io.statefun.types/unset` itself), and refused for any other type.
/// The harness used to refuse it. A MODIFY's typename that does not parse
/// fails as a spec's does.
#[tokio::test]
async fn a_modify_without_a_typename_writes_an_unset_state() {
    for registered in ["", "io.statefun.types/unset"] {
        let endpoint = scripted(vec![spec("x", registered, None)], modify("x", "", b"\x07"));
        let (h, outcome) = run_one(endpoint).await;
        outcome.unwrap();
        assert_eq!(
            h.state_raw(&raw("1"), "x"),
            Some((
                "io.statefun.types/unset".to_owned(),
                Bytes::from_static(b"\x07")
            )),
            "registered as {registered:?}"
        );
    }

    let endpoint = scripted(
        vec![spec("x", "io.statefun.types/int", None)],
        modify("x", "", b"\x07"),
    );
    let failure = run_one(endpoint).await.1.unwrap_err();
    assert!(
        matches!(failure.cause(), Cause::ModifyTypeMismatch { .. }),
        "{failure}"
    );

    let endpoint = scripted(vec![spec("x", "", None)], modify("x", "int", b"\x07"));
    let failure = run_one(endpoint).await.1.unwrap_err();
    assert_eq!(
        failure.cause(),
        &Cause::InvalidTypeName {
            state: "x".into(),
            type_name: "int".into()
        }
    );
}

/// An answer with one record for egress `ns/name`.
fn egress_answer(egress: &str, type_name: &str, value: Bytes) -> from_function::InvocationResponse {
    let (namespace, name) = egress.split_once('/').unwrap();
    from_function::InvocationResponse {
        outgoing_egresses: vec![from_function::EgressMessage {
            egress_namespace: namespace.into(),
            egress_type: name.into(),
            argument: Some(TypedValue {
                typename: type_name.into(),
                has_value: true,
                value,
            }),
        }],
        ..Default::default()
    }
}

const KAFKA: EgressIdentifier = EgressIdentifier::from_static("out/kafka");
const KINESIS: EgressIdentifier = EgressIdentifier::from_static("out/kinesis");
const GENERIC: EgressIdentifier = EgressIdentifier::from_static("out/any");

/// Runs one message to `raw/fn:1`, whose answer is one egress record,
/// with the three kinds of egress declared.
async fn run_egress(
    answer: from_function::InvocationResponse,
) -> (Harness, Result<(), JobFailure>) {
    let mut h = Harness::builder()
        .seed(20)
        .endpoint("raw/*", scripted(Vec::new(), answer))
        .kafka_egress(&KAFKA)
        .kinesis_egress(&KINESIS)
        .egress(&GENERIC)
        .build()
        .unwrap();
    h.send(raw("1"), &1_i32).unwrap();
    let outcome = h.run().await.map(drop);
    (h, outcome)
}

/// The generic Kafka egress's serializer (the io bundle's
/// `kafka/binders/egress/v1/GenericKafkaEgressSerializer.java`) parses
/// each record it receives as a `KafkaProducerRecord` and fails the job
/// when it cannot: "Unable to unpack message as a
/// org.apache.flink.statefun.sdk.egress.generated.KafkaProducerRecord"; the
/// Kinesis one (`kinesis/binders/egress/v1/GenericKinesisEgressSerializer.java`)
/// likewise with `KinesisEgressRecord`. The harness used to take the bytes
/// and fail only when a test decoded them.
#[tokio::test]
async fn an_egress_record_that_does_not_decode_fails_the_job_when_applied() {
    let not_a_record = Bytes::from_static(b"\xff\xff");
    for (egress, type_name, class) in [
        (&KAFKA, KAFKA_RECORD_TYPE, "KafkaProducerRecord"),
        (&KINESIS, KINESIS_RECORD_TYPE, "KinesisEgressRecord"),
    ] {
        let answer = egress_answer(
            &egress.to_string(),
            type_name.as_str(),
            not_a_record.clone(),
        );
        let (h, outcome) = run_egress(answer).await;
        let failure = outcome.unwrap_err();
        assert!(
            matches!(failure.cause(), Cause::MalformedEgressRecord { egress: e, .. } if *e == egress.to_string()),
            "{failure}"
        );
        let expected = format!(
            "egress {egress}: Unable to unpack message as a org.apache.flink.statefun.sdk.egress.generated.{class}: "
        );
        assert!(failure.to_string().contains(&expected), "{failure}");
        assert!(h.egress(egress).is_empty(), "nothing written");
    }
    // A generic egress passes any typename and bytes through (observed).
    let answer = egress_answer("out/any", "my/type", not_a_record.clone());
    let (h, outcome) = run_egress(answer).await;
    outcome.unwrap();
    assert_eq!(h.egress(&GENERIC)[0].value, not_a_record);
    // A record that decodes is written.
    let record = KafkaRecord::new("topic", "v").into_typed_bytes().unwrap();
    let answer = egress_answer(
        "out/kafka",
        record.type_name().as_str(),
        record.bytes().clone(),
    );
    let (h, outcome) = run_egress(answer).await;
    outcome.unwrap();
    assert_eq!(h.kafka_records(&KAFKA).unwrap()[0].topic(), "topic");
}

/// The same serializers refuse a record of another typename, in these
/// words: "The generic Kafka egress expects only messages of type
/// org.apache.flink.statefun.sdk.egress.generated.KafkaProducerRecord"
/// (`GenericKafkaEgressSerializer.java`, `TypedValueUtil.isProtobufTypeOf`),
/// and likewise for Kinesis (`GenericKinesisEgressSerializer.java`).
#[tokio::test]
async fn an_egress_record_of_another_type_fails_the_job_in_the_runtime_words() {
    for (egress, kind, class) in [
        (&KAFKA, "Kafka", "KafkaProducerRecord"),
        (&KINESIS, "Kinesis", "KinesisEgressRecord"),
    ] {
        let answer = egress_answer(
            &egress.to_string(),
            "io.statefun.types/string",
            Bytes::new(),
        );
        let failure = run_egress(answer).await.1.unwrap_err();
        assert!(
            matches!(failure.cause(), Cause::EgressTypeMismatch { .. }),
            "{failure}"
        );
        let expected = format!(
            "egress {egress}: The generic {kind} egress expects only messages of type org.apache.flink.statefun.sdk.egress.generated.{class}"
        );
        assert!(failure.to_string().contains(&expected), "{failure}");
    }
}

/// An answer to an egress the job does not declare fails the job
/// (`functions/SideOutputSink.java`: "Unknown egress EgressKey(…)";
/// observed).
#[tokio::test]
async fn an_egress_record_for_an_undeclared_egress_fails_the_job() {
    let record = KafkaRecord::new("topic", "v").into_typed_bytes().unwrap();
    let answer = egress_answer(
        "out/nosuch",
        record.type_name().as_str(),
        record.bytes().clone(),
    );
    let failure = run_egress(answer).await.1.unwrap_err();
    assert_eq!(failure.cause(), &Cause::UnknownEgress("out/nosuch".into()));
}

/// Flink keeps a job's max parallelism (its number of key groups) in its
/// checkpoints and savepoints, and a restore keeps it: the default one,
/// `KeyGroupRangeAssignment.computeDefaultMaxParallelism`, is 128 at
/// parallelism 2 but 256 at 100, and taking the new default on a restore
/// into 86 or more partitions would move ids to other key groups. A
/// checkpoint taken with 2 partitions restores into 100 with 128 key
/// groups, placing every id as a job built with `max_parallelism(128)`
/// does; the harness used to take 256.
#[tokio::test]
async fn a_restore_keeps_the_max_parallelism_of_the_checkpoint() {
    use crate::fixture::{Command, functions, recorder, sum};
    let ids: Vec<String> = (0..40).map(|i| format!("user-{i}")).collect();
    let mut before = Harness::builder()
        .seed(10)
        .partitions(2)
        .functions(functions())
        .build()
        .unwrap();
    for id in &ids {
        before.send(recorder(id), &Command::Add(2)).unwrap();
    }
    before.run().await.unwrap();
    before.checkpoint();
    let checkpoint = before.last_checkpoint().unwrap().clone();
    assert_eq!(checkpoint.max_parallelism(), Some(128));
    let bytes = checkpoint.to_bytes();
    let read = statefun_harness::Checkpoint::from_bytes(&bytes).unwrap();
    assert_eq!(read.max_parallelism(), Some(128), "kept in the bytes");

    let build = |max_parallelism: Option<u32>| {
        let builder = Harness::builder()
            .seed(10)
            .partitions(100)
            .functions(functions());
        match max_parallelism {
            Some(m) => builder.max_parallelism(m),
            None => builder,
        }
        .build()
        .unwrap()
    };
    let mut restored = build(None);
    restored.restore(&read);
    let with_128 = build(Some(128));
    let with_default = build(None);
    let partitions =
        |h: &Harness| -> Vec<u32> { ids.iter().map(|id| h.partition_of(&recorder(id))).collect() };
    assert_eq!(partitions(&restored), partitions(&with_128));
    assert_ne!(
        partitions(&with_128),
        partitions(&with_default),
        "256 key groups place some of these ids elsewhere"
    );
    // The state followed, and the job runs on.
    for id in &ids {
        restored.send(recorder(id), &Command::Add(1)).unwrap();
    }
    restored.run().await.unwrap();
    for id in &ids {
        assert_eq!(sum(&restored, id), Some(3), "{id}");
    }
    // A checkpoint of the restored job keeps 128 in turn.
    restored.checkpoint();
    assert_eq!(
        restored.last_checkpoint().unwrap().max_parallelism(),
        Some(128)
    );
}

/// Two recorder ids on different partitions of `h`, and a third on the
/// first one's partition.
fn spread(h: &Harness) -> (String, String, String) {
    use crate::fixture::recorder;
    let ids: Vec<String> = (0..100).map(|i| format!("id-{i}")).collect();
    let p = |id: &String| h.partition_of(&recorder(id));
    let first = ids[0].clone();
    let other = ids.iter().find(|id| p(id) != p(&first)).unwrap().clone();
    let same = ids[1..]
        .iter()
        .find(|id| p(id) == p(&first))
        .unwrap()
        .clone();
    (first, other, same)
}

/// The handshakes of a trace: (address, partition of the address).
fn handshakes(h: &Harness) -> Vec<(Address, u32)> {
    h.trace()
        .iter()
        .filter_map(|e| match &e.event {
            Event::Handshake { address, .. } => Some((address.clone(), h.partition_of(address))),
            _ => None,
        })
        .collect()
}

/// The runtime keeps one `RequestReplyFunction` per function type per
/// subtask, each with its own state registry
/// (`reqreply/RequestReplyFunction.java` holds its
/// `PersistedRemoteFunctionValues`), not checkpointed: a type goes through
/// the state handshake once on every partition it runs on (observed: a
/// second address on another subtask got its own handshake), and again on
/// each after a restart. The harness used to keep one registry per
/// harness: one handshake per type.
#[tokio::test]
async fn the_state_handshake_happens_once_per_type_per_partition() {
    use crate::fixture::{Command, functions, recorder, sum};
    let mut h = Harness::builder()
        .seed(6)
        .partitions(2)
        .functions(functions())
        .build()
        .unwrap();
    let (first, other, same) = spread(&h);
    for id in [&first, &other, &same] {
        h.send(recorder(id), &Command::Add(1)).unwrap();
    }
    h.run().await.unwrap();
    let partitions: Vec<u32> = handshakes(&h).iter().map(|(_, p)| *p).collect();
    assert_eq!(partitions.len(), 2, "{}", h.trace_text());
    assert_ne!(partitions[0], partitions[1], "one per partition");
    assert_eq!(h.counters().handshakes, 2);
    // Registered on a partition, a type is not asked again there.
    for id in [&first, &other, &same] {
        h.send(recorder(id), &Command::Add(1)).unwrap();
    }
    h.run().await.unwrap();
    assert_eq!(h.counters().handshakes, 2);
    // A restart empties every partition's registry: once more on each.
    h.checkpoint();
    h.crash();
    for id in [&first, &other] {
        h.send(recorder(id), &Command::Add(1)).unwrap();
    }
    h.run().await.unwrap();
    assert_eq!(h.counters().handshakes, 4);
    for id in [&first, &other, &same] {
        let expected = if *id == same { 2 } else { 3 };
        assert_eq!(sum(&h, id), Some(expected), "{id}");
    }
}

/// The first request of a function type on a subtask is synchronous: the
/// subtask does nothing else until it is completed
/// (`reqreply/RequestReplyFunction.java`, `isFirstRequestSent`: "Bootstrapping
/// function … Blocking processing until first request is completed";
/// observed), once per type per subtask and again after a restart. In the
/// harness the partition takes no message and steps no other request
/// until that request's answer is applied (here, the handshake); the other
/// partitions go on. The harness used to let the partition deliver more
/// messages meanwhile, so that for some seeds a second message waited in
/// the backlog of the first request.
#[tokio::test]
async fn the_first_request_of_a_type_blocks_its_partition_until_it_completes() {
    use crate::fixture::{Command, functions, recorder};
    for seed in 0..30 {
        let mut h = Harness::builder()
            .seed(seed)
            .partitions(2)
            .functions(functions())
            .build()
            .unwrap();
        let (first, other, same) = spread(&h);
        for id in [&first, &same, &first, &other, &same] {
            h.send(recorder(id), &Command::Add(1)).unwrap();
        }
        h.run().await.unwrap();
        // On each partition: from the first request until its handshake is
        // applied, nothing else happens there.
        let trace = h.trace();
        for partition in 0..2 {
            let on_partition = |a: &Address| h.partition_of(a) == partition;
            let start = trace
                .iter()
                .position(|e| matches!(&e.event, Event::RequestSent { address, .. } if on_partition(address)))
                .unwrap();
            let Event::RequestSent {
                address: bootstrapping,
                ..
            } = &trace[start].event
            else {
                unreachable!()
            };
            let end = start
                + trace[start..]
                    .iter()
                    .position(|e| matches!(&e.event, Event::Handshake { address, .. } if address == bootstrapping))
                    .unwrap();
            for e in &trace[start + 1..end] {
                let elsewhere = match &e.event {
                    Event::Delivered { to, .. } => !on_partition(to),
                    Event::RequestSent { address, .. } | Event::Answered { address, .. } => {
                        address == bootstrapping || !on_partition(address)
                    }
                    _ => true,
                };
                assert!(
                    elsewhere,
                    "seed {seed}: {:?} while partition {partition} waits for its first request\n{}",
                    e.event,
                    h.trace_text()
                );
            }
        }
    }
}
