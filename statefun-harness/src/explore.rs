//! Property testing of a workload over generated schedules: exactly once
//! under crashes and faults, the same result for every batch shape, and
//! the same trace twice (spec §3.10, §3.11).

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

use bytes::Bytes;
use proptest::collection::vec;
use proptest::prelude::{Just, Strategy};
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use statefun_sdk::Address;

use crate::egress::{EgressRecord, EgressSemantics};
use crate::engine::Engine;
use crate::faults::Faults;
use crate::plan::Batching;
use crate::rng::Rng;
use crate::schedule::Schedule;
use crate::{Harness, HarnessBuilder};

/// What a run must not change: every state value and the committed egress
/// (per egress, in a sorted order, since the order across addresses
/// depends on the schedule).
#[derive(Clone, PartialEq, Eq)]
pub struct Outcome {
    states: BTreeMap<(Address, String), (String, Bytes)>,
    egress: BTreeMap<String, Vec<(String, Bytes)>>,
}

impl Outcome {
    /// Every live state value of `engine` and the egress records visible
    /// now.
    pub(crate) fn of(engine: &Engine) -> Self {
        let mut states = BTreeMap::new();
        for address in engine.addresses_with_state() {
            for name in engine.state_names(address) {
                if let Some(value) = engine.state_raw(address, name) {
                    states.insert((address.clone(), name.to_owned()), value);
                }
            }
        }
        let egress = engine
            .egress_ids()
            .map(|id| {
                let mut records: Vec<(String, Bytes)> = engine
                    .visible_egress(id)
                    .iter()
                    .map(|EgressRecord { type_name, value }| (type_name.clone(), value.clone()))
                    .collect();
                records.sort();
                (id.to_owned(), records)
            })
            .filter(|(_, records)| !records.is_empty())
            .collect();
        Self { states, egress }
    }
}

/// A value as a person reads it: text when it is printable, hex otherwise.
fn shown(type_name: &str, bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        Ok(text) if !text.chars().any(char::is_control) => format!("{type_name} {text:?}"),
        _ => {
            let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
            format!("{type_name} 0x{hex}")
        }
    }
}

impl Outcome {
    /// The first difference from `expected`, in words; `None` when equal.
    #[must_use]
    pub fn difference(&self, expected: &Self) -> Option<String> {
        let keys: std::collections::BTreeSet<_> =
            expected.states.keys().chain(self.states.keys()).collect();
        for key in keys {
            let (address, name) = key;
            let render = |v: Option<&(String, Bytes)>| {
                v.map_or_else(|| "no value".to_owned(), |(t, b)| shown(t, b))
            };
            let (want, got) = (expected.states.get(key), self.states.get(key));
            if want != got {
                return Some(format!(
                    "state {address} {name:?}: expected {}, got {}",
                    render(want),
                    render(got)
                ));
            }
        }
        let ids: std::collections::BTreeSet<_> =
            expected.egress.keys().chain(self.egress.keys()).collect();
        for id in ids {
            let none = Vec::new();
            let want = expected.egress.get(id).unwrap_or(&none);
            let got = self.egress.get(id).unwrap_or(&none);
            if want != got {
                let list = |records: &[(String, Bytes)]| {
                    records
                        .iter()
                        .map(|(t, b)| shown(t, b))
                        .collect::<Vec<_>>()
                        .join(", ")
                };
                return Some(format!(
                    "egress {id}: expected {} records [{}], got {} [{}]",
                    want.len(),
                    list(want),
                    got.len(),
                    list(got)
                ));
            }
        }
        None
    }
}

impl fmt::Debug for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut map = f.debug_map();
        for ((address, name), (t, b)) in &self.states {
            map.entry(&format_args!("{address} {name}"), &shown(t, b));
        }
        for (id, records) in &self.egress {
            let records: Vec<String> = records.iter().map(|(t, b)| shown(t, b)).collect();
            map.entry(&format_args!("egress {id}"), &records);
        }
        map.finish()
    }
}

/// A generated schedule before it is fitted to a run: crash and checkpoint
/// points as per-mille positions in the fault-free run's steps.
#[derive(Debug, Clone)]
struct Draw {
    seed: u64,
    batching: Batching,
    faults: Faults,
    checkpoints: Vec<u16>,
    crashes: Vec<u16>,
}

