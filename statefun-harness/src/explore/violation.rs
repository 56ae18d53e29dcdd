//! What an exploration reports: a [`Violation`] (a property that failed,
//! with the schedule that shows it), or a [`Report`] of what it did.

use std::fmt;
use std::path::PathBuf;

use crate::schedule::Schedule;
use crate::trace::Event;
use crate::{Harness, InvariantViolation};

/// The variable that replays one schedule instead of exploring.
pub(super) const SCHEDULE_VAR: &str = "STATEFUN_HARNESS_SCHEDULE";

/// A property that failed, with the (shrunk) schedule that shows it and a
/// one-line way to reproduce it.
pub struct Violation(Box<Details>);

struct Details {
    check: &'static str,
    schedule: Schedule,
    what: String,
    shrunk_from: Option<(Schedule, u32)>,
    invariant: Option<InvariantViolation>,
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

    /// The invariant that did not hold, when that is the violation (see
    /// [`Explorer::invariant`](crate::Explorer::invariant)): its name,
    /// message, step and virtual time.
    #[must_use]
    pub fn invariant(&self) -> Option<&InvariantViolation> {
        self.0.invariant.as_ref()
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
    /// Crashes injected (restarts that no job failure caused).
    pub crashes: u64,
    /// Checkpoints completed.
    pub checkpoints: u64,
    /// Call attempts that failed (and were retried).
    pub failed_attempts: u64,
    /// Requests sent.
    pub requests: u64,
}

impl Report {
    pub(super) fn add(&mut self, h: &Harness) {
        let c = h.counters();
        self.schedules += 1;
        self.restarts += c.restarts;
        self.failed_attempts += c.failed_attempts;
        self.requests += c.requests;
        let mut previous: Option<&Event> = None;
        for entry in h.trace() {
            match &entry.event {
                Event::Checkpoint { .. } => self.checkpoints += 1,
                Event::Restored { .. } if !matches!(previous, Some(Event::JobFailed { .. })) => {
                    self.crashes += 1;
                }
                _ => {}
            }
            previous = Some(&entry.event);
        }
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} schedules: {} crashes, {} checkpoints, {} restarts, {} failed attempts, {} requests",
            self.schedules,
            self.crashes,
            self.checkpoints,
            self.restarts,
            self.failed_attempts,
            self.requests
        )
    }
}

/// A violation of `check`, its trace written from `harness`.
pub(super) fn violation(
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
        invariant: harness.and_then(|h| h.broken_invariant().cloned()),
        trace: harness.and_then(|h| h.write_trace().ok()),
    }))
}
