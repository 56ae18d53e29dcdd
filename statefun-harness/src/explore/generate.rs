//! Generating schedules: proptest's strategy over seeds, batch shapes,
//! faults, checkpoints and crashes, its seeded runner, and the schedule to
//! replay instead (`STATEFUN_HARNESS_SCHEDULE`).

use std::fmt;

use proptest::collection::vec;
use proptest::prelude::{Just, Strategy};
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};

use super::Explorer;
use super::violation::{SCHEDULE_VAR, Violation, violation};
use crate::faults::Faults;
use crate::plan::Batching;
use crate::rng::Rng;
use crate::schedule::Schedule;
use crate::{Harness, HarnessBuilder};

/// A generated schedule before it is fitted to a run: crash and checkpoint
/// points as per-mille positions in the fault-free run's steps.
#[derive(Debug, Clone)]
pub(super) struct Draw {
    pub(super) seed: u64,
    pub(super) batching: Batching,
    pub(super) faults: Faults,
    pub(super) checkpoints: Vec<u16>,
    pub(super) crashes: Vec<u16>,
}

impl Draw {
    pub(super) fn fit(&self, steps: u64) -> Schedule {
        let at = |p: &u16| steps * u64::from(*p) / 1000;
        let mut schedule = Schedule::new(self.seed);
        schedule.batching = self.batching;
        schedule.faults = self.faults;
        schedule.checkpoints = self.checkpoints.iter().map(at).collect();
        schedule.crashes = self.crashes.iter().map(at).collect();
        schedule
    }
}

impl<B, W, E> Explorer<B, W>
where
    B: Fn() -> HarnessBuilder,
    W: AsyncFn(&mut Harness) -> Result<(), E>,
    E: fmt::Display,
{
    pub(super) fn strategy(&self) -> impl Strategy<Value = Draw> + use<B, W, E> {
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

    pub(super) fn replayed(&self) -> Option<Schedule> {
        self.replay.clone().or_else(replayed_schedule)
    }

    pub(super) fn runner(&self) -> TestRunner {
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
}

pub(super) fn new_tree<S: Strategy>(
    strategy: &S,
    runner: &mut TestRunner,
) -> Result<S::Tree, Violation> {
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