impl Draw {
    fn fit(&self, steps: u64) -> Schedule {
        let at = |p: &u16| steps * u64::from(*p) / 1000;
        let mut schedule = Schedule::new(self.seed);
        schedule.batching = self.batching;
        schedule.faults = self.faults;
        schedule.checkpoints = self.checkpoints.iter().map(at).collect();
        schedule.crashes = self.crashes.iter().map(at).collect();
        schedule
    }
}

/// A property that failed, with the (shrunk) schedule that shows it and a
/// one-line way to reproduce it.
pub struct Violation(Box<Details>);

struct Details {
    check: &'static str,
    schedule: Schedule,
    what: String,
    shrunk_from: Option<(Schedule, u32)>,
    trace: Option<PathBuf>,
}

impl Violation {
    /// The schedule that shows the violation (after shrinking).
    #[must_use]
    pub fn schedule(&self) -> &Schedule {
        &self.0.schedule
    }

    /// What differed or failed.
    #[must_use]
    pub fn what(&self) -> &str {
        &self.0.what
    }
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let v = &self.0;
        writeln!(f, "{} violated: {}", v.check, v.what)?;
        writeln!(f, "  schedule: {}", v.schedule)?;
        if let Some((original, steps)) = &v.shrunk_from {
            writeln!(f, "  shrunk in {steps} steps from: {original}")?;
        }
        if v.schedule.is_fault_free() && v.check == "exactly once" {
            writeln!(
                f,
                "  (no crash and no fault: the outcome depends on the batch shape or the interleaving)"
            )?;
        }
        if let Some(trace) = &v.trace {
            writeln!(f, "  trace: {} (and .jsonl)", trace.display())?;
        }
        let test = std::thread::current()
            .name()
            .filter(|n| *n != "main")
            .map(|n| format!(" -- --exact {n}"))
            .unwrap_or_default();
        write!(
            f,
            "  reproduce: {}='{}' cargo test{test}",
            SCHEDULE_VAR, v.schedule
        )
    }
}

impl fmt::Debug for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl std::error::Error for Violation {}

/// What an exploration did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Report {
    /// Schedules run (besides the fault-free references).
    pub schedules: u64,
    /// Crashes injected and failed jobs restarted, over all of them.
    pub restarts: u64,
    /// Call attempts that failed (and were retried).
    pub failed_attempts: u64,
    /// Requests sent.
    pub requests: u64,
}

impl Report {
    fn add(&mut self, h: &Harness) {
        let c = h.counters();
        self.schedules += 1;
        self.restarts += c.restarts;
        self.failed_attempts += c.failed_attempts;
        self.requests += c.requests;
    }
}

/// What a custom observation renders, from a finished run.
type Observer = Box<dyn Fn(&Harness) -> String>;

/// The variable that replays one schedule instead of exploring.
const SCHEDULE_VAR: &str = "STATEFUN_HARNESS_SCHEDULE";

