//! Golden wire tests: the same requests through the Rust SDK and through the
//! official Python SDK 3.3.0 must give the same response bytes.
//!
//! The fixtures in `tests/golden/*.json` were recorded by
//! `tests/golden/generate.py` (see its docstring to regenerate). The
//! function below is a Rust port of that script's `interpreter` function:
//! each message is a text command that exercises one SDK feature.

use std::time::Duration;

use bytes::Bytes;
use serde::Deserialize;
use stateful_functions::{
    Address, CancellationToken, Context, EgressIdentifier, Expiration, FunctionError, FunctionSpec,
    Functions, Json, JsonType, KafkaRecord, KinesisRecord, Message, RequestReplyHandler,
    StatefulFunction, TypeName, Value, ValueSpec, async_trait,
};

use crate::wire::{hex, result, to_hex};

const INTERPRETER: TypeName = TypeName::from_static("golden.fns/interpreter");
const SEEN: ValueSpec<i32> = ValueSpec::named("seen");
const LAST: ValueSpec<String> =
    ValueSpec::named("last").with_expiration(Expiration::AfterCall(Duration::from_secs(60)));
const FLAG: ValueSpec<bool> =
    ValueSpec::named("flag").with_expiration(Expiration::AfterWrite(Duration::from_secs(86_400)));
const SCORE: ValueSpec<f64> = ValueSpec::named("score");
const BIG: ValueSpec<i64> = ValueSpec::named("big");
const RATIO: ValueSpec<f32> = ValueSpec::named("ratio");

struct Interpreter;

/// A function that ignores its messages.
pub(crate) fn noop() -> impl StatefulFunction {
    Interpreter
}

fn parse<T: std::str::FromStr>(token: &str) -> Result<T, FunctionError>
where
    T::Err: std::error::Error + Send + Sync + 'static,
{
    Ok(token.parse::<T>()?)
}

fn target(typename: &str, id: &str) -> Result<Address, FunctionError> {
    Ok(Address::new(typename.parse::<TypeName>()?, id))
}

#[async_trait]
impl StatefulFunction for Interpreter {
    async fn invoke(&self, ctx: &mut Context, message: Message) -> Result<(), FunctionError> {
        let line = message.decode::<String>()?;
        let (command, rest) = line.split_once(' ').unwrap_or((&line, ""));
        let args: Vec<&str> = rest.split(' ').collect();
        match command {
            "incr" => {
                let seen = ctx.storage().get(&SEEN)?.unwrap_or(0) + 1;
                ctx.storage().set(&SEEN, &seen)?;
            }
            "last" => ctx.storage().set(&LAST, &rest.to_owned())?,
            "flag" => ctx.storage().set(&FLAG, &(rest == "true"))?,
            "score" => ctx.storage().set(&SCORE, &parse::<f64>(rest)?)?,
            "ratio" => ctx.storage().set(&RATIO, &parse::<f32>(rest)?)?,
            "big" => ctx.storage().set(&BIG, &parse::<i64>(rest)?)?,
            "del" => match rest {
                "seen" => ctx.storage().remove(&SEEN)?,
                "last" => ctx.storage().remove(&LAST)?,
                "flag" => ctx.storage().remove(&FLAG)?,
                "score" => ctx.storage().remove(&SCORE)?,
                "big" => ctx.storage().remove(&BIG)?,
                "ratio" => ctx.storage().remove(&RATIO)?,
                other => return Err(FunctionError::msg(format!("no state {other}"))),
            },
            "send" => {
                let to = target(args[0], args[1])?;
                let value = args[3];
                match args[2] {
                    "int" => ctx.send(to, &parse::<i32>(value)?)?,
                    "long" => ctx.send(to, &parse::<i64>(value)?)?,
                    "str" => ctx.send(to, &value.to_owned())?,
                    "bool" => ctx.send(to, &(value == "true"))?,
                    "float" => ctx.send(to, &parse::<f32>(value)?)?,
                    "double" => ctx.send(to, &parse::<f64>(value)?)?,
                    other => return Err(FunctionError::msg(format!("no kind {other}"))),
                }
            }
            "delay" => {
                let delay = Duration::from_millis(parse(args[0])?);
                let text = args[3..].join(" ");
                ctx.send_after(delay, target(args[1], args[2])?, &text)?;
            }
            "delaytok" => {
                let delay = Duration::from_millis(parse(args[0])?);
                let token = CancellationToken::new(args[3])?;
                let text = args[4..].join(" ");
                ctx.send_after_with_token(delay, token, target(args[1], args[2])?, &text)?;
            }
            "cancel" => ctx.cancel_delayed_message(&CancellationToken::new(rest)?),
            "kafka" => {
                let egress = EgressIdentifier::new(args[0].parse()?)?;
                let mut record = KafkaRecord::new(args[1], args[3..].join(" "));
                if args[2] != "-" {
                    record = record.with_key(args[2]);
                }
                ctx.send_egress(&egress, record)?;
            }
            "kinesis" => {
                let egress = EgressIdentifier::new(args[0].parse()?)?;
                let mut record = KinesisRecord::new(args[1], args[2], args[4..].join(" "));
                if args[3] != "-" {
                    record = record.with_explicit_hash_key(args[3]);
                }
                ctx.send_egress(&egress, record)?;
            }
            "egress" => {
                let egress = EgressIdentifier::new(args[0].parse()?)?;
                ctx.send_egress(&egress, &args[1..].join(" "))?;
            }
            "reply" => {
                let to = match ctx.caller() {
                    Some(caller) => caller.clone(),
                    None => target("golden.fns/nobody", "ingress")?,
                };
                ctx.send(to, &rest.to_owned())?;
            }
            "self" => {
                let me = ctx.self_address().clone();
                ctx.send(me, &rest.to_owned())?;
            }
            other => return Err(FunctionError::msg(format!("unknown command {other:?}"))),
        }
        Ok(())
    }
}

