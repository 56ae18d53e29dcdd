//! Procedural macros for the StateFun Rust SDK. Use them through
//! `stateful-functions` (feature `macros`, on by default), which re-exports them
//! and whose public traits they implement:
//!
//! | macro | implements | by hand |
//! |---|---|---|
//! | [`#[derive(Value)]`](macro@Value) | `Value` | `impl Value` with `codec::json` / `codec::protobuf` |
//! | [`#[derive(State)]`](macro@State) | `State`, plus one `ValueSpec` constant per field | `ValueSpec` constants and `impl State` |
//! | [`#[function]`](macro@function) | `StatefulFunction`, `FunctionType`, `Handles` per message type, `fn address(id)`, registration | `impl StatefulFunction`, `Functions::with(value.spec()?)` |
//! | [`#[remote_function]`](macro@remote_function) | `Addressable`, `Handles` per listed message type, `fn address(id)` | `impl Addressable` and `impl Handles<T>` |
//!
//! Every problem StateFun would only report in production (a malformed
//! type name, an invalid or duplicate state name, a bad duration, a wrong
//! handler signature) is a compile error pointing at the offending token;
//! all errors of an item are reported at once, and the item is still
//! emitted so the rest of the code (and IDEs) keep working.

mod args;
mod ctxt;
mod function;
mod remote;
mod rules;
mod state;
mod value;

use proc_macro::TokenStream;

/// Ties a Rust type to a StateFun typename and a codec.
///
/// * `#[statefun(typename = "<namespace>/<Name>")]`: the typename
///   (required for JSON).
/// * `#[statefun(codec = "json")]` (the default, through serde; the type
///   derives `Serialize` and `Deserialize`) or `codec = "protobuf"` (a
///   prost message; the typename defaults to
///   `type.googleapis.com/<package>.<Name>` from `prost::Name`).
/// * `#[statefun(crate = "path")]`: where `stateful_functions` is, if renamed.
///
/// ```
/// use stateful_functions::Value;
///
/// #[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize, Value)]
/// #[statefun(typename = "com.example.types/AddToCart")]
/// struct AddToCart {
///     user_id: String,
///     item_id: String,
///     quantity: u32,
/// }
///
/// let msg = AddToCart { user_id: "Kim".into(), item_id: "socks".into(), quantity: 2 };
/// assert_eq!(AddToCart::type_name().as_str(), "com.example.types/AddToCart");
/// assert_eq!(AddToCart::from_bytes(&msg.to_bytes()?)?, msg);
/// # Ok::<(), stateful_functions::ValueError>(())
/// ```
#[proc_macro_derive(Value, attributes(statefun))]
pub fn derive_value(input: TokenStream) -> TokenStream {
    let input = syn::parse_macro_input!(input as syn::DeriveInput);
    value::derive(&input).into()
}

/// Declares the state values of a function once: each field is one value,
/// named after the field, of the field's type.
///
/// Generates, for each field, an associated constant
/// `ValueSpec<FieldType>` named after the field in upper case (`items` →
/// `Self::ITEMS`) for typed access with `ctx.storage()`, and implements
/// `State` so that `#[function(state = ...)]` reports every value in the
/// state handshake.
///
/// Field attributes:
/// * `#[state(name = "...")]`: the state name, when not the field name;
/// * `#[state(expire_after_write = "15m")]` or
///   `#[state(expire_after_call = "1d")]`: expiration (never both), a
///   Flink duration (`stateful_functions::module_yaml::parse_duration`: `ms`,
///   `s`, `m`/`min`, `h`, `d` and their long forms) that names its unit, is
///   longer than zero and is whole milliseconds.
///
/// ```
/// use stateful_functions::{Expiration, State};
/// use std::time::Duration;
///
/// #[derive(State)]
/// struct CartState {
///     /// Item id to quantity, as JSON.
///     items: String,
///     #[state(name = "seen", expire_after_call = "15m")]
///     last_seen: i64,
/// }
///
/// assert_eq!(CartState::ITEMS.name(), "items");
/// assert_eq!(CartState::LAST_SEEN.name(), "seen");
/// assert_eq!(
///     CartState::LAST_SEEN.expiration(),
///     Expiration::AfterCall(Duration::from_secs(900))
/// );
/// # let _ = CartState { items: String::new(), last_seen: 0 };
/// ```
#[proc_macro_derive(State, attributes(state))]
pub fn derive_state(input: TokenStream) -> TokenStream {
    let input = syn::parse_macro_input!(input as syn::DeriveInput);
    state::derive(&input).into()
}

