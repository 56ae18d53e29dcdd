//! A greeter: counts how often it has seen each name and writes a greeting
//! to a Kafka egress. The count expires an hour after the last message.
//!
//! [`functions`] is everything a server needs; `main.rs` plays the StateFun
//! runtime's side of the protocol by hand to show the exchange.

use std::time::Duration;

use statefun_sdk::{
    Context, EgressIdentifier, Expiration, FunctionError, FunctionSpec, Functions, KafkaRecord,
    Message, StatefulFunction, TypeName, ValueSpec, async_trait,
};

/// The function type.
pub const GREETER: TypeName = TypeName::from_static("example/greeter");
/// Where greetings go: a Kafka egress in `module.yaml`.
pub const GREETINGS: EgressIdentifier = EgressIdentifier::from_static("example/greetings");
/// How many times this name was greeted; forgotten an hour after the last
/// message.
pub const SEEN: ValueSpec<i32> =
    ValueSpec::named("seen").with_expiration(Expiration::AfterCall(Duration::from_secs(3600)));

/// Greets by name.
#[derive(Debug)]
pub struct Greeter;

#[async_trait]
impl StatefulFunction for Greeter {
    async fn invoke(&self, ctx: &mut Context, message: Message) -> Result<(), FunctionError> {
        let name = message.decode::<String>()?;
        let seen = ctx.storage().get(&SEEN)?.unwrap_or(0) + 1;
        ctx.storage().set(&SEEN, &seen)?;
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

/// The registry a server (or test) serves.
///
/// # Errors
///
/// Never in practice: the declarations are constants checked at compile
/// time; registration errors are returned rather than unwrapped.
pub fn functions() -> Result<Functions, Box<dyn std::error::Error + Send + Sync>> {
    let spec = FunctionSpec::builder(GREETER)
        .with_state(&SEEN)
        .build(Greeter)?;
    Ok(Functions::new().with(spec)?)
}