pub(crate) fn handler() -> RequestReplyHandler {
    let spec = FunctionSpec::builder(INTERPRETER)
        .with_state(&SEEN)
        .with_state(&LAST)
        .with_state(&FLAG)
        .with_state(&SCORE)
        .with_state(&BIG)
        .with_state(&RATIO)
        .build(Interpreter)
        .expect("valid spec");
    RequestReplyHandler::new(Functions::new().with(spec).expect("one function"))
}

#[derive(Deserialize)]
struct WireCases {
    cases: Vec<WireCase>,
}

#[derive(Deserialize)]
pub(crate) struct WireCase {
    name: String,
    pub(crate) request_hex: String,
    response_hex: Option<String>,
}

pub(crate) fn wire_cases() -> Vec<WireCase> {
    let text = include_str!("../golden/wire.json");
    serde_json::from_str::<WireCases>(text)
        .expect("wire.json")
        .cases
}

fn run(request: &[u8]) -> Bytes {
    let handler = handler();
    let request = Bytes::copy_from_slice(request);
    tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime")
        .block_on(handler.handle(request))
        .expect("the handler answers")
}

#[test]
fn responses_match_the_python_sdk_byte_for_byte() {
    let cases = wire_cases();
    assert!(
        cases.len() >= 15,
        "expected the full fixture set, found {}",
        cases.len()
    );
    let mut compared = 0;
    for case in &cases {
        let Some(expected) = &case.response_hex else {
            continue;
        };
        let actual = run(&hex(&case.request_hex));
        assert_eq!(
            to_hex(&actual),
            *expected,
            "case {}: the Rust response differs from the Python SDK's",
            case.name
        );
        compared += 1;
    }
    assert!(compared >= 15, "compared only {compared} cases");
}

/// The Python SDK raises for an empty instance id; the runtime allows empty
/// ids (an empty Kafka key is a valid id), and so do we.
#[test]
fn empty_id_is_served_where_python_fails() {
    let case = wire_cases()
        .into_iter()
        .find(|c| c.name == "empty_id")
        .expect("empty_id case");
    assert!(
        case.response_hex.is_none(),
        "the fixture records the Python failure"
    );
    let response = result(&run(&hex(&case.request_hex)));
    let [mutation] = response.state_mutations.as_slice() else {
        panic!("expected one mutation, got {:?}", response.state_mutations)
    };
    assert_eq!(mutation.state_name, "seen");
    let value = mutation
        .state_value
        .as_ref()
        .expect("MODIFY carries a value");
    assert_eq!(i32::from_bytes(&value.value).unwrap(), 6);
}

#[derive(Deserialize)]
struct TypeCases {
    cases: Vec<TypeCase>,
    json_cases: Vec<JsonCase>,
    spec_examples: Vec<SpecExample>,
}

