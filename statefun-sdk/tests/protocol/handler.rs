//! The request-reply handler's rules (spec §4.1 and §7), one test each.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use stateful_functions::{
    Address, CancellationToken, Context, Expiration, FunctionError, FunctionSpec, Functions,
    HandlerError, Message, RegistryError, RequestReplyHandler, SendError, SpecError,
    StateErrorKind, StatefulFunction, TypeName, Value, ValueSpec, async_trait,
};
use statefun_protocol::reqreply::from_function::{expiration_spec, persisted_value_mutation};

use crate::wire::{Request, address, missing, result, typed};

const COUNTER: TypeName = TypeName::from_static("test/counter");
const COUNT: ValueSpec<i64> = ValueSpec::named("count");
const NOTE: ValueSpec<String> =
    ValueSpec::named("note").with_expiration(Expiration::AfterWrite(Duration::from_millis(1500)));
const INT: &str = "io.statefun.types/int";
const LONG: &str = "io.statefun.types/long";
const STRING: &str = "io.statefun.types/string";

fn block_on<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(future)
}

fn int(v: i32) -> statefun_protocol::reqreply::TypedValue {
    typed(INT, v.to_bytes().unwrap())
}

/// Adds each int message to `count`, records every call; a message of -1
/// fails, -2 panics, -3 reads an undeclared state, -4 reads `count` as the
/// wrong type.
#[derive(Default, Clone)]
struct Counter {
    calls: Arc<AtomicUsize>,
}

const UNDECLARED: ValueSpec<i64> = ValueSpec::named("undeclared");
const COUNT_AS_INT: ValueSpec<i32> = ValueSpec::named("count");

#[async_trait]
impl StatefulFunction for Counter {
    async fn invoke(&self, ctx: &mut Context, message: Message) -> Result<(), FunctionError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let n = message.decode::<i32>()?;
        match n {
            -1 => return Err(FunctionError::msg("refusing -1")),
            -2 => panic!("boom at {}", ctx.self_address()),
            -3 => {
                ctx.storage().get(&UNDECLARED)?;
            }
            -4 => {
                ctx.storage().get(&COUNT_AS_INT)?;
            }
            _ => {}
        }
        let count = ctx.storage().get(&COUNT)?.unwrap_or(0) + i64::from(n);
        ctx.storage().set(&COUNT, &count)?;
        if let Some(caller) = ctx.caller().cloned() {
            ctx.send(caller, &count)?;
        }
        Ok(())
    }
}

fn counter_handler() -> (RequestReplyHandler, Arc<AtomicUsize>) {
    let counter = Counter::default();
    let calls = Arc::clone(&counter.calls);
    let spec = FunctionSpec::builder(COUNTER)
        .with_state(&COUNT)
        .with_state(&NOTE)
        .build(counter)
        .unwrap();
    (
        RequestReplyHandler::new(Functions::new().with(spec).unwrap()),
        calls,
    )
}

/// The error a function returned for `request`, which must fail that way.
fn failure_source(handler: &RequestReplyHandler, request: Request) -> stateful_functions::BoxError {
    match block_on(handler.handle(request.encode())) {
        Err(HandlerError::FunctionFailed { source, .. }) => source,
        other => panic!("expected a function failure, got {other:?}"),
    }
}

fn with_state(request: Request) -> Request {
    request
        .state("count", Some(typed(LONG, 10_i64.to_bytes().unwrap())))
        .state("note", None)
}

#[test]
fn missing_state_returns_incomplete_context_and_runs_nothing() {
    let (handler, calls) = counter_handler();
    let request = Request::to("test/counter", "a")
        .state("count", None)
        .invoke(None, int(1));
    let specs = missing(&block_on(handler.handle(request.encode())).unwrap());
    assert_eq!(
        calls.load(Ordering::SeqCst),
        0,
        "nothing runs before the handshake"
    );
    let [note] = specs.as_slice() else {
        panic!("{specs:?}")
    };
    assert_eq!(note.state_name, "note");
    assert_eq!(note.type_typename, STRING);
    let expiration = note.expiration_spec.as_ref().unwrap();
    assert_eq!(expiration.mode(), expiration_spec::ExpireMode::AfterWrite);
    assert_eq!(expiration.expire_after_millis, 1500);
}

