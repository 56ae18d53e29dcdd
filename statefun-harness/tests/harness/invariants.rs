//! Invariants checked at every point at rest (issue 21, item 6): money
//! on its way in a message is in no account, which is fine; money missing
//! while the job rests is a bug, even when every run ends right.

use std::collections::BTreeMap;
use std::error::Error;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use stateful_functions::{
    Address, Context, EgressIdentifier, FunctionError, FunctionType, Functions, KafkaRecord, State,
    TypeName, Value, function,
};
use statefun_harness::{
    Cause, EgressSemantics, Event, Explorer, Harness, HarnessBuilder, Schedule, View,
};

type Result<T = (), E = Box<dyn Error>> = std::result::Result<T, E>;

const ACCOUNT: TypeName = TypeName::from_static("test/account");
const REPORTS: EgressIdentifier = EgressIdentifier::from_static("test/reports");
const IDS: [&str; 3] = ["a", "b", "c"];
/// What the three accounts hold together.
const TOTAL: i64 = 300;

/// Moves `amount` from the receiving account to `to`.
#[derive(Debug, serde::Serialize, serde::Deserialize, Value)]
#[statefun(typename = "test.types/Transfer")]
struct Transfer {
    id: String,
    to: String,
    amount: i64,
}

/// Money arriving from another account.
#[derive(Debug, serde::Serialize, serde::Deserialize, Value)]
#[statefun(typename = "test.types/Credit")]
struct Credit {
    amount: i64,
}

#[derive(State)]
struct Balance {
    balance: i64,
}

fn account(id: &str) -> Address {
    Address::new(ACCOUNT, id)
}

/// Debits the sender; `None` when it cannot pay.
fn debit(ctx: &mut Context, transfer: &Transfer) -> Result<Option<()>, FunctionError> {
    let balance = ctx.storage().get(&Balance::BALANCE)?.unwrap_or(0);
    if balance < transfer.amount {
        return Ok(None);
    }
    ctx.storage()
        .set(&Balance::BALANCE, &(balance - transfer.amount))?;
    let report = KafkaRecord::new("transfers", transfer.id.clone());
    ctx.send_egress(&REPORTS, report)?;
    Ok(Some(()))
}

fn credit(ctx: &mut Context, credit: &Credit) -> Result<(), FunctionError> {
    let balance = ctx.storage().get(&Balance::BALANCE)?.unwrap_or(0);
    ctx.storage()
        .set(&Balance::BALANCE, &(balance + credit.amount))?;
    Ok(())
}

/// The correct account: the credit leaves in a message at once, so it is
/// on its way (in no account) only while the job is busy.
#[derive(Default)]
struct Prompt;

#[function(typename = "test/account", state = Balance, auto_register = false)]
impl Prompt {
    #[handler]
    async fn transfer(&self, ctx: &mut Context, transfer: Transfer) -> Result<(), FunctionError> {
        if debit(ctx, &transfer)?.is_some() {
            ctx.send(
                account(&transfer.to),
                &Credit {
                    amount: transfer.amount,
                },
            )?;
        }
        Ok(())
    }

    #[handler]
    async fn credit(&self, ctx: &mut Context, msg: Credit) -> Result<(), FunctionError> {
        credit(ctx, &msg)
    }
}

/// The buggy account: the credit "settles" a second later, as a delayed
/// message, so for that second the job rests with the money in no account.
/// Every run still ends with the right balances.
#[derive(Default)]
struct Deferred;

#[function(typename = "test/account", state = Balance, auto_register = false)]
impl Deferred {
    #[handler]
    async fn transfer(&self, ctx: &mut Context, transfer: Transfer) -> Result<(), FunctionError> {
        if debit(ctx, &transfer)?.is_some() {
            let credit = Credit {
                amount: transfer.amount,
            };
            ctx.send_after(Duration::from_secs(1), account(&transfer.to), &credit)?;
        }
        Ok(())
    }

    #[handler]
    async fn credit(&self, ctx: &mut Context, msg: Credit) -> Result<(), FunctionError> {
        credit(ctx, &msg)
    }
}

/// The money in the accounts.
fn total(view: &View<'_>) -> Result<i64> {
    let mut total = 0;
    for id in IDS {
        total += view.state(&account(id), &Balance::BALANCE)?.unwrap_or(0);
    }
    Ok(total)
}

fn conserved(view: &View<'_>) -> Result<(), String> {
    match total(view) {
        Ok(TOTAL) => Ok(()),
        Ok(other) => Err(format!("the accounts hold {other}, not {TOTAL}")),
        Err(e) => Err(e.to_string()),
    }
}

