//! Rust SDK for [Apache Flink Stateful Functions](https://nightlies.apache.org/flink/flink-statefun-docs-stable/)
//! (StateFun) remote functions.
//!
//! StateFun keeps the state and messaging of functions consistent and fault
//! tolerant on Flink; the functions run remotely and speak a request-reply
//! protocol. For each batch of messages to one function instance, the
//! runtime sends the messages and the instance's current state; the function
//! answers with state mutations, outgoing messages, delayed messages and
//! egress records. This crate is the function side of that protocol,
//! wire-compatible with the StateFun 3.x runtime and the official SDKs.
//!
//! # How the types fit together
//!
//! * [`TypeName`] names function types, value types and egresses;
//!   [`Address`] is one function instance (type + id);
//!   [`TypedAddress<F>`] is one whose function type [`Handles`] a known
//!   set of message types, so that sending it anything else is a compile
//!   error (for functions in any language).
//! * [`Value`] ties a Rust type to a typename and a codec: the built-in
//!   `bool`, `i32`, `i64`, `f32`, `f64` and `String`, [`Json<T>`] and
//!   `Protobuf<T>`, or your own.
//! * [`ValueSpec<T>`] declares one typed state value with an
//!   [`Expiration`]; [`Storage`] reads and writes it during a batch.
//! * [`StatefulFunction`] is the function; [`Context`] is what it sees and
//!   does during one invocation: its address, the caller, the state,
//!   [`Context::send`], [`Context::send_after`],
//!   [`Context::cancel_delayed_message`] and [`Context::send_egress`]
//!   (with [`KafkaRecord`] and [`KinesisRecord`] for the generic egresses).
//! * [`FunctionSpec`] pairs a function type with its declared state;
//!   [`Functions`] is the registry.
//! * [`RequestReplyHandler`] turns request bytes into response bytes. It
//!   has no HTTP inside, so it runs behind any server, on AWS Lambda, or in
//!   a test harness.
//!
//! With the `macros` feature (on by default), `#[derive(Value)]`,
//! `#[derive(State)]` and `#[function]` declare value types, state and
//! functions once, checked at compile time (`#[remote_function]` declares
//! what a function served elsewhere handles, for typed sends); the
//! [declaring functions guide][guide] shows each next to
//! the code it stands for.
//!
//! # Example
//!
//! A greeter that counts how often it has seen each name:
//!
//! ```
//! use std::time::Duration;
//! use stateful_functions::{
//!     async_trait, Context, EgressIdentifier, Expiration, FunctionError, FunctionSpec,
//!     Functions, KafkaRecord, Message, RequestReplyHandler, StatefulFunction, TypeName, ValueSpec,
//! };
//!
//! const GREETER: TypeName = TypeName::from_static("example/greeter");
//! const GREETINGS: EgressIdentifier = EgressIdentifier::from_static("example/greetings");
//! const SEEN: ValueSpec<i32> = ValueSpec::named("seen")
//!     .with_expiration(Expiration::AfterCall(Duration::from_secs(24 * 3600)));
//!
//! struct Greeter;
//!
//! #[async_trait]
//! impl StatefulFunction for Greeter {
//!     async fn invoke(&self, ctx: &mut Context, message: Message) -> Result<(), FunctionError> {
//!         let name = message.decode::<String>()?;
//!         let seen = ctx.storage().get(&SEEN)?.unwrap_or(0) + 1;
//!         ctx.storage().set(&SEEN, &seen)?;
//!         let greeting = format!("Hello {name}, visit number {seen}");
//!         ctx.send_egress(&GREETINGS, KafkaRecord::new("greetings", greeting).with_key(name))?;
//!         Ok(())
//!     }
//! }
//!
//! let functions = Functions::new()
//!     .with(FunctionSpec::builder(GREETER).with_state(&SEEN).build(Greeter)?)?;
//! let handler = RequestReplyHandler::new(functions);
//! // Serve `handler.handle(body)` behind HTTP, or drive it from a test.
//! # let _ = handler;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Features
//!
//! | feature | default | enables |
//! |---|---|---|
//! | `macros` | yes | `#[function]`, `#[remote_function]`, `#[derive(State)]`, `#[derive(Value)]`, automatic registration (`inventory`) |
//! | `json` | yes | [`Json<T>`] values through serde |
//! | `protobuf` | no | `Protobuf<T>` values for your own prost messages |
//! | `tower` | with `server` | [`RequestReplyService`]: a tower `Service` over `http` requests (axum, hyper, any tower stack) |
//! | `server` | yes | [`Server`]: hyper 1, HTTP/1.1 and HTTP/2, graceful shutdown |
//! | `lambda` | no | [`lambda::run`]: AWS Lambda through `lambda_http` |
//! | `module-yaml` | no | `module_yaml::Module::parse`: reads and checks a `module.yaml` (serde, serde_norway) |
//!
//! # Compatibility
//!
//! The wire format is the StateFun v3 request-reply protocol (runtime 3.1 to
//! 3.3, and forks that keep it). Responses match the official Python SDK
//! 3.3.0 byte for byte (golden tests in `tests/golden`), except that JSON
//! values are compact and that empty instance ids are accepted (the runtime
//! allows them; the Python SDK rejects them).
#![doc(test(attr(deny(warnings))))]
// What the docs above link to when a feature is off, so that they build
// with any feature set: the item's page on docs.rs, where every feature is
// on. The empty line ends the text above, so that these are link
// definitions.
#![doc = ""]
#![cfg_attr(
    all(feature = "macros", feature = "json"),
    doc = "[guide]: guide::declaring_functions"
)]
#![cfg_attr(
    not(all(feature = "macros", feature = "json")),
    doc = "[guide]: https://docs.rs/stateful-functions/latest/stateful_functions/guide/declaring_functions/index.html"
)]
#![cfg_attr(
    not(feature = "json"),
    doc = "[`Json<T>`]: https://docs.rs/stateful-functions/latest/stateful_functions/struct.Json.html"
)]
#![cfg_attr(
    not(feature = "tower"),
    doc = "[`RequestReplyService`]: https://docs.rs/stateful-functions/latest/stateful_functions/struct.RequestReplyService.html"
)]
#![cfg_attr(
    not(feature = "server"),
    doc = "[`Server`]: https://docs.rs/stateful-functions/latest/stateful_functions/struct.Server.html"
)]
#![cfg_attr(
    not(feature = "lambda"),
    doc = "[`lambda::run`]: https://docs.rs/stateful-functions/latest/stateful_functions/lambda/fn.run.html"
)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod address;
mod buffers;
pub mod codec;
mod context;
mod egress;
mod error_chain;
mod function;
mod handler;
#[cfg(feature = "tower")]
mod http;
mod message;
mod module;
pub mod module_yaml;
mod protocol;
mod registry;
mod small_bytes;
mod state;
mod text;
mod typename;
mod value;

