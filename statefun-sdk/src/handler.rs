//! [`RequestReplyHandler`]: request bytes in, response bytes out.

use std::any::Any;
use std::fmt;
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll};

use bytes::Bytes;

use crate::protocol::{self, AddressParts, Request};
use crate::{Address, BoxError, Context, FunctionSpec, Functions, Message, Storage, TypeName};

/// Runs the StateFun request-reply protocol over a registry of functions:
/// takes the body of a request from the runtime, returns the body of the
/// reply. It knows nothing of HTTP; the serving adapters wrap it.
///
/// For each request it
/// 1. decodes the `ToFunction` (state values and payloads stay slices of
///    the request buffer);
/// 2. finds the function type (an unknown type is an error);
/// 3. matches the declared state to the received state by name; if any
///    declared value is missing it answers `IncompleteInvocationContext`
///    listing all of them, and runs nothing;
/// 4. runs the batch's invocations in order over one view of the state;
/// 5. answers one `InvocationResponse`: one mutation per state value the
///    batch wrote or removed, then messages, delayed messages and egress
///    records in call order.
///
/// If any invocation fails or panics, the whole batch fails with no partial
/// result, as the runtime expects (it retries the batch).
///
/// The handler is cheap to clone and takes no locks: one handler serves any
/// number of concurrent requests.
///
/// ```
/// use bytes::Bytes;
/// # use stateful_functions::{async_trait, Context, FunctionError, Message, StatefulFunction};
/// use stateful_functions::{FunctionSpec, Functions, RequestReplyHandler, TypeName};
/// # struct Noop;
/// # #[async_trait]
/// # impl StatefulFunction for Noop {
/// #     async fn invoke(&self, _: &mut Context, _: Message) -> Result<(), FunctionError> { Ok(()) }
/// # }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let functions = Functions::new()
///     .with(FunctionSpec::builder(TypeName::from_static("ns/fn")).build(Noop)?)?;
/// let handler = RequestReplyHandler::new(functions);
///
/// // ToFunction{invocation{target{namespace:"ns", type:"fn", id:"1"}}}
/// let request = Bytes::from_static(b"\xa2\x06\x0d\x0a\x0b\x0a\x02ns\x12\x02fn\x1a\x011");
/// let response = handler.handle(request).await?;
/// // FromFunction{invocation_result{}}: nothing to do.
/// assert_eq!(&response[..], b"\xa2\x06\x00");
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct RequestReplyHandler {
    functions: Arc<Functions>,
}

impl RequestReplyHandler {
    /// A handler serving `functions`.
    #[must_use]
    pub fn new(functions: Functions) -> Self {
        Self {
            functions: Arc::new(functions),
        }
    }

    /// The functions this handler serves.
    #[must_use]
    pub fn functions(&self) -> &Functions {
        &self.functions
    }

    /// Handles one request body and returns the response body.
    ///
    /// # Errors
    ///
    /// A malformed request, an unknown function type, or a function that
    /// failed or panicked; see [`HandlerError`]. No error is a partial
    /// result: the runtime should retry the whole batch.
    pub async fn handle(&self, body: Bytes) -> Result<Bytes, HandlerError> {
        // The request and the context are built where this future keeps
        // them, and never moved: they are large, and so were the copies.
        let mut request = Request::default();
        request
            .read(body)
            .map_err(|e| HandlerError::MalformedRequest {
                reason: e.to_string(),
            })?;
        let (spec, address) = self.target(&request)?;
        let mut ctx = Context::new(Storage::new(spec.shared_states(), address));
        if let Err(missing) = ctx.storage().resolve(|name| request.state(name)) {
            let states = spec.states();
            return Ok(protocol::incomplete(missing.iter().map(|&i| &states[i])));
        }
        let invocations = request.invocations();
        let batch_size = invocations.len();
        record_span(spec, &ctx, batch_size);

        for (index, invocation) in invocations.enumerate() {
            let caller = invocation
                .caller()
                .and_then(|caller| self.caller(&request, caller));
            ctx.set_caller(caller);
            let (type_name, value) = invocation.message();
            let message = Message::new(type_name, value);
            // A hand-written `invoke` may run code before it returns its
            // future: a panic in either is the function's.
            let function = spec.function();
            let ctx_ref = &mut ctx;
            let outcome =
                match catch_unwind(AssertUnwindSafe(move || function.invoke(ctx_ref, message))) {
                    Ok(future) => CatchUnwind(future).await,
                    Err(panic) => Err(panic),
                };
            match outcome {
                Ok(Ok(())) => {}
                Ok(Err(error)) => {
                    return Err(HandlerError::FunctionFailed {
                        address: ctx.self_address().clone(),
                        invocation: index,
                        batch_size,
                        source: error.into_inner(),
                    });
                }
                Err(panic) => {
                    return Err(HandlerError::FunctionPanicked {
                        address: ctx.self_address().clone(),
                        invocation: index,
                        batch_size,
                        message: panic_message(&*panic),
                    });
                }
            }
        }
        Ok(ctx.finish())
    }

