//! A counter function and the requests it is driven with.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use prost::Message as _;
use stateful_functions::{
    Context, FunctionError, FunctionSpec, Functions, Message, RequestReplyHandler,
    StatefulFunction, TypeName, Value, ValueSpec, async_trait,
};
use statefun_protocol::reqreply::{
    Address, FromFunction, ToFunction, TypedValue, from_function, to_function,
};
use tokio::sync::Notify;

pub(crate) const COUNTER: TypeName = TypeName::from_static("test/counter");
const COUNT: ValueSpec<i64> = ValueSpec::named("count");

/// Adds each int to `count` and answers the new count to the caller. -1
/// fails, -2 panics, -3 waits for `release` before answering.
pub(crate) struct Counter {
    pub(crate) release: Arc<Notify>,
    pub(crate) started: Arc<Notify>,
}

#[async_trait]
impl StatefulFunction for Counter {
    async fn invoke(&self, ctx: &mut Context, message: Message) -> Result<(), FunctionError> {
        let n = message.decode::<i32>()?;
        match n {
            -1 => return Err(FunctionError::msg("refusing -1")),
            -2 => panic!("boom"),
            -3 => {
                self.started.notify_one();
                tokio::time::timeout(Duration::from_secs(10), self.release.notified()).await?;
            }
            _ => {}
        }
        let count = ctx.storage().get(&COUNT)?.unwrap_or(0) + i64::from(n);
        ctx.storage().set(&COUNT, &count)?;
        let me = ctx.self_address().clone();
        ctx.send(me, &count)?;
        Ok(())
    }
}

pub(crate) struct Fixture {
    pub(crate) handler: RequestReplyHandler,
    pub(crate) release: Arc<Notify>,
    pub(crate) started: Arc<Notify>,
}

pub(crate) fn fixture() -> Fixture {
    let release = Arc::new(Notify::new());
    let started = Arc::new(Notify::new());
    let counter = Counter {
        release: Arc::clone(&release),
        started: Arc::clone(&started),
    };
    let spec = FunctionSpec::builder(COUNTER)
        .with_state(&COUNT)
        .build(counter)
        .unwrap();
    Fixture {
        handler: RequestReplyHandler::new(Functions::new().with(spec).unwrap()),
        release,
        started,
    }
}

/// A request for `test/counter:<id>` with `count` = 10 and one message `n`.
pub(crate) fn request(typename: &str, id: &str, n: i32) -> Bytes {
    let (namespace, name) = typename.rsplit_once('/').unwrap();
    let batch = to_function::InvocationBatchRequest {
        target: Some(Address {
            namespace: namespace.into(),
            r#type: name.into(),
            id: id.into(),
        }),
        state: vec![to_function::PersistedValue {
            state_name: "count".into(),
            state_value: Some(TypedValue {
                typename: "io.statefun.types/long".into(),
                has_value: true,
                value: 10_i64.to_bytes().unwrap(),
            }),
        }],
        invocations: vec![to_function::Invocation {
            caller: None,
            argument: Some(TypedValue {
                typename: "io.statefun.types/int".into(),
                has_value: true,
                value: n.to_bytes().unwrap(),
            }),
        }],
    };
    Bytes::from(
        ToFunction {
            request: Some(to_function::Request::Invocation(batch)),
        }
        .encode_to_vec(),
    )
}

/// The count a successful response sets.
pub(crate) fn count(response: &[u8]) -> i64 {
    match FromFunction::decode(response).unwrap().response.unwrap() {
        from_function::Response::InvocationResult(r) => {
            i64::from_bytes(&r.state_mutations[0].state_value.as_ref().unwrap().value).unwrap()
        }
        other @ from_function::Response::IncompleteInvocationContext(_) => {
            panic!("unexpected {other:?}")
        }
    }
}
