//! Points at rest (nothing in flight) and the invariants checked there;
//! see [`View::is_at_rest`](crate::View::is_at_rest).

use std::fmt;

use super::Engine;
use crate::error::{Cause, InvariantViolation, JobFailure};
use crate::trace::Event;

/// An invariant as the engine runs it: a name, and a check of the engine
/// that says what does not hold. The harness's [`Invariant`](crate::invariant)
/// wraps a user's check over a read-only view of the engine in it, so the
/// engine does not depend on that view.
pub(crate) trait RestCheck: fmt::Debug + Send + Sync {
    /// The invariant's name.
    fn name(&self) -> &str;
    /// `Err` with a message when the invariant does not hold.
    fn check(&self, engine: &Engine) -> Result<(), String>;
}

impl Engine {
    /// Whether nothing is in flight: no message queued on a partition and
    /// no request in flight (a backlog waits for its address's request, so
    /// none is left either). Delayed messages may be pending.
    pub(crate) fn at_rest(&self) -> bool {
        self.world.in_flight.is_empty()
            && (self.world.ingress.iter())
                .chain(&self.world.local)
                .chain(&self.world.feedback)
                .all(std::collections::VecDeque::is_empty)
    }

    /// Runs every invariant now, at rest or not.
    ///
    /// # Errors
    ///
    /// The first that does not hold, in the order they were added.
    pub(crate) fn check_invariants(&self) -> Result<(), InvariantViolation> {
        self.invariants.iter().try_for_each(|invariant| {
            invariant.check(self).map_err(|message| InvariantViolation {
                name: invariant.name().to_owned(),
                message,
                step: self.world.counters.steps,
                at: self.now,
            })
        })
    }

    /// At a point at rest not checked yet (one step, crash or restore
    /// since the last check), runs every invariant.
    ///
    /// # Errors
    ///
    /// A failure of the job's run when one does not hold: it is recorded
    /// (the first one is kept, see [`Engine::broken_invariant`]) and the
    /// job is not restarted.
    pub(super) fn check_at_rest(&mut self) -> Result<(), JobFailure> {
        if self.invariants.is_empty() {
            return Ok(());
        }
        let point = (self.world.counters.steps, self.world.counters.restarts);
        if self.rest_checked == Some(point) || !self.at_rest() {
            return Ok(());
        }
        self.rest_checked = Some(point);
        let Err(violation) = self.check_invariants() else {
            return Ok(());
        };
        self.record(Event::InvariantViolated {
            name: violation.name.clone(),
            message: violation.message.clone(),
        });
        self.broken.get_or_insert_with(|| violation.clone());
        Err(self.fail(None, None, Cause::Invariant(violation)))
    }

    /// The first invariant that did not hold at a point at rest, if any.
    pub(crate) fn broken_invariant(&self) -> Option<&InvariantViolation> {
        self.broken.as_ref()
    }
}
