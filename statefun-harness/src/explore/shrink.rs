//! Shrinking a violation beyond proptest: removing one ingredient of the
//! schedule at a time while it still fails.

use std::fmt;

use super::Explorer;
use super::run::{Case, References};
use super::violation::{Report, Violation};
use crate::faults::Faults;
use crate::plan::Batching;
use crate::{Harness, HarnessBuilder};

impl<B, W, E> Explorer<B, W>
where
    B: Fn() -> HarnessBuilder,
    W: AsyncFn(&mut Harness) -> Result<(), E>,
    E: fmt::Display,
{
    /// After proptest's shrinking (which stops early on tuples): removes
    /// one ingredient at a time (a crash, a checkpoint, a kind of fault,
    /// the batch shape) while the schedule still fails the same check.
    pub(super) async fn minimize(
        &self,
        cache: &mut References,
        mut best: Case,
        steps: &mut u32,
    ) -> Result<Case, Violation> {
        loop {
            let s = &best.schedule;
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
                match self.schedule_case(cache, candidate, &mut scratch).await? {
                    // The same kind of failure only.
                    Err(found) if found.check == best.check => {
                        best = found;
                        improved = true;
                        break;
                    }
                    _ => {}
                }
            }
            if !improved {
                return Ok(best);
            }
        }
    }
}
