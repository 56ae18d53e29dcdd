//! The bank on the test harness: transfers completed, declined and run
//! once; deposits applied once per reference, the references forgotten
//! together a day after the last deposit; statements a day after the first
//! activity; the module.yaml; and the whole over generated schedules with
//! its invariants.

// A failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

use std::error::Error;
use std::time::Duration;

use bank::{
    Account, AccountState, Deposit, RESULTS, STATEMENT_PERIOD, STATEMENTS_TOPIC, Statement, Status,
    TRANSFERS_TOPIC, Transfer, TransferRequest, TransferResult, TransferState, account, functions,
    transfer,
};
use stateful_functions::FunctionType;
use statefun_harness::{Cause, Explorer, Harness, HarnessBuilder, View};

fn bank() -> HarnessBuilder {
    Harness::builder()
        .partitions(4)
        .functions(functions().unwrap())
        .kafka_egress(&RESULTS)
}

fn deposit(reference: &str, amount: i64) -> Deposit {
    let reference = reference.to_owned();
    Deposit { reference, amount }
}

fn pay(from: &str, to: &str, amount: i64) -> TransferRequest {
    let (from, to) = (from.to_owned(), to.to_owned());
    TransferRequest { from, to, amount }
}

fn balance(h: &Harness, id: &str) -> i64 {
    let balance = h.state(&account(id), &AccountState::BALANCE).unwrap();
    balance.unwrap_or(0)
}

fn results(h: &Harness) -> Vec<TransferResult> {
    let records = h.kafka_records(&RESULTS).unwrap().into_iter();
    records
        .filter(|r| r.topic() == TRANSFERS_TOPIC)
        .map(|r| serde_json::from_slice(r.value()).unwrap())
        .collect()
}

fn statements(h: &Harness) -> Vec<Statement> {
    let records = h.kafka_records(&RESULTS).unwrap().into_iter();
    records
        .filter(|r| r.topic() == STATEMENTS_TOPIC)
        .map(|r| serde_json::from_slice(r.value()).unwrap())
        .collect()
}

#[tokio::test]
async fn a_transfer_moves_money_and_reports_it() -> Result<(), Box<dyn Error>> {
    let mut h = bank().build()?;
    h.send(account("ann"), &deposit("d1", 100))?;
    h.send(transfer("t1"), &pay("ann", "bob", 30))?;
    h.run().await?;
    assert_eq!(balance(&h, "ann"), 70);
    assert_eq!(balance(&h, "bob"), 30);
    assert_eq!(results(&h)[0].status, Status::Completed);
    Ok(())
}

#[tokio::test]
async fn a_transfer_the_payer_cannot_afford_is_declined() {
    let mut h = bank().build().unwrap();
    h.send(account("ann"), &deposit("d1", 20)).unwrap();
    h.run().await.unwrap();
    h.send(transfer("t1"), &pay("ann", "bob", 30)).unwrap();
    h.send(transfer("t2"), &pay("ann", "bob", -5)).unwrap();
    h.run().await.unwrap();
    assert_eq!((balance(&h, "ann"), balance(&h, "bob")), (20, 0));
    let mut outcomes: Vec<_> = results(&h).into_iter().map(|r| (r.id, r.status)).collect();
    outcomes.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        outcomes,
        [
            ("t1".to_owned(), Status::Declined),
            ("t2".to_owned(), Status::Declined)
        ]
    );
    // Nothing waits for them: the request is gone, the status stays.
    let t1 = transfer("t1");
    assert_eq!(h.state(&t1, &TransferState::REQUEST).unwrap(), None);
    assert_eq!(
        h.state(&t1, &TransferState::STATUS).unwrap(),
        Some(Status::Declined)
    );
}

#[tokio::test]
async fn a_transfer_id_runs_once() {
    let mut h = bank().build().unwrap();
    h.send(account("ann"), &deposit("d1", 100)).unwrap();
    h.run().await.unwrap();
    h.send(transfer("t1"), &pay("ann", "bob", 30)).unwrap();
    h.send(transfer("t1"), &pay("ann", "bob", 30)).unwrap();
    h.run().await.unwrap();
    assert_eq!((balance(&h, "ann"), balance(&h, "bob")), (70, 30));
    assert_eq!(results(&h).len(), 1);
}

/// Map-like state: one value holding a map, read, changed and written
/// whole.
#[tokio::test]
async fn a_deposit_sent_twice_is_applied_once() {
    let mut h = bank().build().unwrap();
    h.send(account("ann"), &deposit("d1", 100)).unwrap();
    h.send(account("ann"), &deposit("d2", 5)).unwrap();
    h.send(account("ann"), &deposit("d1", 100)).unwrap();
    h.run().await.unwrap();
    assert_eq!(balance(&h, "ann"), 105);
    let recent = h.state(&account("ann"), &AccountState::RECENT).unwrap();
    let references: Vec<_> = recent.unwrap().references.into_iter().collect();
    assert_eq!(references, [("d1".to_owned(), 100), ("d2".to_owned(), 5)]);
}

