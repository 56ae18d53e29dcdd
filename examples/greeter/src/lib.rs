//! A greeter: counts how often it has seen each name and writes a greeting
//! to a Kafka egress. The count expires an hour after the last message.
//!
//! [`functions`] is everything a server needs; `main.rs` plays the StateFun
//! runtime's side of the protocol by hand to show the exchange.

use stateful_functions::{
    Context, EgressIdentifier, FunctionError, FunctionType, Functions, KafkaRecord, State, function,
};

/// Where greetings go: a Kafka egress in `module.yaml`.
pub const GREETINGS: EgressIdentifier = EgressIdentifier::from_static("example/greetings");

/// The greeter's state, declared once.
#[derive(Debug, State)]
pub struct GreeterState {
    /// How many times this name was greeted; forgotten an hour after the
    /// last message.
    #[state(expire_after_call = "1h")]
    pub seen: i32,
}

/// Greets by name.
#[derive(Debug, Default)]
pub struct Greeter;

#[function(typename = "example/greeter", state = GreeterState)]
impl Greeter {
    /// A name to greet.
    #[handler]
    async fn greet(&self, ctx: &mut Context, name: String) -> Result<(), FunctionError> {
        let seen = ctx.storage().get(&GreeterState::SEEN)?.unwrap_or(0) + 1;
        ctx.storage().set(&GreeterState::SEEN, &seen)?;
        let greeting = match seen {
            1 => format!("Hello {name}!"),
            n => format!("Hello again {name}, visit number {n}."),
        };
        ctx.send_egress(
            &GREETINGS,
            KafkaRecord::new("greetings", greeting).with_key(name),
        )?;
        Ok(())
    }
}

/// The registry a server (or test) serves: every `#[function]` of the
/// binary.
///
/// # Errors
///
/// When a declaration is invalid or declared twice.
pub fn functions() -> Result<Functions, Box<dyn std::error::Error + Send + Sync>> {
    let functions = Functions::auto_registered()?;
    debug_assert!(functions.get(&Greeter::TYPE_NAME).is_some());
    Ok(functions)
}
