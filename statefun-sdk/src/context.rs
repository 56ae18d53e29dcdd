//! [`Context`]: what a function can see and do during one invocation.

use std::fmt;
use std::time::Duration;

use crate::buffers;
use crate::protocol::ResponseWriter;
use crate::value::{IntoTypedBytes, ValueError};
use crate::{Address, CancellationToken, Destination, EgressIdentifier, Storage, TypeName};

/// The view a function has of one invocation: its own address, the caller,
/// its state, and the side effects it produces.
///
/// Side effects are collected in call order and returned to the runtime
/// when the whole batch has run; if any invocation of the batch fails,
/// none of them happen.
///
/// ```
/// use std::time::Duration;
/// use stateful_functions::{Address, CancellationToken, Context, FunctionError, TypeName};
///
/// const REMINDER: TypeName = TypeName::from_static("com.example/reminder");
///
/// fn schedule(ctx: &mut Context) -> Result<(), FunctionError> {
///     let me = ctx.self_address().clone();
///     let token = CancellationToken::new(format!("remind:{}", me.id()))?;
///     ctx.send_after_with_token(
///         Duration::from_secs(15 * 60),
///         token,
///         Address::new(REMINDER, me.id()),
///         &"wake up".to_owned(),
///     )?;
///     Ok(())
/// }
/// # let _ = schedule;
/// ```
pub struct Context {
    caller: Option<Address>,
    storage: Storage,
    response: ResponseWriter,
}

impl Context {
    #[inline(always)]
    pub(crate) fn new(storage: Storage) -> Self {
        Self {
            caller: None,
            storage,
            response: ResponseWriter::default(),
        }
    }

    pub(crate) fn set_caller(&mut self, caller: Option<Address>) {
        self.caller = caller;
    }

    /// The answer to the batch: its state mutations and effects.
    pub(crate) fn finish(&self) -> bytes::Bytes {
        self.response.finish(self.storage.mutations())
    }

    /// The address of the function instance being invoked.
    #[must_use]
    pub fn self_address(&self) -> &Address {
        self.storage.address()
    }

    /// The function that sent the current message; `None` for a message
    /// from an ingress (and for a caller that is not a valid function
    /// address, which the runtime never sends).
    #[must_use]
    pub fn caller(&self) -> Option<&Address> {
        self.caller.as_ref()
    }

    /// The state of this address.
    pub fn storage(&mut self) -> &mut Storage {
        &mut self.storage
    }

    /// Sends a message to another function (or to this one).
    ///
    /// `target` is a [`TypedAddress`](crate::TypedAddress), such as
    /// `Account::address(id)` for a `#[function]` or `#[remote_function]`
    /// type, which takes only a message the function handles (anything
    /// else is a compile error), or an [`Address`], which takes any
    /// payload: a reference to a [`Value`](crate::Value), or
    /// [`TypedBytes`](crate::TypedBytes). Either is passed by value or by
    /// reference.
    ///
    /// ```standalone_crate
    /// use stateful_functions::{function, Context, FunctionError, Value};
    ///
    /// #[derive(serde::Serialize, serde::Deserialize, Value)]
    /// #[statefun(typename = "com.example.types/Debit")]
    /// struct Debit {
    ///     cents: i64,
    /// }
    ///
    /// #[derive(Default)]
    /// struct Account;
    ///
    /// #[function(typename = "com.example/account")]
    /// impl Account {
    ///     #[handler]
    ///     async fn debit(&self, _ctx: &mut Context, _debit: Debit) -> Result<(), FunctionError> {
    ///         Ok(())
    ///     }
    /// }
    ///
    /// fn pay(ctx: &mut Context) -> Result<(), FunctionError> {
    ///     let alice = Account::address("alice");
    ///     ctx.send(&alice, &Debit { cents: 250 })?;
    ///     // ctx.send(&alice, &"250".to_owned())?; // error: `Account` has no handler for `String`
    ///     Ok(())
    /// }
    /// # let _ = pay;
    /// ```
    ///
    /// # Errors
    ///
    /// When the value does not encode.
    #[allow(clippy::needless_pass_by_value)] // a by-value address is the common case
    pub fn send<P: IntoTypedBytes>(
        &mut self,
        target: impl Destination<P>,
        value: P,
    ) -> Result<(), SendError> {
        let response = &mut self.response;
        let target = target.address();
        encode_then(value, |type_name, bytes| {
            response.message(target, type_name, bytes);
        })
    }