/// Explores a workload over generated schedules (seeds, batch shapes,
/// faults, checkpoints and crashes) with proptest, and checks the
/// properties StateFun promises: [exactly
/// once](Explorer::check_exactly_once) (every faulty run ends with the
/// state and committed egress of the fault-free run), [independence from
/// batch shapes](Explorer::check_batch_shapes), and
/// [determinism](Explorer::check_deterministic) (the same schedule twice
/// gives the same trace, which catches handlers that read the clock or
/// iterate a `HashMap`).
///
/// A violation is shrunk to a minimal schedule, its trace is written (see
/// [`Harness::write_trace`]), and it prints one line to reproduce it:
/// with `STATEFUN_HARNESS_SCHEDULE` set, a check runs that one schedule.
/// The exploration itself is seeded ([`Explorer::seed`]): the same code
/// explores the same schedules.
///
/// Retries wait out their backoff on the virtual clock, so a faulty run
/// ends a few milliseconds (or, with [`Explorer::with_timeouts`], minutes)
/// later than the fault-free one: a workload with delayed messages or
/// expiring state should end by advancing the clock past them, so both
/// runs compare at rest.
///
/// `build` makes a fresh [`HarnessBuilder`] per run (the explorer sets the
/// seed, schedule and exactly-once egress); `workload` sends the input and
/// runs it. Each run allows 100 restarts after a failed job (see
/// [`HarnessBuilder::restart_on_failure`]). After the workload the
/// explorer runs to idle and takes a final checkpoint, so all egress is
/// committed.
///
/// ```
/// use statefun_harness::{Explorer, Harness};
/// use statefun_sdk::{function, Address, Context, FunctionError, FunctionType, Functions, State};
///
/// #[derive(State)]
/// struct Total {
///     sum: i64,
/// }
///
/// #[derive(Default)]
/// struct Adder;
///
/// #[function(typename = "example/adder", state = Total, auto_register = false)]
/// impl Adder {
///     #[handler]
///     async fn add(&self, ctx: &mut Context, n: i64) -> Result<(), FunctionError> {
///         let sum = ctx.storage().get(&Total::SUM)?.unwrap_or(0) + n;
///         ctx.storage().set(&Total::SUM, &sum)?;
///         Ok(())
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let explorer = Explorer::new(
///     || Harness::builder().functions(Functions::new().with(Adder.spec().expect("spec")).expect("one")),
///     async |h: &mut Harness| {
///         for n in 1..=5_i64 {
///             h.send(Address::new(Adder::TYPE_NAME, "a"), &n)?;
///         }
///         h.run().await?;
///         Ok::<_, Box<dyn std::error::Error>>(())
///     },
/// )
/// .cases(50);
/// let report = explorer.check_exactly_once().await?;
/// assert_eq!(report.schedules, 50);
/// explorer.check_batch_shapes().await?;
/// explorer.check_deterministic().await?;
/// # let _ = Total { sum: 0 };
/// # Ok(())
/// # }
/// ```
pub struct Explorer<B, W> {
    build: B,
    workload: W,
    cases: u32,
    seed: u64,
    seeds: u64,
    max_crashes: usize,
    max_fault_rate: u16,
    timeouts: bool,
    max_shrink_steps: u32,
    observe: Option<Observer>,
    replay: Option<Schedule>,
}

impl<B, W> fmt::Debug for Explorer<B, W> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Explorer")
            .field("cases", &self.cases)
            .field("seed", &self.seed)
            .field("seeds", &self.seeds)
            .field("max_crashes", &self.max_crashes)
            .field("max_fault_rate", &self.max_fault_rate)
            .field("timeouts", &self.timeouts)
            .finish_non_exhaustive()
    }
}

/// A run: the harness, and whether the workload (or the run to idle
/// after it) failed.
type Run = (Harness, Result<(), String>);