/// A bank of accounts of one kind.
fn bank(prompt: bool) -> HarnessBuilder {
    let spec = if prompt {
        Prompt.spec()
    } else {
        Deferred.spec()
    };
    Harness::builder()
        .partitions(2)
        .functions(Functions::new().with(spec.unwrap()).unwrap())
        .kafka_egress(&REPORTS)
}

/// 100 in each account, four transfers in a ring, then the clock moved on
/// until no delayed message is left.
async fn transfers(h: &mut Harness) -> Result {
    for id in IDS {
        h.set_state(&account(id), &Balance::BALANCE, &100)?;
    }
    for (n, (from, to, amount)) in [
        ("a", "b", 30),
        ("b", "c", 50),
        ("c", "a", 70),
        ("a", "c", 10),
    ]
    .into_iter()
    .enumerate()
    {
        let id = format!("t{n}");
        let to = to.to_owned();
        h.send(account(from), &Transfer { id, to, amount })?;
    }
    h.run().await?;
    while h.pending_timers() > 0 {
        h.advance(Duration::from_secs(1)).await?;
    }
    Ok(())
}

/// Step by step, the correct bank has money on its way (a total that is
/// not 300), but never at rest: the distinction the hook rests on.
#[tokio::test]
async fn money_on_its_way_is_never_at_rest() {
    let mut h = bank(true)
        .seed(3)
        .invariant("money is conserved", conserved)
        .build()
        .unwrap();
    for id in IDS {
        h.set_state(&account(id), &Balance::BALANCE, &100).unwrap();
    }
    h.send(
        account("a"),
        &Transfer {
            id: "t".into(),
            to: "c".into(),
            amount: 40,
        },
    )
    .unwrap();
    let (mut on_its_way, mut at_rest) = (0, 0);
    while h.step().await.unwrap() {
        let total = total(&h.view()).unwrap();
        if h.is_at_rest() {
            assert_eq!(total, TOTAL, "at rest after step {}", h.counters().steps);
            at_rest += 1;
        } else if total != TOTAL {
            on_its_way += 1;
        }
    }
    assert!(on_its_way > 0, "the credit was never seen on its way");
    assert_eq!(at_rest, 1, "the one point at rest is the end");
    assert_eq!(total(&h.view()).unwrap(), TOTAL);
    h.check_invariants().unwrap();
}

/// The correct bank, over generated schedules with crashes, restores and
/// retries: the invariant holds at every point at rest of every run.
#[tokio::test]
async fn the_explorer_checks_the_invariant_at_rest_in_every_schedule() {
    let checks = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&checks);
    let explorer = Explorer::new(|| bank(true), async |h: &mut Harness| transfers(h).await)
        .cases(200)
        .invariant("money is conserved", move |view: &View<'_>| {
            counted.fetch_add(1, Ordering::Relaxed);
            conserved(view)
        });
    let report = explorer.check_exactly_once().await.unwrap();
    assert!(report.crashes > 20, "{report}");
    assert!(report.failed_attempts > 20, "{report}");
    // At least the end of each run, and more after crashes.
    assert!(
        checks.load(Ordering::Relaxed) > 200,
        "{}",
        checks.load(Ordering::Relaxed)
    );
    explorer.check_batch_shapes().await.unwrap();
    explorer.cases(20).check_deterministic().await.unwrap();
}

/// The buggy bank ends every run as the fault-free run does, so comparing
/// outcomes finds nothing; the invariant finds the second during which
/// the job rests with 30 missing.
#[tokio::test]
async fn a_credit_that_waits_breaks_the_invariant_at_rest() {
    let explorer = || Explorer::new(|| bank(false), async |h: &mut Harness| transfers(h).await);
    // Without the invariant: nothing to see.
    let report = explorer().cases(50).check_exactly_once().await.unwrap();
    assert_eq!(report.schedules, 50);

    let violation = explorer()
        .cases(50)
        .invariant("money is conserved", conserved)
        .check_exactly_once()
        .await
        .unwrap_err();
    let broken = violation.invariant().expect("an invariant").clone();
    assert_eq!(broken.name, "money is conserved");
    // All four debits ran; the credits wait for their second.
    assert_eq!(broken.message, "the accounts hold 140, not 300");
    assert_eq!(broken.at, Duration::ZERO);
    assert!(broken.step > 0);
    let text = violation.to_string();
    assert!(
        text.starts_with(&format!(
            "invariant violated: \"money is conserved\" at step {} (0 ms of virtual time): the accounts hold 140, not 300",
            broken.step
        )),
        "{text}"
    );
    assert!(
        text.contains("reproduce: STATEFUN_HARNESS_SCHEDULE='seed="),
        "{text}"
    );

    // The schedule reaches the same point again.
    let again = explorer()
        .invariant("money is conserved", conserved)
        .replay(violation.schedule().clone())
        .check_exactly_once()
        .await
        .unwrap_err();
    assert_eq!(again.invariant(), Some(&broken));
}