/// The expiration is the whole map's: every deposit writes the map and
/// renews it, and a day after the last one every reference goes at once.
#[tokio::test]
async fn deposit_references_are_forgotten_together_a_day_after_the_last_deposit() {
    let hour = Duration::from_secs(60 * 60);
    let mut h = bank().build().unwrap();
    h.send(account("ann"), &deposit("d1", 100)).unwrap();
    h.run().await.unwrap();
    h.advance(12 * hour).await.unwrap();
    h.send(account("ann"), &deposit("d2", 5)).unwrap();
    h.run().await.unwrap();
    // d1 is 25 hours old, but the map was written 13 hours ago.
    h.advance(13 * hour).await.unwrap();
    let recent = h.state(&account("ann"), &AccountState::RECENT).unwrap();
    assert_eq!(recent.unwrap().references.len(), 2);
    h.advance(11 * hour).await.unwrap();
    assert_eq!(
        h.state(&account("ann"), &AccountState::RECENT).unwrap(),
        None
    );
    // Forgotten: the same reference is a new deposit now.
    h.send(account("ann"), &deposit("d1", 100)).unwrap();
    h.run().await.unwrap();
    assert_eq!(balance(&h, "ann"), 205);
}

/// A delayed message: the first activity schedules the statement a day
/// ahead, on the virtual clock; later activity does not add another.
#[tokio::test]
async fn statements_go_out_a_day_after_the_first_activity() {
    let mut h = bank().build().unwrap();
    h.send(account("ann"), &deposit("d1", 100)).unwrap();
    h.send(transfer("t1"), &pay("ann", "bob", 30)).unwrap();
    h.run().await.unwrap();
    assert_eq!(h.pending_timers(), 2, "one statement for each account");
    h.advance(STATEMENT_PERIOD - Duration::from_secs(1))
        .await
        .unwrap();
    assert!(statements(&h).is_empty());
    h.advance(Duration::from_secs(1)).await.unwrap();
    let mut sent = statements(&h);
    sent.sort_by(|a, b| a.account.cmp(&b.account));
    let expected = [("ann", 70, 100), ("bob", 30, 0)].map(|(id, balance, deposited)| Statement {
        account: id.to_owned(),
        balance,
        deposited,
    });
    assert_eq!(sent, expected);
    assert_eq!(h.pending_timers(), 0);
    // The next activity schedules the next statement.
    h.send(account("bob"), &deposit("d2", 1)).unwrap();
    h.run().await.unwrap();
    assert_eq!(h.pending_timers(), 1);
}

/// Money is conserved: the accounts hold what was deposited.
fn money_is_conserved(view: &View<'_>) -> Result<(), Box<dyn Error>> {
    let (mut held, mut deposited) = (0, 0);
    let accounts = view.addresses_with_state();
    for address in accounts.filter(|a| a.function_type() == &Account::TYPE_NAME) {
        held += view.state(address, &AccountState::BALANCE)?.unwrap_or(0);
        deposited += view.state(address, &AccountState::DEPOSITED)?.unwrap_or(0);
    }
    if held != deposited {
        return Err(format!("the accounts hold {held}, but {deposited} was deposited").into());
    }
    Ok(())
}

/// At rest no transfer is half done: each completed or was declined.
fn no_transfer_is_pending(view: &View<'_>) -> Result<(), Box<dyn Error>> {
    let transfers = view.addresses_with_state();
    for address in transfers.filter(|a| a.function_type() == &Transfer::TYPE_NAME) {
        if view.state(address, &TransferState::STATUS)? == Some(Status::Pending) {
            return Err(format!("{address} is pending").into());
        }
    }
    Ok(())
}

