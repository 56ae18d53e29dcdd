//! Typed sends at run time: a message sent to a typed address reaches that
//! function instance, with its payload, from every sending API; a
//! `#[remote_function]` target is reached by its typename alone, whatever
//! serves it.

// A failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use stateful_functions::{
    Address, CancellationToken, Context, FunctionError, FunctionType, Functions, Message,
    RequestReplyHandler, State, StatefulFunction, TypeName, TypedAddress, Value, ValueSpec,
    async_trait, function, remote_function,
};
use statefun_harness::{Endpoint, Event, Harness};

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, Value)]
#[statefun(typename = "bank.types/Debit")]
struct Debit {
    cents: i64,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, Value)]
#[statefun(typename = "bank.types/Credit")]
struct Credit {
    cents: i64,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, Value)]
#[statefun(typename = "bank.types/Transfer")]
struct Transfer {
    from: String,
    to: String,
    cents: i64,
}

#[derive(State)]
struct AccountState {
    balance: i64,
}

#[derive(Default)]
struct Account;

#[function(typename = "bank/account", state = AccountState, auto_register = false)]
impl Account {
    #[handler]
    async fn debit(&self, ctx: &mut Context, debit: Debit) -> Result<(), FunctionError> {
        let balance = ctx.storage().get(&AccountState::BALANCE)?.unwrap_or(0);
        ctx.storage()
            .set(&AccountState::BALANCE, &(balance - debit.cents))?;
        Ok(())
    }

    #[handler]
    async fn credit(&self, ctx: &mut Context, credit: Credit) -> Result<(), FunctionError> {
        let balance = ctx.storage().get(&AccountState::BALANCE)?.unwrap_or(0);
        ctx.storage()
            .set(&AccountState::BALANCE, &(balance + credit.cents))?;
        Ok(())
    }
}

/// The audit log, served elsewhere (another SDK, another service): this
/// binary knows only its typename and what it handles.
#[remote_function(typename = "bank/audit", handles(Transfer))]
struct Audit;

#[derive(Default)]
struct Teller;

/// When the credit of a transfer arrives.
const CREDIT_DELAY: Duration = Duration::from_secs(60);
/// When a transfer reaches the audit log.
const AUDIT_DELAY: Duration = Duration::from_secs(120);

#[function(typename = "bank/teller", auto_register = false)]
impl Teller {
    #[handler]
    async fn transfer(&self, ctx: &mut Context, transfer: Transfer) -> Result<(), FunctionError> {
        let debit = Debit {
            cents: transfer.cents,
        };
        ctx.send(Account::address(&transfer.from), &debit)?;
        let to = Account::address(&transfer.to);
        let credit = Credit {
            cents: transfer.cents,
        };
        ctx.send_after(CREDIT_DELAY, &to, &credit)?;
        let token = CancellationToken::new(format!("audit:{}", transfer.from))?;
        ctx.send_after_with_token(AUDIT_DELAY, token, Audit::address("log"), &transfer)?;
        Ok(())
    }
}

/// What serves `bank/audit`, written without the macros and unknown to
/// the teller: it keeps the transfers it saw, as text.
struct AuditLog;

const SEEN: ValueSpec<String> = ValueSpec::named("seen");

#[async_trait]
impl StatefulFunction for AuditLog {
    async fn invoke(&self, ctx: &mut Context, message: Message) -> Result<(), FunctionError> {
        let transfer = message.decode::<Transfer>()?;
        let mut seen = ctx.storage().get(&SEEN)?.unwrap_or_default();
        seen.push_str(&format!(
            "{}>{}:{};",
            transfer.from, transfer.to, transfer.cents
        ));
        ctx.storage().set(&SEEN, &seen)?;
        Ok(())
    }
}

fn harness() -> Harness {
    let audit_log = Functions::new()
        .with(
            stateful_functions::FunctionSpec::builder(TypeName::from_static("bank/audit"))
                .with_state(&SEEN)
                .build(AuditLog)
                .unwrap(),
        )
        .unwrap();
    Harness::builder()
        .seed(8)
        .functions(
            Functions::new()
                .with(Account.spec().unwrap())
                .unwrap()
                .with(Teller.spec().unwrap())
                .unwrap(),
        )
        .endpoint(
            "bank/audit",
            Endpoint::Handler(RequestReplyHandler::new(audit_log)),
        )
        .build()
        .unwrap()
}

fn balance(h: &Harness, account: &TypedAddress<Account>) -> Option<i64> {
    h.state(account.as_address(), &AccountState::BALANCE)
        .unwrap()
}

#[tokio::test(flavor = "current_thread")]
async fn typed_sends_reach_their_function_with_their_payload() {
    let mut h = harness();
    let alice = Account::address("alice");
    let bob = Account::address("bob");
    h.send(&alice, &Credit { cents: 1_000 }).unwrap();
    h.send(
        Teller::address("t1"),
        &Transfer {
            from: "alice".into(),
            to: "bob".into(),
            cents: 250,
        },
    )
    .unwrap();
    h.run().await.unwrap();

    // The debit went at once to `bank/account:alice`, from the teller.
    assert_eq!(balance(&h, &alice), Some(750));
    assert_eq!(balance(&h, &bob), None);
    let teller: Address = Teller::address("t1").into();
    let delivered_from_teller: Vec<_> = h
        .trace()
        .iter()
        .filter_map(|e| match &e.event {
            Event::Delivered { from, to, .. } if from.as_ref() == Some(&teller) => Some(to),
            _ => None,
        })
        .collect();
    assert_eq!(delivered_from_teller, [alice.as_address()]);

    // The delayed credit reaches bob; the delayed transfer reaches the
    // audit log served at its own endpoint, by its typename alone.
    h.advance(CREDIT_DELAY).await.unwrap();
    assert_eq!(balance(&h, &bob), Some(250));
    let log = Audit::address("log");
    assert_eq!(h.state(log.as_address(), &SEEN).unwrap(), None);
    h.advance(AUDIT_DELAY - CREDIT_DELAY).await.unwrap();
    assert_eq!(
        h.state(log.as_address(), &SEEN).unwrap().as_deref(),
        Some("alice>bob:250;")
    );
}

#[test]
fn a_typed_address_is_the_untyped_address_on_the_wire() {
    let alice = Account::address("alice");
    assert_eq!(alice, Address::new(Account::TYPE_NAME, "alice"));
    assert_eq!(alice.to_string(), "bank/account:alice");
    assert_eq!(alice.function_type(), &Account::TYPE_NAME);
    assert_eq!(alice.id(), "alice");
    assert_eq!(Audit::address("log").to_string(), "bank/audit:log");
}
