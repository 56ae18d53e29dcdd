//! The long-lived runtime: the harness engine driven by input, a clock and
//! durable checkpoints.

use std::collections::{BTreeMap, VecDeque};
use std::io;
use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value as Json, json};
use stateful_functions::{
    Address, EgressIdentifier, KAFKA_RECORD_TYPE, KINESIS_RECORD_TYPE, TypeName,
};
use statefun_harness::{
    CallOrder, Checkpoint, EgressRecord, EndpointOptions, Event, Harness, JobFailure, Progress,
    TraceEntry,
};
use tokio::sync::{mpsc, oneshot, watch};

use crate::input::Delivery;
use crate::module::{IoKind, Module};
use crate::store::{Logged, LoggedMessage, Position, Saved, Sink, StateDir};
use crate::values;

/// Which clock delayed messages, TTLs and retries run on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ClockKind {
    /// The wall clock.
    Real,
    /// A virtual clock that moves only with `{"advance": ..}` lines.
    Virtual,
}

/// What the runtime is told to do.
#[derive(Debug)]
pub(crate) enum Command {
    /// Messages to deliver, logged before they enter the job; `ack` hears
    /// when they are durable.
    Deliver {
        deliveries: Vec<Delivery>,
        position: Option<Position>,
        ack: Option<oneshot::Sender<Result<usize, String>>>,
    },
    /// Moves the virtual clock (scripts).
    Advance {
        by: Duration,
        position: Option<Position>,
    },
    /// An input has no more lines.
    InputDone,
}

/// A question about the job's state, answered between steps whatever
/// input waits (a back-pressured job still answers it): an address's
/// state, as JSON.
#[derive(Debug)]
pub(crate) struct StateQuery {
    pub(crate) address: Address,
    pub(crate) reply: oneshot::Sender<Json>,
}

/// The runtime's settings.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    pub(crate) state_dir: PathBuf,
    pub(crate) egress_file: Option<PathBuf>,
    pub(crate) clock: ClockKind,
    pub(crate) checkpoint_interval: Duration,
    /// Restarts of a failing job before the run fails.
    pub(crate) max_restarts: u32,
    pub(crate) partitions: u32,
    /// Requests in flight per partition before it stops taking input
    /// (`statefun.async.max-per-task`; 0: no bound).
    pub(crate) max_in_flight: usize,
    /// Connections open at once per function type of a Netty endpoint whose
    /// module.yaml sets no `pool_size` (the runtime's default 1024).
    pub(crate) max_connections: usize,
    pub(crate) seed: u64,
    /// `(from, to)`: URL prefixes to replace in endpoint templates.
    pub(crate) rewrite_urls: Vec<(String, String)>,
    /// Inputs that will send [`Command::InputDone`].
    pub(crate) inputs: usize,
    /// Whether input may arrive over HTTP (then it runs until stopped).
    pub(crate) http: bool,
    pub(crate) verbose: bool,
}

/// An error that stops the runtime.
#[derive(Debug, thiserror::Error)]
pub(crate) enum RuntimeError {
    #[error("state directory: {0}")]
    Io(#[from] io::Error),
    #[error(
        "the job failed and cannot restart (at most {max_restarts} restarts, see --max-restarts): {failure}"
    )]
    Job {
        failure: Box<JobFailure>,
        max_restarts: u32,
    },
    #[error("{0}")]
    Setup(String),
}

/// Input messages the job may hold undelivered before it takes no more.
const MAX_UNDELIVERED_INPUT: usize = 64 * 1024;

/// The wall clock mapped onto the harness's clock.
#[derive(Debug, Clone, Copy)]
struct RealClock {
    origin: Instant,
    at_origin: Duration,
}

impl RealClock {
    fn now(&self) -> Duration {
        self.at_origin + self.origin.elapsed()
    }

    fn instant_of(&self, at: Duration) -> Instant {
        self.origin + at.saturating_sub(self.at_origin)
    }
}

fn unix_millis() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