pub use address::{
    Address, AddressError, Addressable, Destination, HandledBy, Handles, TypedAddress,
};
pub use async_trait::async_trait;
pub use bytes::Bytes;
pub use context::{Context, SendError};
pub use egress::{
    EgressIdentifier, KAFKA_RECORD_TYPE, KINESIS_RECORD_TYPE, KafkaRecord, KinesisRecord,
};
pub use error_chain::ErrorChain;
pub use function::{
    FunctionError, FunctionSpec, FunctionSpecBuilder, FunctionType, StatefulFunction,
};
pub use handler::{HandlerError, RequestReplyHandler};
#[cfg(feature = "lambda")]
#[cfg_attr(docsrs, doc(cfg(feature = "lambda")))]
pub use http::lambda;
#[cfg(feature = "server")]
#[cfg_attr(docsrs, doc(cfg(feature = "server")))]
pub use http::{BoundServer, DEFAULT_HEADER_READ_TIMEOUT, Server};
#[cfg(feature = "tower")]
#[cfg_attr(docsrs, doc(cfg(feature = "tower")))]
pub use http::{
    DEFAULT_BODY_LIMIT, DEFAULT_BODY_TIMEOUT, DEFAULT_PATH, RequestReplyService,
    UrlPathTemplateError,
};
pub use message::{CancellationToken, EmptyTokenError, Message, UnexpectedMessage};
pub use module::{KafkaTopic, ModuleYaml};
pub use registry::{Functions, Location, Origin, RegistryError};
#[cfg(feature = "macros")]
#[cfg_attr(docsrs, doc(cfg(feature = "macros")))]
pub use registry::{RegisteredFunction, registered_functions};
pub use state::{
    Expiration, NameProblem, SpecError, State, StateError, StateErrorKind, StateSpec, Storage,
    ValueSpec,
};
pub use typename::{TypeName, TypeNameError};
#[cfg(feature = "protobuf")]
#[cfg_attr(docsrs, doc(cfg(feature = "protobuf")))]
pub use value::Protobuf;
pub use value::{BoxError, IntoTypedBytes, TypedBytes, Value, ValueError};
#[cfg(feature = "json")]
#[cfg_attr(docsrs, doc(cfg(feature = "json")))]
pub use value::{Json, JsonType};