#[test]
fn handshake_lists_every_missing_spec_in_declaration_order() {
    let (handler, _) = counter_handler();
    let request = Request::to("test/counter", "a").invoke(None, int(1));
    let specs = missing(&block_on(handler.handle(request.encode())).unwrap());
    let names: Vec<_> = specs.iter().map(|s| s.state_name.as_str()).collect();
    assert_eq!(names, ["count", "note"]);
    assert_eq!(
        specs[0].expiration_spec.as_ref().unwrap().mode(),
        expiration_spec::ExpireMode::None
    );
}

#[test]
fn batch_runs_in_order_over_one_storage_view_and_emits_one_mutation() {
    let (handler, calls) = counter_handler();
    let caller = address("test/other", "x");
    let request = with_state(Request::to("test/counter", "a"))
        .invoke(Some(caller.clone()), int(1))
        .invoke(None, int(2))
        .invoke(Some(caller), int(3));
    let response = result(&block_on(handler.handle(request.encode())).unwrap());
    assert_eq!(calls.load(Ordering::SeqCst), 3);
    // 10 + 1 = 11 sent to the caller, then 10 + 1 + 2 + 3 = 16.
    let sent: Vec<i64> = response
        .outgoing_messages
        .iter()
        .map(|m| i64::from_bytes(&m.argument.as_ref().unwrap().value).unwrap())
        .collect();
    assert_eq!(sent, [11, 16]);
    let [mutation] = response.state_mutations.as_slice() else {
        panic!()
    };
    assert_eq!(
        mutation.mutation_type(),
        persisted_value_mutation::MutationType::Modify
    );
    let value = mutation.state_value.as_ref().unwrap();
    assert_eq!(
        value.typename, LONG,
        "MODIFY always carries the spec's typename"
    );
    assert!(value.has_value);
    assert_eq!(i64::from_bytes(&value.value).unwrap(), 16);
}