    /// Sends a message after `delay`. The runtime counts whole milliseconds;
    /// a finer delay is truncated. `target` is checked as for
    /// [`Context::send`].
    ///
    /// # Errors
    ///
    /// When the value does not encode, or the delay does not fit the
    /// protocol's `i64` milliseconds.
    #[allow(clippy::needless_pass_by_value)] // as for `send`
    pub fn send_after<P: IntoTypedBytes>(
        &mut self,
        delay: Duration,
        target: impl Destination<P>,
        value: P,
    ) -> Result<(), SendError> {
        self.push_delayed(delay, target.address(), value, None)
    }

    /// Sends a message after `delay`, cancellable with `token` until it is
    /// delivered. `target` is checked as for [`Context::send`].
    ///
    /// The runtime fails the job if `token` is still pending for this
    /// address's id, so make tokens unique per pending message.
    ///
    /// # Errors
    ///
    /// As [`Context::send_after`].
    #[allow(clippy::needless_pass_by_value)] // as for `send`
    pub fn send_after_with_token<P: IntoTypedBytes>(
        &mut self,
        delay: Duration,
        token: CancellationToken,
        target: impl Destination<P>,
        value: P,
    ) -> Result<(), SendError> {
        self.push_delayed(delay, target.address(), value, Some(&token))
    }

    /// Cancels the delayed message sent with `token` by an address with this
    /// id. Best effort: nothing happens if it was delivered already.
    pub fn cancel_delayed_message(&mut self, token: &CancellationToken) {
        self.response.cancellation(token);
    }

    /// Sends a record to an egress. For the generic Kafka and Kinesis
    /// egresses, send a [`KafkaRecord`](crate::KafkaRecord) or a
    /// [`KinesisRecord`](crate::KinesisRecord); any other egress receives
    /// the typed value as it is.
    ///
    /// # Errors
    ///
    /// When the value does not encode.
    pub fn send_egress(
        &mut self,
        egress: &EgressIdentifier,
        value: impl IntoTypedBytes,
    ) -> Result<(), SendError> {
        let response = &mut self.response;
        encode_then(value, |type_name, bytes| {
            response.egress(egress, type_name, bytes);
        })
    }

    fn push_delayed(
        &mut self,
        delay: Duration,
        target: &Address,
        value: impl IntoTypedBytes,
        token: Option<&CancellationToken>,
    ) -> Result<(), SendError> {
        let delay_ms =
            i64::try_from(delay.as_millis()).map_err(|_| SendError::DelayOutOfRange { delay })?;
        let response = &mut self.response;
        encode_then(value, |type_name, bytes| {
            response.delayed(delay_ms, target, (type_name, bytes), token);
        })
    }
}

/// Encodes `value` into the thread's scratch buffer and hands its type name
/// and bytes to `push`, which writes them into the response. The error
/// is kept aside rather than returned through `with_scratch`, which then
/// has nothing to pass back.
#[inline(always)]
fn encode_then(
    value: impl IntoTypedBytes,
    push: impl FnOnce(&TypeName, &[u8]),
) -> Result<(), SendError> {
    let mut error = None;
    buffers::with_scratch(|scratch| match value.encode_payload(scratch) {
        Ok(type_name) => push(&type_name, scratch),
        Err(e) => error = Some(e),
    });
    error.map_or(Ok(()), |e| Err(e.into()))
}

impl fmt::Debug for Context {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Context")
            .field("address", self.self_address())
            .field("caller", &self.caller())
            .field("storage", &self.storage)
            .finish_non_exhaustive()
    }
}

/// A message or egress record could not be sent.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SendError {
    /// The payload did not encode.
    #[error(transparent)]
    Value(#[from] ValueError),
    /// The delay is longer than the protocol's `i64` milliseconds.
    #[error("a delay of {delay:?} does not fit the protocol's i64 milliseconds")]
    DelayOutOfRange {
        /// The requested delay.
        delay: Duration,
    },
}