/// An invariant that only crashes break: with an at-least-once egress a
/// replay reports a transfer again. The explorer finds it in a faulty
/// schedule, shrinks that to one crash, and its replay breaks it at the
/// same step.
#[tokio::test]
async fn a_broken_invariant_in_one_schedule_is_shrunk_and_reproduced() {
    let once = |view: &View<'_>| -> Result<(), String> {
        let mut seen = BTreeMap::new();
        let records = view.kafka_records(&REPORTS).map_err(|e| e.to_string())?;
        for record in records {
            let id = String::from_utf8_lossy(record.value()).into_owned();
            *seen.entry(id).or_insert(0) += 1;
        }
        match seen.iter().find(|(_, n)| **n > 1) {
            Some((id, n)) => Err(format!("transfer {id} reported {n} times")),
            None => Ok(()),
        }
    };
    let explorer = || {
        Explorer::new(
            || bank(true).kafka_egress_with(&REPORTS, EgressSemantics::AtLeastOnce),
            async |h: &mut Harness| transfers(h).await,
        )
        .invariant("each transfer is reported once", once)
    };
    let violation = explorer()
        .cases(200)
        .check_exactly_once()
        .await
        .unwrap_err();
    let broken = violation.invariant().expect("an invariant").clone();
    assert_eq!(broken.name, "each transfer is reported once");
    assert!(broken.message.ends_with("reported 2 times"), "{violation}");
    assert_eq!(violation.schedule().crashes.len(), 1, "{violation}");
    assert!(violation.schedule().faults.is_none(), "{violation}");
    let line = violation.schedule().to_string();
    let again = explorer()
        .replay(line.parse::<Schedule>().unwrap())
        .check_exactly_once()
        .await
        .unwrap_err();
    assert_eq!(again.invariant(), Some(&broken));
}

/// A plain harness: the run that reaches a broken point at rest fails
/// with the invariant (and is not restarted), the trace shows it, and
/// once the credits arrived the invariant holds again.
#[tokio::test]
async fn a_harness_run_fails_where_an_invariant_breaks() {
    let mut h = bank(false)
        .restart_on_failure(5)
        .invariant("money is conserved", conserved)
        .build()
        .unwrap();
    for id in IDS {
        h.set_state(&account(id), &Balance::BALANCE, &100).unwrap();
    }
    let transfer = Transfer {
        id: "t".into(),
        to: "b".into(),
        amount: 25,
    };
    h.send(account("a"), &transfer).unwrap();
    let failure = h.run().await.unwrap_err();
    let Cause::Invariant(broken) = failure.cause() else {
        panic!("{failure}")
    };
    assert_eq!(broken.message, "the accounts hold 275, not 300");
    assert_eq!(h.counters().restarts, 0);
    assert!(
        failure
            .to_string()
            .contains("invariant \"money is conserved\" does not hold at step")
    );
    assert!(h.trace().iter().any(|e| matches!(
        &e.event,
        Event::InvariantViolated { name, .. } if name == "money is conserved"
    )));
    assert!(
        h.trace_json_lines()
            .contains("\"event\":\"invariant_violated\"")
    );
    assert!(h.is_at_rest());
    assert_eq!(h.pending_timers(), 1);
    assert_eq!(h.check_invariants().unwrap_err(), *broken);
    // A second later the credit is in, and the invariant holds again.
    h.advance(Duration::from_secs(1)).await.unwrap();
    h.check_invariants().unwrap();
}

/// Each point at rest is checked once: more runs that take no step check
/// nothing new; a crash (back to the start) is a new point.
#[tokio::test]
async fn each_point_at_rest_is_checked_once() {
    let checks = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&checks);
    let mut h = bank(true)
        .invariant("counted", move |_: &View<'_>| {
            counted.fetch_add(1, Ordering::Relaxed);
            Ok::<(), String>(())
        })
        .build()
        .unwrap();
    h.send(
        account("a"),
        &Transfer {
            id: "t".into(),
            to: "b".into(),
            amount: 0,
        },
    )
    .unwrap();
    h.run().await.unwrap();
    assert_eq!(checks.load(Ordering::Relaxed), 1);
    h.run().await.unwrap();
    h.advance(Duration::from_secs(5)).await.unwrap();
    assert_eq!(checks.load(Ordering::Relaxed), 1);
    h.checkpoint();
    h.crash();
    h.run().await.unwrap();
    assert_eq!(checks.load(Ordering::Relaxed), 2);
}
