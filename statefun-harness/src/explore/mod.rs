//! Property testing of a workload over generated schedules: exactly once
//! under crashes and faults, the same result for every batch shape, and
//! the same trace twice (spec §3.10, §3.11).

mod generate;
mod run;
mod shrink;
mod violation;

use std::collections::BTreeMap;
use std::fmt;

pub use violation::{Report, Violation};

use proptest::strategy::ValueTree;

use self::generate::new_tree;
use self::violation::violation;
use crate::invariant::{Invariant, View};
use crate::plan::Batching;
use crate::schedule::Schedule;
use crate::{Harness, HarnessBuilder};

/// What a custom observation renders, from a finished run.
type Observer = Box<dyn Fn(&Harness) -> String>;

/// Explores a workload over generated schedules (seeds, batch shapes,
/// faults, checkpoints and crashes) with proptest, and checks the
/// properties StateFun promises: [exactly
/// once](Explorer::check_exactly_once) (every faulty run ends with the
/// state and committed egress of the fault-free run), [independence from
/// batch shapes](Explorer::check_batch_shapes), and
/// [determinism](Explorer::check_deterministic) (the same schedule twice
/// gives the same trace, which catches handlers that read the clock or
/// iterate a `HashMap`). Each also checks the [invariants](Explorer::invariant)
/// at every point at rest of every run.
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
/// use stateful_functions::{function, Address, Context, FunctionError, FunctionType, Functions, State};
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
    invariants: Vec<Invariant>,
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
            invariants: Vec::new(),
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
    /// [`Outcome`](crate::Outcome): for workloads whose outcome legitimately depends on the
    /// interleaving, render what must not.
    #[must_use]
    pub fn observe(mut self, observe: impl Fn(&Harness) -> String + 'static) -> Self {
        self.observe = Some(Box::new(observe));
        self
    }

    /// Checks `invariant` at every point at rest of every run: the
    /// fault-free references and every explored schedule, with its
    /// crashes, restores and retries (as
    /// [`HarnessBuilder::invariant`] does for one harness; points at rest
    /// are defined at [`View::is_at_rest`]). Each check then reports the
    /// first invariant that does not hold as a [`Violation`] of the check
    /// `invariant`, with the schedule (shrunk, for
    /// [`check_exactly_once`](Explorer::check_exactly_once)), the step
    /// and virtual time, the invariant's name and its message; the same
    /// schedule reaches the same step again.
    ///
    /// This finds what comparing outcomes cannot: a state that is wrong
    /// while the job rests between inputs, although every run ends right,
    /// or a state that is wrong in every run alike.
    ///
    /// ```
    /// use statefun_harness::{Explorer, Harness, View};
    /// use stateful_functions::{function, Address, Context, FunctionError, FunctionType, Functions, State};
    ///
    /// #[derive(State)]
    /// struct Counter {
    ///     count: i64,
    /// }
    ///
    /// #[derive(Default)]
    /// struct Odd;
    ///
    /// #[function(typename = "example/odd", state = Counter, auto_register = false)]
    /// impl Odd {
    ///     #[handler]
    ///     async fn add(&self, ctx: &mut Context, n: i64) -> Result<(), FunctionError> {
    ///         let count = ctx.storage().get(&Counter::COUNT)?.unwrap_or(0) + n;
    ///         ctx.storage().set(&Counter::COUNT, &count)?;
    ///         Ok(())
    ///     }
    /// }
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let a = Address::new(Odd::TYPE_NAME, "a");
    /// let explorer = Explorer::new(
    ///     || Harness::builder().functions(Functions::new().with(Odd.spec().expect("spec")).expect("one")),
    ///     async |h: &mut Harness| {
    ///         // Each input runs to rest: the count is 1, 3, 6, 10.
    ///         for n in 1..=4_i64 {
    ///             h.send(Address::new(Odd::TYPE_NAME, "a"), &n)?;
    ///             h.run().await?;
    ///         }
    ///         Ok::<_, Box<dyn std::error::Error>>(())
    ///     },
    /// )
    /// .cases(20)
    /// .invariant("the count is odd", move |view: &View<'_>| {
    ///     match view.state(&a, &Counter::COUNT).map_err(|e| e.to_string())? {
    ///         Some(c) if c % 2 == 0 => Err(format!("the count is {c}")),
    ///         _ => Ok(()),
    ///     }
    /// });
    /// let violation = explorer.check_exactly_once().await.unwrap_err();
    /// let broken = violation.invariant().expect("an invariant");
    /// assert_eq!(broken.message, "the count is 6");
    /// # let _ = Counter { count: 0 };
    /// # Ok(())
    /// # }
    /// ```
    #[must_use]
    pub fn invariant<F>(
        mut self,
        name: &str,
        invariant: impl Fn(&View<'_>) -> Result<(), F> + Send + Sync + 'static,
    ) -> Self
    where
        F: fmt::Display,
    {
        self.invariants.push(Invariant::new(name, invariant));
        self
    }
}

/// The checks.
impl<B, W, E> Explorer<B, W>
where
    B: Fn() -> HarnessBuilder,
    W: AsyncFn(&mut Harness) -> Result<(), E>,
    E: fmt::Display,
{
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
                Err(case) => Err(case.violation(None)),
            };
        }
        let strategy = self.strategy();
        let mut runner = self.runner();
        for _ in 0..self.cases {
            let mut tree = new_tree(&strategy, &mut runner)?;
            let Err(mut best) = self
                .exactly_once_case(&mut cache, &tree.current(), &mut report)
                .await?
            else {
                continue;
            };
            let original = best.schedule.clone();
            // Shrink: simplify while it still fails, step back when not.
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
                    // Shrinking keeps the kind of failure: an invariant
                    // stays an invariant.
                    Err(found) if found.check == best.check => {
                        failing = true;
                        best = found;
                    }
                    _ => failing = false,
                }
            }
            let case = self.minimize(&mut cache, best, &mut steps).await?;
            let shrunk = (case.schedule != original).then_some((original, steps));
            return Err(case.violation(shrunk));
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