/// Three customers pay in, then pay each other (once more than one can
/// afford, once sent twice); a day later Ann pays in again as her
/// statement goes out, and the clock runs on until every statement went
/// out, so the workload ends at rest. A checkpoint follows each step, as
/// the real job takes one every few seconds: a crash then replays the
/// last step only, not every input at once in any order.
async fn a_day_at_the_bank(h: &mut Harness) -> Result<(), Box<dyn Error>> {
    h.send(account("ann"), &deposit("d1", 100))?;
    h.send(account("bob"), &deposit("d2", 50))?;
    h.send(account("bob"), &deposit("d2", 50))?;
    h.run().await?;
    h.checkpoint();
    h.send(transfer("t1"), &pay("ann", "bob", 70))?;
    h.send(transfer("t2"), &pay("bob", "cat", 40))?;
    h.send(transfer("t3"), &pay("cat", "ann", 500))?;
    h.send(transfer("t1"), &pay("ann", "bob", 70))?;
    h.run().await?;
    h.checkpoint();
    // A day after her first deposit, as her statement is due, Ann pays in.
    h.move_clock_to(STATEMENT_PERIOD);
    h.send(account("ann"), &deposit("d3", 25))?;
    h.run().await?;
    h.checkpoint();
    while h.pending_timers() > 0 {
        h.advance(STATEMENT_PERIOD).await?;
    }
    Ok(())
}

/// What must not depend on timing: balances and transfer outcomes. A
/// retried call or a restart delays Ann's first deposit by milliseconds or
/// seconds, and her statement with it: it shows her last deposit or not,
/// and her recent deposits expire before the end or not.
fn balances_and_transfers(h: &Harness) -> String {
    let balances = ["ann", "bob", "cat"].map(|id| balance(h, id));
    let mut transfers: Vec<_> = results(h).into_iter().map(|r| (r.id, r.status)).collect();
    transfers.sort_by(|a, b| a.0.cmp(&b.0));
    format!("{balances:?} {transfers:?}")
}

#[tokio::test]
async fn the_bank_keeps_its_invariants_over_generated_schedules() {
    let explorer = Explorer::new(bank, async |h: &mut Harness| a_day_at_the_bank(h).await)
        .cases(500)
        .invariant("money is conserved", money_is_conserved)
        .invariant("no transfer is pending", no_transfer_is_pending)
        .observe(balances_and_transfers);
    let report = explorer.check_exactly_once().await.unwrap();
    assert!(report.crashes > 100, "{report}");
    explorer.check_batch_shapes().await.unwrap();
    explorer.cases(20).check_deterministic().await.unwrap();
}

/// The invariants are not vacuous: money from nowhere breaks the first.
#[tokio::test]
async fn money_from_nowhere_breaks_the_invariant() {
    let mut h = bank()
        .invariant("money is conserved", money_is_conserved)
        .build()
        .unwrap();
    h.set_state(&account("ann"), &AccountState::BALANCE, &5)
        .unwrap();
    h.send(transfer("t1"), &pay("ann", "bob", 5)).unwrap();
    let failure = h.run().await.unwrap_err();
    let Cause::Invariant(broken) = failure.cause() else {
        panic!("{failure}")
    };
    assert_eq!(broken.message, "the accounts hold 5, but 0 was deposited");
}

#[test]
fn the_module_yaml_deploys_both_functions_with_kafka_in_and_out() {
    let yaml = bank::module_yaml("http://bank:8000/statefun", "kafka:9092");
    let kinds: Vec<&str> = (yaml.lines())
        .filter_map(|l| l.strip_prefix("kind: "))
        .collect();
    assert_eq!(
        kinds,
        [
            "io.statefun.endpoints.v2/http",
            "io.statefun.endpoints.v2/http",
            "io.statefun.kafka.v1/ingress",
            "io.statefun.kafka.v1/egress",
        ]
    );
    for expected in [
        "functions: \"bank/account\"",
        "functions: \"bank/transfer\"",
        "valueType: \"bank.types/Deposit\"",
        "valueType: \"bank.types/TransferRequest\"",
        "id: \"bank/results\"",
        "type: exactly-once",
    ] {
        assert!(yaml.contains(expected), "{expected} in\n{yaml}");
    }
}

#[test]
fn the_checked_in_module_yaml_is_current() {
    let generated = bank::module_yaml("http://bank:8000/statefun", "kafka:9092");
    assert_eq!(
        include_str!("../deploy/module.yaml"),
        generated,
        "regenerate with `cargo run -p bank -- module-yaml > examples/bank/deploy/module.yaml`"
    );
}

/// The guide's input for statefun-local: every line a record of a topic
/// of the module, whose value is that topic's message.
#[test]
fn the_sample_input_is_the_modules_messages() {
    let mut topics = 0;
    for line in include_str!("../deploy/input.jsonl").lines() {
        let record: serde_json::Value = serde_json::from_str(line).unwrap();
        if record.get("advance").is_some() {
            continue;
        }
        let value = record["value"].clone();
        match record["topic"].as_str().unwrap() {
            "deposits" => drop(serde_json::from_value::<Deposit>(value).unwrap()),
            "transfers" => drop(serde_json::from_value::<TransferRequest>(value).unwrap()),
            other => panic!("topic {other} is not in the module"),
        }
        topics += 1;
    }
    assert!(topics > 3);
}