#[cfg(feature = "macros")]
#[cfg_attr(docsrs, doc(cfg(feature = "macros")))]
#[doc(inline)]
pub use statefun_macros::{State, Value, function, remote_function};

/// Support for the code the macros generate. Not a public API: it may
/// change in any release.
#[cfg(feature = "macros")]
#[doc(hidden)]
pub mod __private {
    pub use crate::registry::Registration;
    pub use async_trait::async_trait;
    pub use bytes::Bytes;
    pub use inventory;

    use crate::{FunctionError, Message, TypeName, UnexpectedMessage};

    /// How automatic registration makes an instance.
    #[diagnostic::on_unimplemented(
        message = "`{Self}` needs `Default` to be registered automatically",
        note = "derive or implement `Default`, or pass `auto_register = false` to #[function] and register an instance with `Functions::with(value.spec()?)`"
    )]
    pub trait AutoRegister: Sized {
        /// A new instance.
        fn make() -> Self;
    }

    impl<T: Default> AutoRegister for T {
        fn make() -> Self {
            T::default()
        }
    }

    /// Fails to compile unless `T` is a value type: a message type listed
    /// in `#[remote_function(handles(...))]`.
    pub const fn assert_value<T: crate::Value>() {}

    /// Converts a handler's error (a generic function, so the conversion
    /// is not linted in the user's crate when it is the identity).
    pub fn into_function_error<E: Into<FunctionError>>(error: E) -> FunctionError {
        error.into()
    }

    /// `message.decode::<T>()` after `message.is::<T>()`, without comparing
    /// the typenames again.
    ///
    /// # Errors
    ///
    /// As [`Message::decode`], but for a typename mismatch.
    pub fn decode_checked<T: crate::Value>(message: &Message) -> Result<T, crate::ValueError> {
        debug_assert!(message.is::<T>());
        message.decode_value(T::type_name())
    }

    /// The error for a message no handler accepts.
    #[must_use]
    pub fn unexpected_message(message: &Message, accepted: &[TypeName]) -> FunctionError {
        FunctionError::from(UnexpectedMessage::new(
            message.value_type_name(),
            accepted.iter().cloned(),
        ))
    }
}

/// Guides, with examples that compile and run (they use the macros and
/// JSON values).
#[cfg(all(feature = "macros", feature = "json"))]
#[cfg_attr(docsrs, doc(cfg(all(feature = "macros", feature = "json"))))]
pub mod guide {
    #[doc = include_str!("docs/declaring-functions.md")]
    pub mod declaring_functions {}
}

/// Compiles and runs the Rust snippets of the repository README.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
pub struct ReadmeDoctests;

/// The typenames of the built-in types, `io.statefun.types/*`.
pub mod types {
    pub use crate::value::{BOOL_TYPE, DOUBLE_TYPE, FLOAT_TYPE, INT_TYPE, LONG_TYPE, STRING_TYPE};
}