pub(crate) struct Runtime {
    harness: Harness,
    store: StateDir,
    sink: Sink,
    positions: BTreeMap<String, Position>,
    settings: Settings,
    clock: RealClock,
    next_checkpoint: Instant,
    inputs_open: usize,
    /// Scheduler steps when the last checkpoint was taken.
    steps_at_checkpoint: u64,
    /// Whether input was accepted since.
    accepted_since_checkpoint: bool,
    /// Logged input not applied yet, in order.
    pending: VecDeque<Pending>,
    /// The messages in `pending`.
    pending_messages: usize,
    /// Where an `advance` on the virtual clock is going.
    advance_to: Option<Duration>,
    /// On the virtual clock: whether the job runs (to idle, through an
    /// `advance`) and takes no input, or takes input in up to the next
    /// `advance` or the end of the input and does not run; so what each
    /// run to idle starts from never depends on how fast the input was
    /// read.
    running: bool,
    /// Why input could not be logged (which stops the run).
    failed: Option<String>,
}

/// Input that is logged (or needs no log) and waits to be applied.
#[derive(Debug)]
enum Pending {
    Logged(Logged),
    InputDone,
}

/// Builds a harness that serves the module's endpoints.
pub(crate) fn harness_for(module: &Module, settings: &Settings) -> Result<Harness, RuntimeError> {
    let mut builder = Harness::builder()
        .seed(settings.seed)
        .partitions(settings.partitions)
        .restart_on_failure(settings.max_restarts)
        .max_in_flight_per_partition(settings.max_in_flight)
        // Calls overlap on the network either way. On the real clock their
        // answers are applied as they arrive, as the runtime applies them
        // (`functions/AsyncSink.java`); on the virtual clock in rounds, in
        // the scheduler's order, so a script's output for a seed does not
        // depend on the network's timing.
        .call_order(match settings.clock {
            ClockKind::Real => CallOrder::Arrival,
            ClockKind::Virtual => CallOrder::Rounds,
        });
    for endpoint in &module.endpoints {
        let mut url = endpoint.url_path_template.clone();
        for (from, to) in &settings.rewrite_urls {
            if let Some(rest) = url.strip_prefix(from.as_str()) {
                url = format!("{to}{rest}");
                break;
            }
        }
        let mut options = EndpointOptions::new()
            .transport(endpoint.transport)
            .call_timeout(endpoint.call_timeout)
            .connect_timeout(endpoint.connect_timeout)
            .max_batch_requests(endpoint.max_batch_requests)
            .pool_size(endpoint.pool_size.unwrap_or(settings.max_connections));
        if let Some(max) = endpoint.payload_max_bytes {
            options = options.payload_max_bytes(max);
        }
        builder = builder.remote_with(endpoint.functions.clone(), &url, options);
    }
    for egress in &module.egresses {
        builder = match egress.kind {
            IoKind::Kafka => builder.kafka_egress_with(&egress.id, egress.semantics),
            IoKind::Kinesis => builder.kinesis_egress_with(&egress.id, egress.semantics),
        };
    }
    builder
        .build()
        .map_err(|e| RuntimeError::Setup(e.to_string()))
}

impl Runtime {
    /// Opens the state directory and resumes from it.
    pub(crate) fn start(module: &Module, settings: Settings) -> Result<Self, RuntimeError> {
        let mut harness = harness_for(module, &settings)?;
        let (store, recovered) = StateDir::open(&settings.state_dir)?;
        let mut sink = Sink::open(settings.egress_file.as_deref())?;
        let mut positions = BTreeMap::new();
        let mut at_origin = Duration::ZERO;
        if let Some(saved) = &recovered.checkpoint {
            let checkpoint = Checkpoint::from_bytes(&saved.harness).map_err(|e| {
                RuntimeError::Setup(format!(
                    "{}: {e}",
                    settings.state_dir.join("checkpoint.bin").display()
                ))
            })?;
            at_origin = checkpoint.taken_at();
            if settings.clock == ClockKind::Real {
                // Processing time went on while the runtime was down.
                at_origin +=
                    Duration::from_millis(unix_millis().saturating_sub(saved.wall_clock_millis));
            }
            harness.restore(&checkpoint);
            harness.move_clock_to(at_origin);
            let repaired =
                sink.recover(&saved.egress_target, saved.egress_length, &saved.pending)?;
            if !repaired && !saved.pending.is_empty() {
                log(&format!(
                    "the last checkpoint wrote egress to {}; its {} records are written again to {}",
                    saved.egress_target,
                    saved.pending.len(),
                    sink.target()
                ));
            }
            for position in &saved.positions {
                positions.insert(position.path.clone(), position.clone());
            }
            log(&format!(
                "resumed from checkpoint {} in {}",
                checkpoint.id(),
                settings.state_dir.display()
            ));
        }
        if recovered.torn_bytes > 0 {
            log(&format!(
                "dropped {} bytes at the end of the ingress log: a write the previous run did not finish (never acknowledged)",
                recovered.torn_bytes
            ));
        }
        let replayed = recovered.replay.len();
        let mut pending = VecDeque::new();
        let mut pending_messages = 0;
        for logged in recovered.replay {
            pending_messages += logged.messages.len();
            if let Some(position) = &logged.position {
                positions.insert(position.path.clone(), position.clone());
            }
            pending.push_back(Pending::Logged(logged));
        }
        if replayed > 0 {
            log(&format!(
                "replaying {replayed} inputs logged after the checkpoint"
            ));
        }
        let interval = settings.checkpoint_interval;
        Ok(Self {
            harness,
            store,
            sink,
            positions,
            inputs_open: settings.inputs,
            settings,
            clock: RealClock {
                origin: Instant::now(),
                at_origin,
            },
            next_checkpoint: Instant::now() + interval,
            steps_at_checkpoint: u64::MAX,
            accepted_since_checkpoint: false,
            pending,
            pending_messages,
            advance_to: None,
            // What a checkpoint left in flight runs first.
            running: true,
            failed: None,
        })
    }