    /// The function the batch is for, and the address it runs at.
    fn target(&self, request: &Request) -> Result<(&FunctionSpec, Address), HandlerError> {
        let Some(target) = request.target() else {
            return Err(HandlerError::MalformedRequest {
                reason: "the invocation batch has no target address".into(),
            });
        };
        let Some(spec) = self.functions.lookup_bytes(target.namespace, target.name) else {
            return Err(self.unknown_function(request, target));
        };
        Ok((
            spec,
            Address::from_parts(spec.type_name().clone(), request.id(target)),
        ))
    }

    #[cold]
    fn unknown_function(&self, request: &Request, target: AddressParts<'_>) -> HandlerError {
        HandlerError::UnknownFunction {
            function_type: format!(
                "{}/{}",
                String::from_utf8_lossy(target.namespace),
                String::from_utf8_lossy(target.name)
            ),
            id: request.id_lossy(target),
            registered: self.functions.type_names().cloned().collect(),
        }
    }

    /// The caller of an invocation. A registered caller type is reused
    /// without allocating. An address that is not a valid function address
    /// (the runtime never sends one) is treated as no caller rather than
    /// failing the batch, as the other SDKs do.
    fn caller(&self, request: &Request, caller: AddressParts<'_>) -> Option<Address> {
        let function_type = match self.functions.lookup_bytes(caller.namespace, caller.name) {
            Some(spec) => spec.type_name().clone(),
            // The reader checked both are UTF-8.
            None => TypeName::new(
                std::str::from_utf8(caller.namespace).ok()?,
                std::str::from_utf8(caller.name).ok()?,
            )
            .ok()?,
        };
        Some(Address::from_parts(function_type, request.id(caller)))
    }
}

impl fmt::Debug for RequestReplyHandler {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RequestReplyHandler")
            .field("functions", &self.functions)
            .finish()
    }
}

/// Fills in the caller's request span (the HTTP service's `statefun.http`),
/// if anyone is listening.
fn record_span(spec: &FunctionSpec, ctx: &Context, batch_size: usize) {
    let span = tracing::Span::current();
    if !span.is_disabled() {
        span.record("function_type", tracing::field::display(spec.type_name()));
        span.record("id", ctx.self_address().id());
        span.record("batch_size", batch_size);
    }
}

/// Polls a future, turning a panic into an error.
struct CatchUnwind<F>(F);

impl<F: Future + Unpin> Future for CatchUnwind<F> {
    type Output = Result<F::Output, Box<dyn Any + Send>>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Self::Output> {
        let inner = &mut self.0;
        match catch_unwind(AssertUnwindSafe(|| Pin::new(inner).poll(cx))) {
            Ok(Poll::Pending) => Poll::Pending,
            Ok(Poll::Ready(output)) => Poll::Ready(Ok(output)),
            Err(panic) => Poll::Ready(Err(panic)),
        }
    }
}

fn panic_message(panic: &(dyn Any + Send)) -> String {
    if let Some(s) = panic.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = panic.downcast_ref::<String>() {
        s.clone()
    } else {
        "a panic with a non-string payload".to_owned()
    }
}

/// Why a request could not be answered. None of these is a partial result.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HandlerError {
    /// The body is not a valid request (an HTTP adapter answers 400).
    #[error("malformed request: {reason}")]
    MalformedRequest {
        /// What is wrong, naming the protobuf message and field.
        reason: String,
    },
    /// No function of the target type is registered (HTTP 404).
    #[error(
        "no function of type {function_type} is registered (request for id {id:?}); registered types: {}",
        list(registered)
    )]
    UnknownFunction {
        /// The requested function type, as received.
        function_type: String,
        /// The requested id.
        id: String,
        /// What is registered.
        registered: Vec<TypeName>,
    },
    /// A function returned an error (HTTP 500; the runtime retries).
    #[error(
        "function {} failed at address {address} (invocation {} of {batch_size})",
        address.function_type(),
        invocation + 1
    )]
    FunctionFailed {
        /// The address being invoked.
        address: Address,
        /// Zero-based index of the failing invocation in the batch.
        invocation: usize,
        /// Number of invocations in the batch.
        batch_size: usize,
        /// The function's error.
        source: BoxError,
    },
    /// A function panicked (HTTP 500). The panic was caught; the handler
    /// keeps serving.
    #[error(
        "function {} panicked at address {address} (invocation {} of {batch_size}): {message}",
        address.function_type(),
        invocation + 1
    )]
    FunctionPanicked {
        /// The address being invoked.
        address: Address,
        /// Zero-based index of the panicking invocation in the batch.
        invocation: usize,
        /// Number of invocations in the batch.
        batch_size: usize,
        /// The panic message.
        message: String,
    },
}

fn list(types: &[TypeName]) -> String {
    crate::typename::join(types, "none")
}
