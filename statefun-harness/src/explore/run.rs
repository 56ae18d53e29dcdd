//! Running schedules: one run of the workload, the fault-free reference
//! of a seed (cached), and a schedule compared against its reference.

use std::collections::BTreeMap;
use std::fmt;

use super::Explorer;
use super::generate::Draw;
use super::violation::{Report, Violation, violation};
use crate::egress::EgressSemantics;
use crate::schedule::Schedule;
use crate::{Harness, HarnessBuilder};

/// A run: the harness, and whether the workload (or the run to idle
/// after it) failed.
type Run = (Harness, Result<(), String>);

/// A schedule that failed: the schedule, the check that failed, what went
/// wrong, and its run.
pub(super) struct Case {
    pub(super) schedule: Schedule,
    pub(super) check: &'static str,
    pub(super) what: String,
    pub(super) harness: Option<Harness>,
}

impl Case {
    /// The case as it is reported, perhaps `shrunk_from` another schedule.
    pub(super) fn violation(self, shrunk_from: Option<(Schedule, u32)>) -> Violation {
        violation(
            self.check,
            self.schedule,
            self.what,
            shrunk_from,
            self.harness.as_ref(),
        )
    }
}

/// The first invariant `h` found broken, as a check and what went wrong.
fn broken(h: &Harness) -> Option<(&'static str, String)> {
    let v = h.broken_invariant()?;
    let what = format!(
        "{:?} at step {} ({} ms of virtual time): {}",
        v.name,
        v.step,
        v.at.as_millis(),
        v.message
    );
    Some(("invariant", what))
}

/// The fault-free reference runs by seed, with their step counts.
pub(super) type References = BTreeMap<u64, (Harness, u64)>;

impl<B, W, E> Explorer<B, W>
where
    B: Fn() -> HarnessBuilder,
    W: AsyncFn(&mut Harness) -> Result<(), E>,
    E: fmt::Display,
{
    /// One run of the workload under `schedule`, to idle and a final
    /// checkpoint; `Err` when the harness cannot be built.
    pub(super) async fn run(&self, schedule: &Schedule) -> Result<Run, Violation> {
        let mut builder = schedule
            .apply((self.build)())
            .egress_semantics(EgressSemantics::ExactlyOnce)
            .restart_on_failure(100);
        for invariant in &self.invariants {
            builder = builder.with_invariant(invariant.clone());
        }
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
    pub(super) async fn run_ok(&self, schedule: &Schedule) -> Result<Harness, Violation> {
        let (h, result) = self.run(schedule).await?;
        if let Some((check, what)) = broken(&h) {
            return Err(violation(check, schedule.clone(), what, None, Some(&h)));
        }
        match (h, result) {
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
    pub(super) fn compare(&self, expected: &Harness, actual: &Harness) -> Option<String> {
        match &self.observe {
            None => actual.outcome().difference(&expected.outcome()),
            Some(observe) => {
                let (want, got) = (observe(expected), observe(actual));
                (want != got).then(|| format!("expected {want:?}, got {got:?}"))
            }
        }
    }

    /// The fault-free run of `seed`: the reference, and its step count.
    pub(super) async fn reference(
        &self,
        cache: &mut References,
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
    pub(super) async fn exactly_once_case(
        &self,
        cache: &mut References,
        draw: &Draw,
        report: &mut Report,
    ) -> Result<Result<(), Case>, Violation> {
        let steps = self.reference(cache, draw.seed).await?;
        self.schedule_case(cache, draw.fit(steps), report).await
    }

    /// Runs one schedule against the reference of its seed.
    pub(super) async fn schedule_case(
        &self,
        cache: &mut References,
        schedule: Schedule,
        report: &mut Report,
    ) -> Result<Result<(), Case>, Violation> {
        self.reference(cache, schedule.seed).await?;
        let (h, result) = self.run(&schedule).await?;
        let failed = |check, what, h| {
            Ok(Err(Case {
                schedule: schedule.clone(),
                check,
                what,
                harness: Some(h),
            }))
        };
        if let Some((check, what)) = broken(&h) {
            return failed(check, what, h);
        }
        if let Err(e) = result {
            return failed("exactly once", format!("the run fails: {e}"), h);
        }
        report.add(&h);
        let Some((expected, _)) = cache.get(&schedule.seed) else {
            return Ok(Ok(()));
        };
        match self.compare(expected, &h) {
            None => Ok(Ok(())),
            Some(difference) => failed("exactly once", difference, h),
        }
    }
}