    /// How far each input file was read (for readers resuming).
    pub(crate) fn positions(&self) -> BTreeMap<String, Position> {
        self.positions.clone()
    }

    /// Runs until the inputs are done and nothing is left to do (or until
    /// `stop` fires), taking a final checkpoint.
    pub(crate) async fn run(
        mut self,
        mut commands: mpsc::Receiver<Command>,
        mut queries: mpsc::Receiver<StateQuery>,
        mut stop: watch::Receiver<bool>,
    ) -> Result<(), RuntimeError> {
        let mut received: Vec<Command> = Vec::new();
        let mut closed = false;
        let mut queries_closed = false;
        loop {
            while let Ok(query) = queries.try_recv() {
                self.answer(query);
            }
            let room = self.takes_input();
            while room && received.len() < 4096 {
                match commands.try_recv() {
                    Ok(command) => received.push(command),
                    Err(_) => break,
                }
            }
            self.intake(std::mem::take(&mut received));
            if let Some(failure) = self.failed.take() {
                return Err(RuntimeError::Setup(failure));
            }
            let virtual_clock = self.settings.clock == ClockKind::Virtual;
            if !virtual_clock || !self.running {
                self.apply_pending();
            }
            if virtual_clock
                && (self.advance_to.is_some()
                    || self.inputs_open == 0
                    || self.harness.pending_ingress() >= MAX_UNDELIVERED_INPUT)
            {
                self.running = true;
            }
            let progress = if virtual_clock && !self.running {
                Progress::Idle { wake_up: None }
            } else {
                self.run_slice(&mut stop).await?
            };
            let trace = self.harness.take_trace();
            self.report(trace);
            self.write_visible_egress()?;
            if Instant::now() >= self.next_checkpoint {
                self.checkpoint_if_changed()?;
            }
            if *stop.borrow() {
                self.checkpoint()?;
                log("stopped; the next run resumes from this checkpoint");
                return Ok(());
            }
            let Progress::Idle { wake_up } = progress else {
                tokio::task::yield_now().await;
                continue;
            };
            let wake_up = match self.settings.clock {
                ClockKind::Real => wake_up,
                ClockKind::Virtual => {
                    if self.virtual_wait(wake_up) {
                        continue;
                    }
                    // Idle: the next input is taken in whole (up to an
                    // `advance`, or to its end) before the job runs again.
                    self.running = false;
                    if !self.pending.is_empty() {
                        continue;
                    }
                    // Only `advance` moves a virtual clock to timers.
                    None
                }
            };
            let calls = self.harness.calls_in_flight();
            // After a restart on the real clock the job waits out Flink's
            // restart delay (its clock is ahead of the wall clock); answers
            // that arrive meanwhile are taken after it, so waiting for them
            // now would return at once, again and again.
            let in_restart_delay =
                self.settings.clock == ClockKind::Real && self.clock.now() < self.harness.now();
            if self.inputs_open == 0
                && !self.settings.http
                && wake_up.is_none()
                && self.pending.is_empty()
                && calls == 0
            {
                self.checkpoint()?;
                return Ok(());
            }
            let mut deadline = self.next_checkpoint;
            if let Some(at) = wake_up {
                deadline = deadline.min(self.clock.instant_of(at));
            }
            tokio::select! {
                command = commands.recv(), if !closed && room => match command {
                    Some(command) => received.push(command),
                    None => {
                        closed = true;
                        self.inputs_open = 0;
                    }
                },
                // Answered whether or not input is taken.
                query = queries.recv(), if !queries_closed => match query {
                    Some(query) => self.answer(query),
                    None => queries_closed = true,
                },
                () = tokio::time::sleep_until(deadline.into()) => {}
                _ = stop.changed() => {}
                // Calls on the network: their answers are applied as they
                // arrive, while input goes on being taken.
                () = self.harness.wait_for_answer(), if calls > 0 && !in_restart_delay => {}
            }
        }
    }

