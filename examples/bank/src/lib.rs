//! A bank on StateFun, the application of the getting-started guide
//! (`docs/getting-started.md`), which quotes this file.
//!
//! - `bank/account`, one per account: deposits from outside (applied once
//!   per reference), debits and credits for transfers, and a statement a
//!   day after the first activity.
//! - `bank/transfer`, one per transfer: debits the payer's account, then
//!   credits the payee's, or declines; each outcome goes to the results
//!   egress.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use stateful_functions::{
    Address, Context, EgressIdentifier, FunctionError, FunctionType, Functions, KafkaRecord, State,
    Value, function,
};

/// The Kafka egress for transfer outcomes and statements.
pub const RESULTS: EgressIdentifier = EgressIdentifier::from_static("bank/results");
/// The topic of transfer outcomes.
pub const TRANSFERS_TOPIC: &str = "transfer-results";
/// The topic of statements.
pub const STATEMENTS_TOPIC: &str = "statements";
/// How long after its first activity an account sends its statement.
pub const STATEMENT_PERIOD: Duration = Duration::from_secs(24 * 60 * 60);

/// Money paid in from outside the bank (ingress, to `bank/account:<id>`).
/// A deposit sent twice with the same reference is applied once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Value)]
#[statefun(typename = "bank.types/Deposit")]
pub struct Deposit {
    /// The payer's reference, unique per deposit.
    pub reference: String,
    /// In cents.
    pub amount: i64,
}

/// Moves money between two accounts (ingress, to `bank/transfer:<id>`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Value)]
#[statefun(typename = "bank.types/TransferRequest")]
pub struct TransferRequest {
    /// The payer's account id.
    pub from: String,
    /// The payee's account id.
    pub to: String,
    /// In cents.
    pub amount: i64,
}

/// A transfer asks the payer's account for the money.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Value)]
#[statefun(typename = "bank.types/Debit")]
pub struct Debit {
    /// In cents.
    pub amount: i64,
}

/// The account's answer to a [`Debit`]: whether it paid.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Value)]
#[statefun(typename = "bank.types/DebitResult")]
pub struct DebitResult {
    /// `false` when the balance was too low.
    pub paid: bool,
}

/// A transfer pays the payee's account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Value)]
#[statefun(typename = "bank.types/Credit")]
pub struct Credit {
    /// In cents.
    pub amount: i64,
}

/// An account's statement is due (the account to itself, delayed).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Value)]
#[statefun(typename = "bank.types/StatementDue")]
pub struct StatementDue {}

/// Where a transfer is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Value)]
#[statefun(typename = "bank.types/Status")]
pub enum Status {
    /// The payer's account was asked for the money.
    Pending,
    /// The payee's account was credited.
    Completed,
    /// The payer could not pay, or the amount was not positive.
    Declined,
}

/// A transfer's outcome, on the transfer-results topic (keyed by
/// transfer id).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransferResult {
    /// The transfer id.
    pub id: String,
    /// What was asked.
    pub request: TransferRequest,
    /// [`Status::Completed`] or [`Status::Declined`].
    pub status: Status,
}

/// An account's statement, on the statements topic (keyed by account id).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Statement {
    /// The account id.
    pub account: String,
    /// In cents.
    pub balance: i64,
    /// Everything deposited from outside so far, in cents.
    pub deposited: i64,
}

/// The deposits an account saw lately: reference to amount. One value
/// holding a map, so its expiration is the whole map's.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, Value)]
#[statefun(typename = "bank.types/RecentDeposits")]
pub struct RecentDeposits {
    /// Reference to amount, in cents.
    pub references: BTreeMap<String, i64>,
}

/// An account's state.
#[derive(Debug, State)]
pub struct AccountState {
    /// In cents.
    pub balance: i64,
    /// Everything deposited from outside, in cents.
    pub deposited: i64,
    /// Forgotten, every reference at once, a day after the last deposit.
    #[state(expire_after_write = "1d")]
    pub recent: RecentDeposits,
    /// Whether a statement is scheduled.
    pub statement_due: bool,
}

/// A transfer's state.
#[derive(Debug, State)]
pub struct TransferState {
    /// What was asked, until the transfer completes or is declined.
    pub request: TransferRequest,
    /// Where it is; kept, so the same transfer id runs once.
    pub status: Status,
}

/// `bank/account`, one per account id.
#[derive(Debug, Default)]
pub struct Account;

#[function(typename = "bank/account", state = AccountState)]
impl Account {
    /// Pays in a deposit, once per reference.
    #[handler]
    async fn deposit(&self, ctx: &mut Context, deposit: Deposit) -> Result<(), FunctionError> {
        let state = ctx.storage();
        let mut recent = state.get(&AccountState::RECENT)?.unwrap_or_default();
        if recent.references.contains_key(&deposit.reference) {
            return Ok(()); // sent twice
        }
        recent.references.insert(deposit.reference, deposit.amount);
        state.set(&AccountState::RECENT, &recent)?;
        let deposited = state.get(&AccountState::DEPOSITED)?.unwrap_or(0);
        state.set(&AccountState::DEPOSITED, &(deposited + deposit.amount))?;
        add(ctx, deposit.amount)
    }

    /// Pays a transfer (the caller) if the balance allows, and says so.
    #[handler]
    async fn debit(&self, ctx: &mut Context, debit: Debit) -> Result<(), FunctionError> {
        let Some(transfer) = ctx.caller().cloned() else {
            return Err(FunctionError::msg("a debit comes from a transfer"));
        };
        let balance = ctx.storage().get(&AccountState::BALANCE)?.unwrap_or(0);
        let paid = balance >= debit.amount;
        if paid {
            add(ctx, -debit.amount)?;
        }
        ctx.send(transfer, &DebitResult { paid })?;
        Ok(())
    }

