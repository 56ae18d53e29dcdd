//! Driving a harness from outside, as a long-lived runtime does
//! (`statefun-local`): a bounded number of steps at a time, a clock moved by
//! the caller, and committed egress and trace events taken out as they
//! come, so memory stays flat however long it runs.

use std::time::Duration;

use stateful_functions::EgressIdentifier;

use crate::egress::EgressRecord;
use crate::engine::Engine;
use crate::error::JobFailure;

/// What [`Harness::run_steps`](crate::Harness::run_steps) left behind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Progress {
    /// The step budget ran out with work left to do now.
    Busy,
    /// Nothing to do at the current time. `wake_up` is the earliest time
    /// something falls due (a delayed message, or a retry after its
    /// backoff), if anything is scheduled.
    Idle {
        /// When to move the clock to and run again.
        wake_up: Option<Duration>,
    },
}

/// Takes at most `max_steps` steps at the current virtual time; see
/// [`Harness::run_steps`](crate::Harness::run_steps).
pub(crate) async fn run_steps(engine: &mut Engine, max_steps: u64) -> Result<Progress, JobFailure> {
    for _ in 0..max_steps {
        match engine.step().await {
            Ok(true) => {}
            Ok(false) => {
                return Ok(Progress::Idle {
                    wake_up: engine.next_wake_up(),
                });
            }
            Err(failure) => {
                engine.restart(failure)?;
                // The job resumes after the restart delay: the caller
                // waits for its clock to get there.
                return Ok(Progress::Idle {
                    wake_up: Some(engine.now()),
                });
            }
        }
    }
    Ok(Progress::Busy)
}

/// Takes the committed egress records out of the engine, per declared
/// egress in order; see
/// [`Harness::take_committed_egress`](crate::Harness::take_committed_egress).
pub(crate) fn take_committed_egress(
    engine: &mut Engine,
) -> Vec<(EgressIdentifier, Vec<EgressRecord>)> {
    let mut taken = Vec::new();
    for id in engine.egress_with_records() {
        let out = engine.take_visible_egress(&id);
        if !out.is_empty() {
            taken.push((id, out));
        }
    }
    taken
}