    /// Answers a question about the job's state.
    fn answer(&self, query: StateQuery) {
        let _ = query.reply.send(state_json(&self.harness, &query.address));
    }

    /// Whether more input is taken in now: not while the job holds
    /// [`MAX_UNDELIVERED_INPUT`] input messages it has not delivered (a
    /// back-pressured partition takes none, as the runtime's source reads
    /// no faster than its operator takes records), so memory stays bounded
    /// however much input waits; input then waits in its channel, its file
    /// or its HTTP request. On the virtual clock, the input up to the next
    /// `advance` is taken in whole, or up to [`MAX_UNDELIVERED_INPUT`]
    /// messages (counted in whole input entries, so where the job starts
    /// running depends on the input alone, not on how fast it was read).
    fn takes_input(&self) -> bool {
        self.undelivered_input() < MAX_UNDELIVERED_INPUT
    }

    /// Input messages taken in and not delivered yet: queued here, or
    /// given to the job and not delivered by it.
    fn undelivered_input(&self) -> usize {
        self.harness.pending_ingress() + self.pending_messages
    }

    /// A bounded slice of work, which a stop interrupts (a call may take
    /// its whole budget; the request is sent again on restart). On the
    /// real clock, nothing runs while the job's clock is ahead of the wall
    /// clock (after a restart, Flink's restart delay).
    async fn run_slice(
        &mut self,
        stop: &mut watch::Receiver<bool>,
    ) -> Result<Progress, RuntimeError> {
        if self.settings.clock == ClockKind::Real {
            let now = self.clock.now();
            if now < self.harness.now() {
                return Ok(Progress::Idle {
                    wake_up: Some(self.harness.now()),
                });
            }
            self.harness.move_clock_to(now);
        }
        tokio::select! {
            progress = self.harness.run_steps(256) => {
                progress.map_err(|e| RuntimeError::Job {
                    failure: Box::new(e),
                    max_restarts: self.settings.max_restarts,
                })
            }
            _ = stop.changed() => Ok(Progress::Busy),
        }
    }

    /// On the virtual clock, when idle: waits out a retry backoff or a
    /// restart, or moves on towards the target of an `advance` (firing what
    /// falls due on the way, in order, running to idle in between).
    /// Returns whether the clock moved (or work is due now).
    fn virtual_wait(&mut self, wake_up: Option<Duration>) -> bool {
        let now = self.harness.now();
        if wake_up.is_some_and(|at| at <= now) {
            return true;
        }
        if let Some(retry) = self.harness.next_retry() {
            let at = match (self.advance_to, wake_up) {
                (Some(target), Some(timer)) if timer <= target => retry.min(timer),
                _ => retry,
            };
            self.harness.move_clock_to(at);
            return true;
        }
        let Some(target) = self.advance_to else {
            return false;
        };
        match wake_up {
            Some(timer) if timer <= target => self.harness.move_clock_to(timer),
            _ => {
                self.harness.move_clock_to(target);
                self.advance_to = None;
            }
        }
        true
    }

