//! Typed sends compile for every sending API, to `#[function]`,
//! `#[remote_function]` and hand-declared targets; untyped addresses take
//! anything, as before.

use std::time::Duration;

use statefun_harness::Harness;
use stateful_functions::{
    Address, Addressable, Bytes, CancellationToken, Context, FunctionError, Handles, TypeName,
    TypedAddress, TypedBytes, Value, function, remote_function,
};

#[derive(serde::Serialize, serde::Deserialize, Value)]
#[statefun(typename = "com.example.types/Debit")]
struct Debit {
    cents: i64,
}

#[derive(serde::Serialize, serde::Deserialize, Value)]
#[statefun(typename = "com.example.types/Credit")]
struct Credit {
    cents: i64,
}

#[derive(serde::Serialize, serde::Deserialize, Value)]
#[statefun(typename = "com.example.types/Greet")]
struct Greet {
    name: String,
}

#[derive(Default)]
struct Account;

#[function(typename = "com.example/account")]
impl Account {
    #[handler]
    async fn debit(&self, ctx: &mut Context, debit: Debit) -> Result<(), FunctionError> {
        // Every sending API takes a typed address, by value or by reference.
        let me = Account::address(ctx.self_address().id());
        ctx.send(&me, &Credit { cents: debit.cents })?;
        ctx.send(me.clone(), &Credit { cents: 1 })?;
        ctx.send_after(Duration::from_secs(1), &me, &Debit { cents: 1 })?;
        ctx.send_after_with_token(
            Duration::from_secs(1),
            CancellationToken::new("t")?,
            me.clone(),
            &Debit { cents: 2 },
        )?;
        ctx.send(PyGreeter::address("Kim"), &Greet { name: "Kim".into() })?;
        ctx.send(Ledger::address("main"), &7_i64)?;
        ctx.send(TypedAddress::<Audit>::new("x"), &"anything".to_owned())?;
        ctx.send(TypedAddress::<Audit>::new("x"), &Debit { cents: 3 })?;
        // The untyped address takes any payload, raw bytes included.
        let raw = TypedBytes::new(TypeName::from_static("com.example/raw"), Bytes::new());
        ctx.send(me.as_address(), &raw)?;
        ctx.send(me.into_address(), &"unchecked".to_owned())?;
        let untyped: Address = "com.example/other:1".parse()?;
        ctx.send(&untyped, &1_i32)?;
        ctx.send(untyped, raw)?;
        Ok(())
    }

    #[handler]
    async fn credit(&self, _ctx: &mut Context, _credit: Credit) -> Result<(), FunctionError> {
        Ok(())
    }
}

/// A Python function.
#[remote_function(typename = "example/greeter", handles(Greet, String))]
pub struct PyGreeter;

/// A function type that defines its own `address`: no generated one.
#[derive(Default)]
struct Ledger;

#[function(typename = "com.example/ledger", auto_register = false)]
impl Ledger {
    fn address(id: &str) -> TypedAddress<Self> {
        TypedAddress::new(format!("ledger-{id}"))
    }

    #[handler]
    async fn post(&self, _ctx: &mut Context, _cents: i64) -> Result<(), FunctionError> {
        Ok(())
    }
}

/// Declared by hand; accepts every message.
struct Audit;

impl Addressable for Audit {
    fn function_type() -> TypeName {
        TypeName::from_static("com.example/audit")
    }
}

impl<M: Value> Handles<M> for Audit {}

mod renamed {
    extern crate stateful_functions as sdk;

    #[sdk::remote_function(typename = "example/echo", handles(String), crate = "sdk")]
    pub struct Echo;
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut harness = Harness::builder().build()?;
    let alice = Account::address("alice");
    harness.send(&alice, &Debit { cents: 1 })?;
    harness.send(alice.clone(), &Credit { cents: 1 })?;
    harness.send(PyGreeter::address("Kim"), &"Kim".to_owned())?;
    harness.send(renamed::Echo::address("e"), &"hi".to_owned())?;
    harness.send(alice.as_address(), &42_i32)?;
    harness.send(Address::from(alice.clone()), &42_i32)?;
    assert_eq!(alice.to_string(), "com.example/account:alice");
    assert_eq!(Ledger::address("a").id(), "ledger-a");
    assert_eq!(PyGreeter::function_type().as_str(), "example/greeter");
    Ok(())
}
