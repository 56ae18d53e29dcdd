//! The whole SDK handler, `RequestReplyHandler::handle`, on arbitrary
//! bytes: it never panics (a panic anywhere, even one the SDK would catch,
//! aborts the fuzzer), and every answer it gives is a `FromFunction` the
//! runtime can read.
//!
//! The function registered is the golden tests' interpreter
//! (`statefun-sdk/tests/protocol/golden.rs`) cut down and made
//! panic-free: the same type and states, so the golden requests (the
//! seeds) pass the state handshake and run commands that write state,
//! send messages, delayed messages, cancellations and egress records.
#![no_main]

use std::future::Future;
use std::pin::pin;
use std::sync::LazyLock;
use std::task::{Context as TaskContext, Poll, Waker};
use std::time::Duration;

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use statefun_protocol::wire::from_function;
use stateful_functions::{
    Address, CancellationToken, Context, EgressIdentifier, Expiration, FunctionError, FunctionSpec,
    Functions, KafkaRecord, KinesisRecord, Message, RequestReplyHandler, StatefulFunction,
    TypeName, ValueSpec, async_trait,
};

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

fn arg<'a>(args: &[&'a str], i: usize) -> Result<&'a str, FunctionError> {
    args.get(i)
        .copied()
        .ok_or_else(|| FunctionError::msg("missing argument"))
}

fn target(args: &[&str], i: usize) -> Result<Address, FunctionError> {
    Ok(Address::new(
        arg(args, i)?.parse::<TypeName>()?,
        arg(args, i + 1)?,
    ))
}

fn rest_from(args: &[&str], i: usize) -> String {
    args.get(i..).unwrap_or_default().join(" ")
}

#[async_trait]
impl StatefulFunction for Interpreter {
    async fn invoke(&self, ctx: &mut Context, message: Message) -> Result<(), FunctionError> {
        let line = message.decode::<String>()?;
        let (command, rest) = line.split_once(' ').unwrap_or((&line, ""));
        let args: Vec<&str> = rest.split(' ').collect();
        match command {
            "incr" => {
                let seen = ctx.storage().get(&SEEN)?.unwrap_or(0).wrapping_add(1);
                ctx.storage().set(&SEEN, &seen)?;
            }
            "last" => ctx.storage().set(&LAST, &rest.to_owned())?,
            "flag" => ctx.storage().set(&FLAG, &(rest == "true"))?,
            "score" => ctx.storage().set(&SCORE, &rest.parse::<f64>()?)?,
            "ratio" => ctx.storage().set(&RATIO, &rest.parse::<f32>()?)?,
            "big" => ctx.storage().set(&BIG, &rest.parse::<i64>()?)?,
            "read" => {
                let storage = ctx.storage();
                let _ = (
                    storage.get(&SEEN)?,
                    storage.get(&LAST)?,
                    storage.get(&FLAG)?,
                );
                let _ = (
                    storage.get(&SCORE)?,
                    storage.get(&BIG)?,
                    storage.get(&RATIO)?,
                );
            }
            "del" => match rest {
                "seen" => ctx.storage().remove(&SEEN)?,
                "last" => ctx.storage().remove(&LAST)?,
                "flag" => ctx.storage().remove(&FLAG)?,
                "score" => ctx.storage().remove(&SCORE)?,
                "big" => ctx.storage().remove(&BIG)?,
                _ => ctx.storage().remove(&RATIO)?,
            },
            "send" => ctx.send(target(&args, 0)?, &rest_from(&args, 2))?,
            "sendint" => ctx.send(target(&args, 0)?, &arg(&args, 2)?.parse::<i32>()?)?,
            "delay" => {
                let delay = Duration::from_millis(arg(&args, 0)?.parse()?);
                ctx.send_after(delay, target(&args, 1)?, &rest_from(&args, 3))?;
            }
            "delaytok" => {
                let delay = Duration::from_millis(arg(&args, 0)?.parse()?);
                let token = CancellationToken::new(arg(&args, 3)?)?;
                ctx.send_after_with_token(delay, token, target(&args, 1)?, &rest_from(&args, 4))?;
            }
            "cancel" => ctx.cancel_delayed_message(&CancellationToken::new(rest)?),
            "kafka" => {
                let egress = EgressIdentifier::new(arg(&args, 0)?.parse()?)?;
                let mut record = KafkaRecord::new(arg(&args, 1)?, rest_from(&args, 3));
                if arg(&args, 2)? != "-" {
                    record = record.with_key(arg(&args, 2)?);
                }
                ctx.send_egress(&egress, record)?;
            }
            "kinesis" => {
                let egress = EgressIdentifier::new(arg(&args, 0)?.parse()?)?;
                let mut record =
                    KinesisRecord::new(arg(&args, 1)?, arg(&args, 2)?, rest_from(&args, 4));
                if arg(&args, 3)? != "-" {
                    record = record.with_explicit_hash_key(arg(&args, 3)?);
                }
                ctx.send_egress(&egress, record)?;
            }
            "egress" => {
                let egress = EgressIdentifier::new(arg(&args, 0)?.parse()?)?;
                ctx.send_egress(&egress, &rest_from(&args, 1))?;
            }
            "reply" => {
                let to = match ctx.caller() {
                    Some(caller) => caller.clone(),
                    None => Address::new(TypeName::from_static("golden.fns/nobody"), "ingress"),
                };
                ctx.send(to, &rest.to_owned())?;
            }
            "self" => {
                let me = ctx.self_address().clone();
                ctx.send(me, &rest.to_owned())?;
            }
            _ => return Err(FunctionError::msg("unknown command")),
        }
        Ok(())
    }
}

static HANDLER: LazyLock<RequestReplyHandler> = LazyLock::new(|| {
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
});

/// Polls a future that never waits (nothing here does) to completion.
fn run<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    let mut cx = TaskContext::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
            return output;
        }
    }
}

fuzz_target!(|data: &[u8]| {
    if let Ok(answer) = run(HANDLER.handle(Bytes::copy_from_slice(data))) {
        if let Err(e) = from_function::read(&answer) {
            panic!("the handler answered bytes that are not a FromFunction ({e}): {answer:02x?}");
        }
    }
});