impl<B, W, E> Explorer<B, W>
where
    B: Fn() -> HarnessBuilder,
    W: AsyncFn(&mut Harness) -> Result<(), E>,
    E: fmt::Display,
{
    /// An explorer of `workload` on harnesses from `build`.
    pub fn new(build: B, workload: W) -> Self {
        Self {
            build,
            workload,
            cases: 256,
            seed: 0,
            seeds: 16,
            max_crashes: 3,
            max_fault_rate: 100,
            timeouts: false,
            max_shrink_steps: 512,
            observe: None,
            replay: None,
        }
    }

    /// Runs only `schedule` (as `STATEFUN_HARNESS_SCHEDULE` does), to
    /// reproduce a violation.
    #[must_use]
    pub fn replay(mut self, schedule: Schedule) -> Self {
        self.replay = Some(schedule);
        self
    }

    /// How many schedules to generate (default 256).
    #[must_use]
    pub fn cases(mut self, cases: u32) -> Self {
        self.cases = cases;
        self
    }

    /// The seed of the exploration itself (default 0).
    #[must_use]
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Harness seeds are drawn from `0..seeds` (default 16), so their
    /// fault-free reference runs are shared between schedules.
    #[must_use]
    pub fn seeds(mut self, seeds: u64) -> Self {
        self.seeds = seeds.max(1);
        self
    }

    /// At most this many crashes per schedule (default 3).
    #[must_use]
    pub fn max_crashes(mut self, crashes: usize) -> Self {
        self.max_crashes = crashes;
        self
    }

    /// The highest rate of each fault, per mille of call attempts (default
    /// 100; at most 250).
    #[must_use]
    pub fn max_fault_rate(mut self, per_mille: u16) -> Self {
        self.max_fault_rate = per_mille.min(250);
        self
    }

    /// Also injects timeouts, each of which spends a whole call budget and
    /// fails the job, which then restarts (off by default: the virtual
    /// clock then moves by minutes, which changes the outcome of workloads
    /// with timers or expiring state).
    #[must_use]
    pub fn with_timeouts(mut self) -> Self {
        self.timeouts = true;
        self
    }

    /// Compares what `observe` renders instead of the whole
    /// [`Outcome`]: for workloads whose outcome legitimately depends on the
    /// interleaving, render what must not.
    #[must_use]
    pub fn observe(mut self, observe: impl Fn(&Harness) -> String + 'static) -> Self {
        self.observe = Some(Box::new(observe));
        self
    }

    fn strategy(&self) -> impl Strategy<Value = Draw> + use<B, W, E> {
        let rate = self.max_fault_rate;
        let timeout = if self.timeouts { rate / 5 } else { 0 };
        let faults = (0..=rate, 0..=rate, 0..=rate, 0..=timeout).prop_map(|(r, e, l, t)| {
            Faults::none()
                .refused(r)
                .server_error(e)
                .lost_response(l)
                .timeout(t)
        });
        let batching = proptest::prop_oneof![
            Just(Batching::Natural),
            Just(Batching::Singleton),
            Just(Batching::Maximal),
            Just(Batching::RandomCuts),
        ];
        (
            0..self.seeds,
            batching,
            faults,
            vec(0..1000_u16, 0..=2),
            vec(0..1000_u16, 0..=self.max_crashes),
        )
            .prop_map(|(seed, batching, faults, checkpoints, crashes)| Draw {
                seed,
                batching,
                faults,
                checkpoints,
                crashes,
            })
    }

    /// One run of the workload under `schedule`, to idle and a final
    /// checkpoint; `Err` when the harness cannot be built.
    async fn run(&self, schedule: &Schedule) -> Result<Run, Violation> {
        let builder = schedule
            .apply((self.build)())
            .egress_semantics(EgressSemantics::ExactlyOnce)
            .restart_on_failure(100);
        let mut h = builder.build().map_err(|e| {
            let what = format!("the harness cannot be built: {e}");
            violation("the workload", schedule.clone(), what, None, None)
        })?;
        let mut result = (self.workload)(&mut h).await.map_err(|e| e.to_string());
        if result.is_ok() {
            result = h.run().await.map(drop).map_err(|e| e.to_string());
        }
        if result.is_ok() {
            h.checkpoint();
        }
        Ok((h, result))
    }

    /// A run that must succeed (a reference): its failure is reported as
    /// the workload's.
    async fn run_ok(&self, schedule: &Schedule) -> Result<Harness, Violation> {
        match self.run(schedule).await? {
            (h, Ok(())) => Ok(h),
            (h, Err(e)) => Err(violation(
                "the workload",
                schedule.clone(),
                format!("the run fails: {e}"),
                None,
                Some(&h),
            )),
        }
    }

    /// The difference between two runs' observations, if any.
    fn compare(&self, expected: &Harness, actual: &Harness) -> Option<String> {
        match &self.observe {
            None => actual.outcome().difference(&expected.outcome()),
            Some(observe) => {
                let (want, got) = (observe(expected), observe(actual));
                (want != got).then(|| format!("expected {want:?}, got {got:?}"))
            }
        }
    }

    /// The fault-free run of `seed`: the reference, and its step count.
    async fn reference(
        &self,
        cache: &mut BTreeMap<u64, (Harness, u64)>,
        seed: u64,
    ) -> Result<u64, Violation> {
        if let Some((_, steps)) = cache.get(&seed) {
            return Ok(*steps);
        }
        let h = self.run_ok(&Schedule::new(seed)).await?;
        let steps = h.counters().steps;
        cache.insert(seed, (h, steps));
        Ok(steps)
    }

    /// Runs one drawn schedule against its reference: `Err` describes the
    /// violation.
    async fn exactly_once_case(
        &self,
        cache: &mut BTreeMap<u64, (Harness, u64)>,
        draw: &Draw,
        report: &mut Report,
    ) -> Result<Result<(), (Schedule, String, Option<Harness>)>, Violation> {
        let steps = self.reference(cache, draw.seed).await?;
        self.schedule_case(cache, draw.fit(steps), report).await
    }

    /// Runs one schedule against the reference of its seed.
    async fn schedule_case(
        &self,
        cache: &mut BTreeMap<u64, (Harness, u64)>,
        schedule: Schedule,
        report: &mut Report,
    ) -> Result<Result<(), (Schedule, String, Option<Harness>)>, Violation> {
        self.reference(cache, schedule.seed).await?;
        let outcome = match self.run(&schedule).await? {
            (h, Ok(())) => h,
            (h, Err(e)) => return Ok(Err((schedule, format!("the run fails: {e}"), Some(h)))),
        };
        report.add(&outcome);
        let Some((expected, _)) = cache.get(&schedule.seed) else {
            return Ok(Ok(()));
        };
        Ok(match self.compare(expected, &outcome) {
            None => Ok(()),
            Some(difference) => Err((schedule, difference, Some(outcome))),
        })
    }

    /// After proptest's shrinking (which stops early on tuples): removes
    /// one ingredient at a time (a crash, a checkpoint, a kind of fault,
    /// the batch shape) while the schedule still fails.
    async fn minimize(
        &self,
        cache: &mut BTreeMap<u64, (Harness, u64)>,
        mut best: (Schedule, String, Option<Harness>),
        steps: &mut u32,
    ) -> Result<(Schedule, String, Option<Harness>), Violation> {
        loop {
            let s = &best.0;
            let mut candidates = Vec::new();
            if s.batching != Batching::Natural {
                let mut c = s.clone();
                c.batching = Batching::Natural;
                candidates.push(c);
            }
            let rates = s.faults.rates();
            for (i, rate) in rates.into_iter().enumerate() {
                if rate > 0 {
                    let mut r = rates;
                    r[i] = 0;
                    let mut c = s.clone();
                    c.faults = Faults::none()
                        .refused(r[0])
                        .server_error(r[1])
                        .lost_response(r[2])
                        .timeout(r[3]);
                    candidates.push(c);
                }
            }
            for i in 0..s.crashes.len() {
                let mut c = s.clone();
                c.crashes.remove(i);
                candidates.push(c);
            }
            for i in 0..s.checkpoints.len() {
                let mut c = s.clone();
                c.checkpoints.remove(i);
                candidates.push(c);
            }
            let mut improved = false;
            for candidate in candidates {
                *steps += 1;
                let mut scratch = Report::default();
                if let Err(found) = self.schedule_case(cache, candidate, &mut scratch).await? {
                    best = found;
                    improved = true;
                    break;
                }
            }
            if !improved {
                return Ok(best);
            }
        }
    }

    fn replayed(&self) -> Option<Schedule> {
        self.replay.clone().or_else(replayed_schedule)
    }

    fn runner(&self) -> TestRunner {
        let mut rng = Rng::new(self.seed);
        let mut seed = [0_u8; 32];
        for chunk in seed.chunks_mut(8) {
            chunk.copy_from_slice(&rng.next_u64().to_le_bytes());
        }
        TestRunner::new_with_rng(
            Config::default(),
            TestRng::from_seed(RngAlgorithm::ChaCha, &seed),
        )
    }

    /// Checks that every generated schedule (faults, crashes, checkpoints,
    /// batch shapes) ends with the state and committed egress of the
    /// fault-free run of the same seed: what StateFun promises for
    /// functions whose effects all go through the protocol.
    ///
    /// # Errors
    ///
    /// The first [`Violation`], shrunk.
    pub async fn check_exactly_once(&self) -> Result<Report, Violation> {
        let mut cache = BTreeMap::new();
        let mut report = Report::default();
        if let Some(schedule) = self.replayed() {
            // The same comparison as for a generated schedule.
            return match self
                .schedule_case(&mut cache, schedule, &mut report)
                .await?
            {
                Ok(()) => Ok(report),
                Err((schedule, what, h)) => {
                    Err(violation("exactly once", schedule, what, None, h.as_ref()))
                }
            };
        }
        let strategy = self.strategy();
        let mut runner = self.runner();
        for _ in 0..self.cases {
            let mut tree = new_tree(&strategy, &mut runner)?;
            let Err((original, what, harness)) = self
                .exactly_once_case(&mut cache, &tree.current(), &mut report)
                .await?
            else {
                continue;
            };
            // Shrink: simplify while it still fails, step back when not.
            let mut best = (original.clone(), what, harness);
            let mut steps = 0;
            let mut failing = true;
            while steps < self.max_shrink_steps {
                let moved = if failing {
                    tree.simplify()
                } else {
                    tree.complicate()
                };
                if !moved {
                    break;
                }
                steps += 1;
                let mut scratch = Report::default();
                match self
                    .exactly_once_case(&mut cache, &tree.current(), &mut scratch)
                    .await?
                {
                    Ok(()) => failing = false,
                    Err(found) => {
                        failing = true;
                        best = found;
                    }
                }
            }
            let (schedule, what, harness) = self.minimize(&mut cache, best, &mut steps).await?;
            let shrunk = (schedule != original).then_some((original, steps));
            return Err(violation(
                "exactly once",
                schedule,
                what,
                shrunk,
                harness.as_ref(),
            ));
        }
        Ok(report)
    }

    /// Checks that the fault-free outcome is the same whatever the batch
    /// shape ([`Batching`]): singleton, maximal and randomly cut batches
    /// against the natural ones, for each seed in `0..seeds`.
    ///
    /// # Errors
    ///
    /// The first shape and seed whose outcome differs.
    pub async fn check_batch_shapes(&self) -> Result<Report, Violation> {
        let mut report = Report::default();
        // A replayed schedule: its seed and shape only.
        let replayed = self.replayed();
        let seeds = match &replayed {
            Some(s) => s.seed..s.seed + 1,
            None => 0..self.seeds,
        };
        let shapes = match &replayed {
            Some(s) => vec![s.batching],
            None => vec![Batching::Singleton, Batching::Maximal, Batching::RandomCuts],
        };
        for seed in seeds {
            let expected = self.run_ok(&Schedule::new(seed)).await?;
            for &batching in &shapes {
                let mut schedule = Schedule::new(seed);
                schedule.batching = batching;
                let h = self.run_ok(&schedule).await?;
                report.add(&h);
                if let Some(difference) = self.compare(&expected, &h) {
                    let what = format!(
                        "the outcome depends on the batch shape ({batching}): {difference}"
                    );
                    return Err(violation(
                        "batch-shape independence",
                        schedule,
                        what,
                        None,
                        Some(&h),
                    ));
                }
            }
        }
        Ok(report)
    }

    /// Checks that each generated schedule, run twice, gives the same
    /// trace and outcome: a handler that reads the wall clock, draws
    /// unseeded random numbers or iterates a `HashMap` into its messages
    /// fails this. Runs `cases` generated schedules.
    ///
    /// # Errors
    ///
    /// The first schedule whose two runs differ, with the first line of
    /// the trace where they part.
    pub async fn check_deterministic(&self) -> Result<Report, Violation> {
        let mut report = Report::default();
        let schedules: Vec<Schedule> = match self.replayed() {
            Some(schedule) => vec![schedule],
            None => {
                let strategy = self.strategy();
                let mut runner = self.runner();
                let mut schedules = Vec::new();
                for _ in 0..self.cases.max(1) {
                    let tree = new_tree(&strategy, &mut runner)?;
                    // Crash points at small step numbers: the run is not
                    // known yet, and every run has its first steps.
                    schedules.push(tree.current().fit(64));
                }
                schedules
            }
        };
        for schedule in schedules {
            let first = self.run_ok(&schedule).await?;
            let second = self.run_ok(&schedule).await?;
            report.add(&first);
            let (a, b) = (first.trace_json_lines(), second.trace_json_lines());
            let parted = a
                .lines()
                .zip(b.lines())
                .position(|(x, y)| x != y)
                .or_else(|| {
                    (a.lines().count() != b.lines().count())
                        .then(|| a.lines().count().min(b.lines().count()))
                });
            let what = match parted {
                Some(line) => Some(format!(
                    "the same schedule gave two traces; they part at event {}:\n    first:  {}\n    second: {}",
                    line + 1,
                    a.lines().nth(line).unwrap_or("(end)"),
                    b.lines().nth(line).unwrap_or("(end)")
                )),
                None => self
                    .compare(&first, &second)
                    .map(|d| format!("the same schedule gave two outcomes: {d}")),
            };
            if let Some(what) = what {
                return Err(violation(
                    "determinism",
                    schedule,
                    what,
                    None,
                    Some(&second),
                ));
            }
        }
        Ok(report)
    }
}

fn new_tree<S: Strategy>(strategy: &S, runner: &mut TestRunner) -> Result<S::Tree, Violation> {
    strategy.new_tree(runner).map_err(|e| {
        let what = format!("no schedule could be generated: {e}");
        violation("the exploration", Schedule::default(), what, None, None)
    })
}

fn replayed_schedule() -> Option<Schedule> {
    let line = std::env::var(SCHEDULE_VAR).ok()?;
    match line.parse() {
        Ok(schedule) => Some(schedule),
        Err(e) => {
            #[allow(clippy::print_stderr)] // the variable is the user's own input
            {
                eprintln!("statefun-harness: ignoring {SCHEDULE_VAR}: {e}");
            }
            None
        }
    }
}

fn violation(
    check: &'static str,
    schedule: Schedule,
    what: String,
    shrunk_from: Option<(Schedule, u32)>,
    harness: Option<&Harness>,
) -> Violation {
    Violation(Box::new(Details {
        check,
        schedule,
        what,
        shrunk_from,
        trace: harness.and_then(|h| h.write_trace().ok()),
    }))
}