#[derive(Deserialize)]
struct TypeCase {
    typename: String,
    value: serde_json::Value,
    hex: String,
}

#[derive(Deserialize)]
struct JsonCase {
    typename: String,
    value: Profile,
    hex: String,
}

#[derive(Deserialize)]
struct SpecExample {
    name: String,
    hex: String,
}

#[derive(Debug, PartialEq, Deserialize, serde::Serialize)]
struct Profile {
    name: String,
    visits: u32,
}

impl JsonType for Profile {
    const TYPE_NAME: TypeName = TypeName::from_static("golden.types/Profile");
}

fn type_cases() -> TypeCases {
    serde_json::from_str(include_str!("../golden/types.json")).expect("types.json")
}

fn float(value: &serde_json::Value) -> f64 {
    match value {
        serde_json::Value::String(s) => match s.as_str() {
            "inf" => f64::INFINITY,
            "-inf" => f64::NEG_INFINITY,
            "-0.0" => -0.0,
            other => panic!("unexpected float {other}"),
        },
        v => v.as_f64().expect("a number"),
    }
}

fn check<T: Value + PartialEq + std::fmt::Debug>(value: &T, expected_hex: &str) {
    let encoded = value.to_bytes().unwrap();
    assert_eq!(to_hex(&encoded), expected_hex, "encoding of {value:?}");
    let decoded = T::from_bytes(&Bytes::from(hex(expected_hex))).unwrap();
    assert_eq!(&decoded, value, "decoding of {expected_hex}");
}

#[test]
fn built_in_types_match_the_python_sdk_byte_for_byte() {
    let cases = type_cases().cases;
    assert!(cases.len() >= 30);
    for case in &cases {
        let v = &case.value;
        match case.typename.as_str() {
            "io.statefun.types/int" => {
                check(&i32::try_from(v.as_i64().unwrap()).unwrap(), &case.hex);
            }
            "io.statefun.types/long" => check(&v.as_i64().unwrap(), &case.hex),
            "io.statefun.types/bool" => check(&v.as_bool().unwrap(), &case.hex),
            "io.statefun.types/string" => check(&v.as_str().unwrap().to_owned(), &case.hex),
            #[allow(clippy::cast_possible_truncation)]
            "io.statefun.types/float" => check(&(float(v) as f32), &case.hex),
            "io.statefun.types/double" => check(&float(v), &case.hex),
            other => panic!("unexpected typename {other}"),
        }
    }
}

/// Python writes `{"name": "Kim", "visits": 3}` with spaces, we write compact
/// JSON: the bytes differ, the values agree in both directions.
#[test]
fn json_values_interoperate_with_the_python_sdk() {
    for case in type_cases().json_cases {
        assert_eq!(case.typename, Profile::TYPE_NAME.as_str());
        let python_bytes = Bytes::from(hex(&case.hex));
        let decoded = Json::<Profile>::from_bytes(&python_bytes).unwrap();
        assert_eq!(decoded.0, case.value);
        let ours = Json(case.value).to_bytes().unwrap();
        let reparsed: serde_json::Value = serde_json::from_slice(&ours).unwrap();
        let theirs: serde_json::Value = serde_json::from_slice(&python_bytes).unwrap();
        assert_eq!(reparsed, theirs);
    }
}

#[test]
fn spec_worked_examples() {
    let examples = type_cases().spec_examples;
    assert_eq!(examples.len(), 2);
    for example in examples {
        assert!(!example.name.is_empty());
        let bytes = hex(&example.hex);
        if example.hex.starts_with("a20600") && bytes.len() == 3 {
            // The empty successful response.
            assert!(result(&bytes).state_mutations.is_empty());
        } else {
            // A request for ns/fn:1 with no invocations: the handler answers
            // the empty response of the other worked example.
            let spec = FunctionSpec::builder(TypeName::from_static("ns/fn"))
                .build(Interpreter)
                .unwrap();
            let handler = RequestReplyHandler::new(Functions::new().with(spec).unwrap());
            let response = tokio::runtime::Builder::new_current_thread()
                .build()
                .unwrap()
                .block_on(handler.handle(Bytes::from(bytes)))
                .unwrap();
            assert_eq!(to_hex(&response), "a20600");
        }
    }
}
