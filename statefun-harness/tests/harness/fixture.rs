//! Functions the tests drive.

use std::time::Duration;

use stateful_functions::{
    Address, CancellationToken, Context, EgressIdentifier, FunctionError, FunctionType, Functions,
    KafkaRecord, State, Value, function,
};

pub(crate) const RESULTS: EgressIdentifier = EgressIdentifier::from_static("test/results");
pub(crate) const UNDECLARED: EgressIdentifier = EgressIdentifier::from_static("test/nowhere");

/// A command for the recorder.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, Value)]
#[statefun(typename = "test.types/Command")]
pub(crate) enum Command {
    /// Append `text` to the log; answer `text` to the caller if any.
    Log(String),
    /// Add to the sum.
    Add(i64),
    /// Write zero to `sum` (MODIFY with empty bytes).
    Zero,
    /// Remove `sum` (DELETE).
    Clear,
    /// Send `Log(text)` to another recorder.
    Forward { to: String, text: String },
    /// Send `Log(text)` to self after `ms` with an optional token.
    Later {
        ms: u64,
        token: Option<String>,
        text: String,
    },
    /// Cancel a token.
    Cancel(String),
    /// Write to an egress: declared, or not.
    Egress { declared: bool },
    /// Send a message to self (forever: a livelock).
    Loop,
}

#[derive(State)]
pub(crate) struct RecorderState {
    /// Everything logged, with the caller, one entry a line.
    log: String,
    sum: i64,
    #[state(expire_after_call = "10s")]
    touched_by_call: i32,
    #[state(expire_after_write = "10s")]
    touched_by_write: i32,
}

#[derive(Default)]
pub(crate) struct Recorder;

#[function(typename = "test/recorder", state = RecorderState, auto_register = false)]
impl Recorder {
    #[handler]
    async fn command(&self, ctx: &mut Context, command: Command) -> Result<(), FunctionError> {
        let me = ctx.self_address().clone();
        match command {
            Command::Log(text) => {
                let caller = ctx
                    .caller()
                    .map_or_else(|| "ingress".to_owned(), ToString::to_string);
                let mut log = ctx.storage().get(&RecorderState::LOG)?.unwrap_or_default();
                log.push_str(&format!("{text} from {caller}\n"));
                ctx.storage().set(&RecorderState::LOG, &log)?;
            }
            Command::Add(n) => {
                let sum = ctx.storage().get(&RecorderState::SUM)?.unwrap_or(0) + n;
                ctx.storage().set(&RecorderState::SUM, &sum)?;
            }
            Command::Zero => ctx.storage().set(&RecorderState::SUM, &0)?,
            Command::Clear => ctx.storage().remove(&RecorderState::SUM)?,
            Command::Forward { to, text } => {
                ctx.send(Address::new(Recorder::TYPE_NAME, to), &Command::Log(text))?;
            }
            Command::Later { ms, token, text } => {
                let delay = Duration::from_millis(ms);
                match token {
                    Some(token) => ctx.send_after_with_token(
                        delay,
                        CancellationToken::new(token)?,
                        me,
                        &Command::Log(text),
                    )?,
                    None => ctx.send_after(delay, me, &Command::Log(text))?,
                }
            }
            Command::Cancel(token) => ctx.cancel_delayed_message(&CancellationToken::new(token)?),
            Command::Egress { declared } => {
                let id = if declared { &RESULTS } else { &UNDECLARED };
                ctx.send_egress(
                    id,
                    KafkaRecord::new("results", me.id().to_owned()).with_key(me.id()),
                )?;
            }
            Command::Loop => ctx.send(me, &Command::Loop)?,
        }
        // Write the two expiring values once; later calls only read them
        // (every request reads every value, which restarts an after-call
        // expiration but not an after-write one).
        if ctx
            .storage()
            .get(&RecorderState::TOUCHED_BY_CALL)?
            .is_none()
        {
            ctx.storage().set(&RecorderState::TOUCHED_BY_CALL, &1)?;
        }
        if ctx
            .storage()
            .get(&RecorderState::TOUCHED_BY_WRITE)?
            .is_none()
        {
            ctx.storage().set(&RecorderState::TOUCHED_BY_WRITE, &1)?;
        }
        Ok(())
    }
}

pub(crate) fn functions() -> Functions {
    Functions::new().with(Recorder.spec().unwrap()).unwrap()
}

pub(crate) fn recorder(id: &str) -> Address {
    Address::new(Recorder::TYPE_NAME, id)
}

pub(crate) fn log(harness: &statefun_harness::Harness, id: &str) -> String {
    harness
        .state(&recorder(id), &RecorderState::LOG)
        .unwrap()
        .unwrap_or_default()
}

pub(crate) fn sum(harness: &statefun_harness::Harness, id: &str) -> Option<i64> {
    harness.state(&recorder(id), &RecorderState::SUM).unwrap()
}

pub(crate) fn touched(harness: &statefun_harness::Harness, id: &str) -> (Option<i32>, Option<i32>) {
    (
        harness
            .state(&recorder(id), &RecorderState::TOUCHED_BY_CALL)
            .unwrap(),
        harness
            .state(&recorder(id), &RecorderState::TOUCHED_BY_WRITE)
            .unwrap(),
    )
}