#[test]
fn a_failing_invocation_fails_the_whole_batch_with_its_address() {
    let (handler, calls) = counter_handler();
    let request = with_state(Request::to("test/counter", "kim"))
        .invoke(None, int(1))
        .invoke(None, int(-1))
        .invoke(None, int(2));
    let err = block_on(handler.handle(request.encode())).unwrap_err();
    assert_eq!(
        calls.load(Ordering::SeqCst),
        2,
        "stops at the failing invocation"
    );
    match &err {
        HandlerError::FunctionFailed {
            address,
            invocation,
            batch_size,
            source,
        } => {
            assert_eq!(address.to_string(), "test/counter:kim");
            assert_eq!((*invocation, *batch_size), (1, 3));
            assert_eq!(source.to_string(), "refusing -1");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        err.to_string(),
        "function test/counter failed at address test/counter:kim (invocation 2 of 3)"
    );
}

#[test]
fn a_panicking_function_is_caught_and_the_handler_keeps_serving() {
    let (handler, _) = counter_handler();
    let request = with_state(Request::to("test/counter", "p")).invoke(None, int(-2));
    match block_on(handler.handle(request.encode())).unwrap_err() {
        HandlerError::FunctionPanicked {
            address, message, ..
        } => {
            assert_eq!(address.id(), "p");
            assert_eq!(message, "boom at test/counter:p");
        }
        other => panic!("{other:?}"),
    }
    let healthy = with_state(Request::to("test/counter", "p")).invoke(None, int(5));
    assert!(block_on(handler.handle(healthy.encode())).is_ok());
}

#[test]
fn undeclared_state_access_names_the_state_function_and_address() {
    let (handler, _) = counter_handler();
    let request = with_state(Request::to("test/counter", "u")).invoke(None, int(-3));
    let source = failure_source(&handler, request);
    let state_error = source
        .downcast_ref::<stateful_functions::StateError>()
        .expect("a StateError");
    assert!(matches!(
        state_error.kind(),
        StateErrorKind::Undeclared { .. }
    ));
    let text = state_error.to_string();
    assert!(text.contains("\"undeclared\""), "{text}");
    assert!(text.contains("test/counter:u"), "{text}");
    assert!(
        text.contains("with #[function], list it in the `state = …` struct"),
        "{text}"
    );
}

#[test]
fn accessing_a_state_as_another_type_is_an_error() {
    let (handler, _) = counter_handler();
    let request = with_state(Request::to("test/counter", "w")).invoke(None, int(-4));
    let source = failure_source(&handler, request);
    let text = source.to_string();
    assert!(
        text.contains("declared with type io.statefun.types/long"),
        "{text}"
    );
    assert!(text.contains("accessed as io.statefun.types/int"), "{text}");
}

#[test]
fn a_stored_value_of_another_type_is_reported_on_read() {
    let (handler, _) = counter_handler();
    let request = Request::to("test/counter", "m")
        .state("count", Some(typed(INT, 3_i32.to_bytes().unwrap())))
        .state("note", None)
        .invoke(None, int(1));
    let source = failure_source(&handler, request);
    let text = source.to_string();
    assert!(
        text.contains("holds a value of type \"io.statefun.types/int\""),
        "{text}"
    );
}

#[test]
fn a_state_sent_twice_takes_the_last_value() {
    let (handler, _) = counter_handler();
    let request = Request::to("test/counter", "d")
        .state("count", None)
        .state("note", None)
        .state("count", Some(typed(LONG, 7_i64.to_bytes().unwrap())))
        .invoke(None, int(1));
    let response = result(&block_on(handler.handle(request.encode())).unwrap());
    let value = &response.state_mutations[0]
        .state_value
        .as_ref()
        .unwrap()
        .value;
    assert_eq!(i64::from_bytes(value).unwrap(), 8, "7 (the last value) + 1");
}

#[test]
fn malformed_requests_are_typed_errors() {
    let (handler, _) = counter_handler();
    let cases: [(&[u8], &str); 10] = [
        (b"\xff\xff\xff", "truncated varint in ToFunction"),
        (b"", "the ToFunction carries no invocation batch"),
        // ToFunction{invocation{}}: no target.
        (
            b"\xa2\x06\x00",
            "the invocation batch has no target address",
        ),
        // A length that runs past the end of the body.
        (
            b"\xa2\x06\x10\x0a",
            "field length exceeds the message in ToFunction",
        ),
        // invocation sent as a varint.
        (
            b"\xa0\x06\x01",
            "wrong wire type 0 for field invocation in ToFunction",
        ),
        // target.id with invalid UTF-8.
        (
            b"\xa2\x06\x05\x0a\x03\x1a\x01\xff",
            "invalid UTF-8 in field id in Address",
        ),
        // An unterminated (proto2) group.
        (b"\x0b", "unterminated group in ToFunction"),
        // An end-group tag of another field.
        (b"\x0b\x14", "end-group tag of another group in ToFunction"),
        // A stray end-group tag.
        (b"\x0c", "unsupported wire type 4 in ToFunction"),
        // A key beyond 32 bits.
        (
            b"\x80\x80\x80\x80\x10\x00",
            "field key larger than 32 bits in ToFunction",
        ),
    ];
    for (body, reason) in cases {
        match block_on(handler.handle(Bytes::from_static(body))) {
            Err(HandlerError::MalformedRequest { reason: r, .. }) => {
                assert!(r.contains(reason), "{body:?}: {r}");
            }
            other => panic!("{body:?}: {other:?}"),
        }
    }
}

#[test]
fn unknown_function_type_lists_what_is_registered() {
    let (handler, _) = counter_handler();
    let request = Request::to("test/nope", "a").invoke(None, int(1));
    let err = block_on(handler.handle(request.encode())).unwrap_err();
    assert!(matches!(err, HandlerError::UnknownFunction { .. }));
    assert_eq!(
        err.to_string(),
        "no function of type test/nope is registered (request for id \"a\"); registered types: test/counter"
    );
}

#[test]
fn caller_rules() {
    #[derive(Clone, Default)]
    struct Recorder(Arc<Mutex<Vec<Option<String>>>>);
    #[async_trait]
    impl StatefulFunction for Recorder {
        async fn invoke(&self, ctx: &mut Context, _: Message) -> Result<(), FunctionError> {
            self.0
                .lock()
                .unwrap()
                .push(ctx.caller().map(Address::to_string));
            Ok(())
        }
    }
    let recorder = Recorder::default();
    let spec = FunctionSpec::builder(TypeName::from_static("test/rec")).build(recorder.clone());
    let handler = RequestReplyHandler::new(Functions::new().with(spec.unwrap()).unwrap());
    let request = Request::to("test/rec", "r")
        .invoke(None, int(1))
        .invoke(Some(address("test/rec", "self")), int(1))
        .invoke(
            Some(statefun_protocol::reqreply::Address::default()),
            int(1),
        )
        .invoke(Some(address("elsewhere.ns/fn", "x")), int(1));
    block_on(handler.handle(request.encode())).unwrap();
    assert_eq!(
        *recorder.0.lock().unwrap(),
        [
            None,
            Some("test/rec:self".into()),
            None,
            Some("elsewhere.ns/fn:x".into())
        ]
    );

    // An address that is not a function address (the runtime never sends
    // one) is no caller, as in the other SDKs, not a failed batch.
    recorder.0.lock().unwrap().clear();
    let bad_caller = statefun_protocol::reqreply::Address {
        namespace: String::new(),
        r#type: "fn".into(),
        id: "x".into(),
    };
    let request = Request::to("test/rec", "r").invoke(Some(bad_caller), int(1));
    block_on(handler.handle(request.encode())).unwrap();
    assert_eq!(*recorder.0.lock().unwrap(), [None]);
}

#[test]
fn payloads_and_state_are_slices_of_the_request_buffer() {
    #[derive(Clone, Default)]
    struct Pointers(Arc<Mutex<Vec<usize>>>);
    const BLOB: ValueSpec<String> = ValueSpec::named("blob");
    #[async_trait]
    impl StatefulFunction for Pointers {
        async fn invoke(&self, _: &mut Context, message: Message) -> Result<(), FunctionError> {
            let raw = message.raw_value().expect("a value");
            self.0.lock().unwrap().push(raw.as_ptr() as usize);
            Ok(())
        }
    }
    let pointers = Pointers::default();
    let spec = FunctionSpec::builder(TypeName::from_static("test/ptr"))
        .with_state(&BLOB)
        .build(pointers.clone())
        .unwrap();
    let handler = RequestReplyHandler::new(Functions::new().with(spec).unwrap());
    let request = Request::to("test/ptr", "z")
        .state(
            "blob",
            Some(typed(STRING, "x".repeat(64).to_bytes().unwrap())),
        )
        .invoke(None, typed("test/raw", Bytes::from(vec![7_u8; 256])))
        .encode();
    let range = request.as_ptr() as usize..request.as_ptr() as usize + request.len();
    block_on(handler.handle(request)).unwrap();
    let seen = pointers.0.lock().unwrap();
    assert_eq!(seen.len(), 1);
    assert!(
        range.contains(&seen[0]),
        "the payload was copied out of the request"
    );
}

#[test]
fn message_without_value_is_reported_not_defaulted() {
    #[derive(Clone)]
    struct Strict;
    #[async_trait]
    impl StatefulFunction for Strict {
        async fn invoke(&self, _: &mut Context, message: Message) -> Result<(), FunctionError> {
            assert!(message.raw_value().is_none());
            message.decode::<i32>()?;
            Ok(())
        }
    }
    let spec = FunctionSpec::builder(TypeName::from_static("test/strict"))
        .build(Strict)
        .unwrap();
    let handler = RequestReplyHandler::new(Functions::new().with(spec).unwrap());
    let mut no_value = int(1);
    no_value.has_value = false;
    let request = Request::to("test/strict", "s").invoke(None, no_value);
    let source = failure_source(&handler, request);
    assert!(source.to_string().contains("carries no value"), "{source}");
}

#[test]
fn registry_and_spec_reject_duplicates() {
    let spec = || {
        FunctionSpec::builder(COUNTER)
            .build(Counter::default())
            .unwrap()
    };
    let err = Functions::new()
        .with(spec())
        .unwrap()
        .with(spec())
        .unwrap_err();
    assert!(matches!(
        &err,
        RegistryError::DuplicateFunction { function_type, .. } if *function_type == COUNTER
    ));
    assert_eq!(
        err.to_string(),
        "function type test/counter is registered twice: \
         by an explicit registration and by an explicit registration"
    );

    let dup = FunctionSpec::builder(COUNTER)
        .with_state(&COUNT)
        .with_state(&ValueSpec::<String>::named("count"))
        .build(Counter::default())
        .unwrap_err();
    assert!(matches!(dup, SpecError::DuplicateState { .. }), "{dup:?}");
    assert_eq!(
        dup.to_string(),
        "function test/counter declares state \"count\" twice"
    );

    let nested = FunctionSpec::builder(TypeName::from_static("a/b/c")).build(Counter::default());
    assert!(matches!(
        nested,
        Err(SpecError::FunctionTypeNotSingleSlash { .. })
    ));
}

#[test]
fn delays_are_whole_milliseconds_and_bounded() {
    #[derive(Clone)]
    struct Delays;
    #[async_trait]
    impl StatefulFunction for Delays {
        async fn invoke(&self, ctx: &mut Context, _: Message) -> Result<(), FunctionError> {
            let me = ctx.self_address().clone();
            ctx.send_after(Duration::from_micros(2_999), me.clone(), &1_i32)?;
            let err = ctx.send_after(Duration::MAX, me, &1_i32).unwrap_err();
            assert!(matches!(err, SendError::DelayOutOfRange { .. }));
            ctx.cancel_delayed_message(&CancellationToken::new("t")?);
            Ok(())
        }
    }
    let spec = FunctionSpec::builder(TypeName::from_static("test/delay"))
        .build(Delays)
        .unwrap();
    let handler = RequestReplyHandler::new(Functions::new().with(spec).unwrap());
    let request = Request::to("test/delay", "d").invoke(None, int(1));
    let response = result(&block_on(handler.handle(request.encode())).unwrap());
    let [send, cancel] = response.delayed_invocations.as_slice() else {
        panic!()
    };
    assert_eq!(send.delay_in_ms, 2);
    assert!(send.cancellation_token.is_empty() && !send.is_cancellation_request);
    assert!(cancel.is_cancellation_request);
    assert_eq!(cancel.cancellation_token, "t");
    assert!(cancel.target.is_none() && cancel.argument.is_none());
}

#[test]
fn concurrent_requests_share_one_handler() {
    fn assert_send_sync<T: Send + Sync + Clone + 'static>(_: &T) {}
    let (handler, calls) = counter_handler();
    assert_send_sync(&handler);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let responses = runtime.block_on(async {
        let tasks: Vec<_> = (0..100)
            .map(|i| {
                let handler = handler.clone();
                let request = with_state(Request::to("test/counter", &format!("id-{i}")))
                    .invoke(None, int(i));
                tokio::spawn(async move { handler.handle(request.encode()).await })
            })
            .collect();
        let mut out = Vec::new();
        for task in tasks {
            out.push(task.await.unwrap().unwrap());
        }
        out
    });
    assert_eq!(calls.load(Ordering::SeqCst), 100);
    for (i, response) in responses.iter().enumerate() {
        let mutation = &result(response).state_mutations[0];
        let count = i64::from_bytes(&mutation.state_value.as_ref().unwrap().value).unwrap();
        assert_eq!(count, 10 + i64::try_from(i).unwrap());
    }
}