    /// Receives a transfer's money.
    #[handler]
    async fn credit(&self, ctx: &mut Context, credit: Credit) -> Result<(), FunctionError> {
        add(ctx, credit.amount)
    }

    /// Sends the statement.
    #[handler]
    async fn statement_due(&self, ctx: &mut Context, _: StatementDue) -> Result<(), FunctionError> {
        let account = ctx.self_address().id().to_owned();
        let state = ctx.storage();
        let statement = Statement {
            account: account.clone(),
            balance: state.get(&AccountState::BALANCE)?.unwrap_or(0),
            deposited: state.get(&AccountState::DEPOSITED)?.unwrap_or(0),
        };
        state.remove(&AccountState::STATEMENT_DUE)?;
        let json = serde_json::to_string(&statement)?;
        let record = KafkaRecord::new(STATEMENTS_TOPIC, json).with_key(account);
        ctx.send_egress(&RESULTS, record)?;
        Ok(())
    }
}

/// Adds `amount` to the balance; the first change since the last
/// statement schedules the next one, a delayed message to the account
/// itself.
fn add(ctx: &mut Context, amount: i64) -> Result<(), FunctionError> {
    let state = ctx.storage();
    let balance = state.get(&AccountState::BALANCE)?.unwrap_or(0);
    state.set(&AccountState::BALANCE, &(balance + amount))?;
    if state.get(&AccountState::STATEMENT_DUE)?.is_none() {
        state.set(&AccountState::STATEMENT_DUE, &true)?;
        let me = ctx.self_address().clone();
        ctx.send_after(STATEMENT_PERIOD, me, &StatementDue {})?;
    }
    Ok(())
}

/// `bank/transfer`, one per transfer id.
#[derive(Debug, Default)]
pub struct Transfer;

#[function(typename = "bank/transfer", state = TransferState)]
impl Transfer {
    /// Starts a transfer: asks the payer's account for the money.
    #[handler]
    async fn start(&self, ctx: &mut Context, req: TransferRequest) -> Result<(), FunctionError> {
        let state = ctx.storage();
        if state.get(&TransferState::STATUS)?.is_some() {
            return Ok(()); // this transfer id already ran
        }
        if req.amount <= 0 {
            return done(ctx, req, Status::Declined);
        }
        state.set(&TransferState::STATUS, &Status::Pending)?;
        state.set(&TransferState::REQUEST, &req)?;
        let amount = req.amount;
        ctx.send(Account::address(&req.from), &Debit { amount })?;
        Ok(())
    }

    /// The payer's answer settles it: credits the payee, or declines.
    #[handler]
    async fn settle(&self, ctx: &mut Context, result: DebitResult) -> Result<(), FunctionError> {
        let Some(request) = ctx.storage().get(&TransferState::REQUEST)? else {
            return Err(FunctionError::msg("no transfer is pending"));
        };
        if !result.paid {
            return done(ctx, request, Status::Declined);
        }
        let amount = request.amount;
        ctx.send(Account::address(&request.to), &Credit { amount })?;
        done(ctx, request, Status::Completed)
    }
}

/// Records the outcome and reports it.
fn done(ctx: &mut Context, request: TransferRequest, status: Status) -> Result<(), FunctionError> {
    let id = ctx.self_address().id().to_owned();
    let state = ctx.storage();
    state.remove(&TransferState::REQUEST)?;
    state.set(&TransferState::STATUS, &status)?;
    let result = TransferResult {
        id: id.clone(),
        request,
        status,
    };
    let record = KafkaRecord::new(TRANSFERS_TOPIC, serde_json::to_string(&result)?).with_key(id);
    ctx.send_egress(&RESULTS, record)?;
    Ok(())
}

/// The account `id`.
#[must_use]
pub fn account(id: &str) -> Address {
    Address::new(Account::TYPE_NAME, id)
}

/// The transfer `id`.
#[must_use]
pub fn transfer(id: &str) -> Address {
    Address::new(Transfer::TYPE_NAME, id)
}

/// Both function types, for a server or a test harness.
///
/// # Errors
///
/// When a declaration is invalid (the macros check them at compile time,
/// so in practice never).
pub fn functions() -> Result<Functions, Box<dyn std::error::Error + Send + Sync>> {
    Ok(Functions::new()
        .with(Account.spec()?)?
        .with(Transfer.spec()?)?)
}

/// The module.yaml that deploys the bank: both function types at `url`,
/// a Kafka ingress (topic `deposits` to accounts, keyed by account id;
/// `transfers` to transfers, keyed by transfer id) and the results egress,
/// exactly once.
#[must_use]
pub fn module_yaml(url: &str, kafka: &str) -> String {
    use stateful_functions::{KafkaTopic, ModuleYaml, TypeName};
    let functions = functions().unwrap_or_default();
    ModuleYaml::new()
        .http_endpoints(&functions, url)
        .kafka_ingress(
            TypeName::from_static("bank/requests"),
            kafka,
            "bank",
            [
                KafkaTopic::new("deposits", Deposit::type_name()).target(Account::TYPE_NAME),
                KafkaTopic::new("transfers", TransferRequest::type_name())
                    .target(Transfer::TYPE_NAME),
            ],
        )
        .kafka_egress(&RESULTS, kafka, Some(Duration::from_secs(15 * 60)))
        .to_string()
}