    /// Logs what arrived (one sync for all of it) and acknowledges it, then
    /// queues it to be applied.
    fn intake(&mut self, commands: Vec<Command>) {
        if commands.is_empty() {
            return;
        }
        let mut entries = Vec::new();
        for command in &commands {
            match command {
                Command::Deliver {
                    deliveries,
                    position,
                    ..
                } => entries.push(Logged {
                    messages: deliveries
                        .iter()
                        .map(|d| LoggedMessage {
                            function_type: d.to.function_type().as_str().to_owned(),
                            id: d.to.id().to_owned(),
                            type_name: d.type_name.as_str().to_owned(),
                            value: d.value.clone(),
                        })
                        .collect(),
                    advance_nanos: None,
                    position: position.clone(),
                }),
                Command::Advance { by, position } => entries.push(Logged {
                    messages: Vec::new(),
                    advance_nanos: Some(u64::try_from(by.as_nanos()).unwrap_or(u64::MAX)),
                    position: position.clone(),
                }),
                Command::InputDone => {}
            }
        }
        let logged = self.store.append(&entries);
        if let Err(e) = &logged {
            self.failed = Some(format!("could not log the input: {e}"));
        }
        let mut entries = entries.into_iter();
        for command in commands {
            match command {
                Command::Deliver { ack, .. } => {
                    let entry = entries.next();
                    let n = entry.as_ref().map_or(0, |e| e.messages.len());
                    if let Some(ack) = ack {
                        let _ = ack.send(match &logged {
                            Ok(()) => Ok(n),
                            Err(e) => Err(format!("could not log the input: {e}")),
                        });
                    }
                    if let (Ok(()), Some(entry)) = (&logged, entry) {
                        self.pending_messages += entry.messages.len();
                        self.pending.push_back(Pending::Logged(entry));
                    }
                }
                Command::Advance { .. } => {
                    if let (Ok(()), Some(entry)) = (&logged, entries.next()) {
                        self.pending.push_back(Pending::Logged(entry));
                    }
                }
                Command::InputDone => self.pending.push_back(Pending::InputDone),
            }
        }
    }

    /// Applies queued input in order, up to an `advance` on the virtual
    /// clock (what follows it waits until the clock is there), or until the
    /// job holds [`MAX_UNDELIVERED_INPUT`] undelivered messages there (it
    /// then runs them to idle first: the cut falls between whole input
    /// entries, at the same place whatever the reading speed).
    fn apply_pending(&mut self) {
        let virtual_clock = self.settings.clock == ClockKind::Virtual;
        while self.advance_to.is_none() {
            if virtual_clock && self.harness.pending_ingress() >= MAX_UNDELIVERED_INPUT {
                return;
            }
            let Some(next) = self.pending.pop_front() else {
                return;
            };
            if let Pending::Logged(entry) = &next {
                self.pending_messages -= entry.messages.len();
            }
            match next {
                Pending::InputDone => self.inputs_open = self.inputs_open.saturating_sub(1),
                Pending::Logged(entry) => {
                    if let Some(position) = &entry.position {
                        self.positions
                            .insert(position.path.clone(), position.clone());
                    }
                    self.accepted_since_checkpoint = true;
                    if let Some(nanos) = entry.advance_nanos {
                        if self.settings.clock == ClockKind::Virtual {
                            self.advance_to = Some(
                                self.harness
                                    .now()
                                    .saturating_add(Duration::from_nanos(nanos)),
                            );
                        } else {
                            log(
                                "`advance` lines move only the virtual clock (--clock virtual); ignored",
                            );
                        }
                    }
                    for message in entry.messages {
                        if let Err(e) = send_logged(&mut self.harness, message) {
                            log(&e.to_string());
                        }
                    }
                }
            }
        }
    }

    /// A checkpoint, unless nothing happened since the last one.
    fn checkpoint_if_changed(&mut self) -> Result<(), RuntimeError> {
        let steps = self.harness.counters().steps;
        if steps == self.steps_at_checkpoint && !self.accepted_since_checkpoint {
            self.next_checkpoint = Instant::now() + self.settings.checkpoint_interval;
            return Ok(());
        }
        self.checkpoint()
    }

    /// Writes the records that are visible before any checkpoint: those of
    /// at-least-once egresses (exactly-once records become visible only
    /// when a checkpoint commits them, and are written by it). A restart
    /// from an earlier checkpoint writes them again.
    fn write_visible_egress(&mut self) -> Result<(), RuntimeError> {
        let lines = self.take_visible_egress();
        self.sink.write(&lines)?;
        Ok(())
    }

    /// The egress records visible now, as lines, taken out of the harness.
    fn take_visible_egress(&mut self) -> Vec<String> {
        self.harness
            .take_committed_egress()
            .into_iter()
            .flat_map(|(id, records)| {
                records
                    .into_iter()
                    .map(move |r| egress_line(&id, &r))
                    .collect::<Vec<_>>()
            })
            .collect()
    }

