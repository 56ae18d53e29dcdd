//! Where the harness does what StateFun 3.3.0's runtime does (issue 20):
//! each test cites the runtime source that decides the behaviour.

use bytes::Bytes;
use prost::Message as _;
use statefun_harness::{Cause, Endpoint, Harness, JobFailure};
use statefun_proto::reqreply::from_function::{
    self, ExpirationSpec, PersistedValueMutation, PersistedValueSpec, expiration_spec,
    persisted_value_mutation,
};
use statefun_proto::reqreply::{FromFunction, ToFunction, TypedValue, to_function};
use statefun_sdk::{Address, TypeName};

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