/// Declares a function type on an impl block, with one `#[handler]`
/// method per message type.
///
/// Arguments:
/// * `typename = "<namespace>/<name>"` (required; exactly one `/`);
/// * `state = Path` to a `#[derive(State)]` struct;
/// * `auto_register = false` to opt out of automatic registration (the type
///   then needs no `Default`; register it with `Functions::with(value.spec()?)`);
/// * `crate = "path"` where `stateful_functions` is, if renamed.
///
/// Each `#[handler]` is `async fn name(&self, ctx: &mut Context, message: T)
/// -> Result<(), E>` where `T` implements `Value` and `E` converts into
/// `FunctionError`. A message is dispatched by its typename; one no handler
/// accepts fails with an error listing the accepted types.
///
/// Also generates `Handles<T>` for each handler's message type `T` and
/// `fn address(id) -> TypedAddress<Self>` (unless the impl block defines
/// its own `address`), so that `ctx.send(Greeter::address("Kim"), &msg)`
/// compiles only when a handler takes `msg`'s type.
///
/// ```standalone_crate
/// use stateful_functions::{function, Context, FunctionError, FunctionType, Functions, State};
///
/// #[derive(State)]
/// struct GreeterState {
///     #[state(expire_after_call = "1h")]
///     seen: i32,
/// }
///
/// #[derive(Default)]
/// struct Greeter;
///
/// #[function(typename = "example/greeter", state = GreeterState)]
/// impl Greeter {
///     #[handler]
///     async fn greet(&self, ctx: &mut Context, name: String) -> Result<(), FunctionError> {
///         let seen = ctx.storage().get(&GreeterState::SEEN)?.unwrap_or(0) + 1;
///         ctx.storage().set(&GreeterState::SEEN, &seen)?;
///         let _ = name;
///         Ok(())
///     }
/// }
///
/// // Either collect every #[function] in the binary ...
/// let all = Functions::auto_registered()?;
/// assert!(all.get(&Greeter::TYPE_NAME).is_some());
/// // ... or register explicitly.
/// let explicit = Functions::new().with(Greeter.spec()?)?;
/// assert_eq!(explicit.get(&Greeter::TYPE_NAME).unwrap().states()[0].name(), "seen");
/// # let _ = GreeterState { seen: 0 };
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[proc_macro_attribute]
pub fn function(args: TokenStream, item: TokenStream) -> TokenStream {
    function::expand(args.into(), item.into()).into()
}

/// Declares a function type served elsewhere, by another StateFun SDK
/// (Python, Java, Go, JavaScript, …) or another Rust service: its
/// typename and the message types it handles, so that typed sends to it
/// are checked at compile time as they are for a `#[function]`.
///
/// Goes on a struct (usually a unit struct) that stands for the function;
/// it implements nothing and is never registered.
///
/// Arguments:
/// * `typename = "<namespace>/<name>"` (required; exactly one `/`);
/// * `handles(T, U, ...)` (required): the message types, each a `Value`
///   with the typename the remote function expects;
/// * `crate = "path"` where `stateful_functions` is, if renamed.
///
/// Generates `Addressable` (the typename), `Handles<T>` for each listed
/// type, and `fn address(id) -> TypedAddress<Self>`.
///
/// ```standalone_crate
/// use stateful_functions::{remote_function, Context, FunctionError, Value};
///
/// #[derive(serde::Serialize, serde::Deserialize, Value)]
/// #[statefun(typename = "example.types/Greet")]
/// struct Greet {
///     name: String,
/// }
///
/// /// The greeter of the Python SDK's examples.
/// #[remote_function(typename = "example/greeter", handles(Greet))]
/// struct PyGreeter;
///
/// fn greet(ctx: &mut Context) -> Result<(), FunctionError> {
///     ctx.send(PyGreeter::address("Kim"), &Greet { name: "Kim".into() })?;
///     Ok(())
/// }
///
/// assert_eq!(PyGreeter::address("Kim").to_string(), "example/greeter:Kim");
/// # let _ = greet;
/// ```
#[proc_macro_attribute]
pub fn remote_function(args: TokenStream, item: TokenStream) -> TokenStream {
    remote::expand(args.into(), item.into()).into()
}