    /// Completes a checkpoint, on disk, then writes the exactly-once egress
    /// it committed (at-least-once records written so far go out first, so
    /// the checkpoint covers them).
    fn checkpoint(&mut self) -> Result<(), RuntimeError> {
        self.write_visible_egress()?;
        self.steps_at_checkpoint = self.harness.counters().steps;
        self.accepted_since_checkpoint = false;
        self.harness.checkpoint();
        let pending = self.take_visible_egress();
        let harness = self
            .harness
            .last_checkpoint()
            .map(Checkpoint::to_bytes)
            .unwrap_or_default();
        self.store.checkpoint(Saved {
            harness,
            positions: self.positions.values().cloned().collect(),
            egress_length: self.sink.length(),
            egress_target: self.sink.target(),
            pending: pending.clone(),
            wall_clock_millis: unix_millis(),
            ..Saved::default()
        })?;
        self.sink.write(&pending)?;
        self.next_checkpoint = Instant::now() + self.settings.checkpoint_interval;
        Ok(())
    }

    /// Writes what users need to know to stderr: failures and restarts
    /// always, every event with `--verbose`.
    fn report(&self, trace: Vec<TraceEntry>) {
        for entry in trace {
            let show = self.settings.verbose
                || match &entry.event {
                    Event::AttemptFailed {
                        attempt, retry_in, ..
                    } => *attempt == 1 || retry_in.is_none() || attempt.is_power_of_two(),
                    Event::JobFailed { .. } | Event::Restored { .. } => true,
                    _ => false,
                };
            if show {
                log(&entry.to_string());
            }
        }
    }
}

fn send_logged(harness: &mut Harness, logged: LoggedMessage) -> Result<(), RuntimeError> {
    let bad = |what: String| RuntimeError::Setup(format!("ingress log: {what}"));
    let function_type: TypeName = logged
        .function_type
        .parse()
        .map_err(|e| bad(format!("{}: {e}", logged.function_type)))?;
    // The typename as logged: a topic's `valueType` need not be
    // `namespace/name` (the runtime passes it on verbatim).
    harness.send_bytes(
        Address::new(function_type, logged.id),
        &logged.type_name,
        logged.value,
    );
    Ok(())
}

/// An egress record as a JSON line: Kafka and Kinesis records decoded.
/// The harness lets a Kafka or Kinesis egress take only its own record
/// type, so the record's typename says which egress kind it came from.
fn egress_line(id: &EgressIdentifier, record: &EgressRecord) -> String {
    let mut line = Map::new();
    line.insert("egress".into(), json!(id.type_name().as_str()));
    let type_name = record.type_name.as_str();
    let (key, value) = match type_name {
        t if t == KAFKA_RECORD_TYPE.as_str() => match record.kafka() {
            Ok(kafka) => {
                line.insert("topic".into(), json!(kafka.topic()));
                if let Some(key) = kafka.key() {
                    line.insert("key".into(), json!(key));
                }
                values::render(None, kafka.value())
            }
            Err(_) => values::render(Some(type_name), &record.value),
        },
        t if t == KINESIS_RECORD_TYPE.as_str() => match record.kinesis() {
            Ok(kinesis) => {
                line.insert("stream".into(), json!(kinesis.stream()));
                line.insert("partition_key".into(), json!(kinesis.partition_key()));
                if let Some(hash) = kinesis.explicit_hash_key() {
                    line.insert("explicit_hash_key".into(), json!(hash));
                }
                values::render(None, kinesis.value())
            }
            Err(_) => values::render(Some(type_name), &record.value),
        },
        _ => {
            line.insert("type".into(), json!(record.type_name));
            values::render(Some(&record.type_name), &record.value)
        }
    };
    line.insert(key.into(), value);
    Json::Object(line).to_string()
}

/// `{"address": .., "state": {name: {"type": .., "value": ..}}}`.
pub(crate) fn state_json(harness: &Harness, address: &Address) -> Json {
    let mut state = Map::new();
    for (name, type_name, bytes) in harness.states(address) {
        let (key, value) = values::render(Some(&type_name), &bytes);
        let mut entry = Map::new();
        entry.insert("type".into(), json!(type_name));
        entry.insert(key.into(), value);
        state.insert(name, Json::Object(entry));
    }
    json!({"address": address.to_string(), "state": state})
}

/// One line on stderr.
pub(crate) fn log(line: &str) {
    #[allow(clippy::print_stderr)] // the runtime's log
    {
        eprintln!("statefun-local: {line}");
    }
}
