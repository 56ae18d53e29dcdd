//! A schedule: everything besides the workload that decides a run (seed,
//! batch shapes, faults, crash and checkpoint points), with a one-line text
//! form to reproduce it.

use std::fmt;
use std::str::FromStr;

use crate::HarnessBuilder;
use crate::faults::Faults;
use crate::plan::Batching;

/// Everything besides the workload that decides a run: the seed, the
/// batch shapes, the injected faults, and where checkpoints and crashes
/// happen. Its one-line text form (`Display` and `FromStr`) is what a
/// failing exploration prints to reproduce it.
///
/// ```
/// use statefun_harness::{Batching, Faults, Schedule};
///
/// let mut schedule = Schedule::new(7);
/// schedule.batching = Batching::Singleton;
/// schedule.faults = Faults::none().lost_response(20);
/// schedule.checkpoints = vec![4];
/// schedule.crashes = vec![9];
/// let line = schedule.to_string();
/// assert_eq!(
///     line,
///     "seed=7 batching=singleton faults=refused:0,error:0,lost:20,timeout:0 checkpoints=4 crashes=9"
/// );
/// assert_eq!(line.parse::<Schedule>()?, schedule);
/// # Ok::<(), String>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub struct Schedule {
    /// The harness seed (which partition or request goes next).
    pub seed: u64,
    /// How backlogs are cut into batches.
    pub batching: Batching,
    /// Faults injected into calls.
    pub faults: Faults,
    /// Take a checkpoint before these steps.
    pub checkpoints: Vec<u64>,
    /// Crash (and restore the last checkpoint) before these steps.
    pub crashes: Vec<u64>,
}

impl Schedule {
    /// The fault-free schedule with natural batches for `seed`.
    #[must_use]
    pub fn new(seed: u64) -> Self {
        Self {
            seed,
            ..Self::default()
        }
    }

    /// Whether the schedule injects no fault and no crash (checkpoints and
    /// batch shapes may still differ).
    #[must_use]
    pub fn is_fault_free(&self) -> bool {
        self.faults.is_none() && self.crashes.is_empty()
    }

    /// Configures `builder` to run this schedule.
    pub fn apply(&self, builder: HarnessBuilder) -> HarnessBuilder {
        builder
            .seed(self.seed)
            .batching(self.batching)
            .faults(self.faults)
            .checkpoint_before_steps(self.checkpoints.iter().copied())
            .crash_before_steps(self.crashes.iter().copied())
    }
}

fn steps(list: &[u64]) -> String {
    if list.is_empty() {
        return "-".to_owned();
    }
    list.iter()
        .map(u64::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

impl fmt::Display for Schedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "seed={} batching={} faults={} checkpoints={} crashes={}",
            self.seed,
            self.batching,
            self.faults,
            steps(&self.checkpoints),
            steps(&self.crashes)
        )
    }
}

impl FromStr for Schedule {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        fn parse_steps(v: &str) -> Result<Vec<u64>, String> {
            if v == "-" || v.is_empty() {
                return Ok(Vec::new());
            }
            v.split(',')
                .map(|n| n.parse().map_err(|_| format!("step {n:?} is not a number")))
                .collect()
        }
        let mut schedule = Self::default();
        for part in s.split_whitespace() {
            let (key, value) = part
                .split_once('=')
                .ok_or_else(|| format!("{part:?} is not key=value"))?;
            match key {
                "seed" => {
                    schedule.seed = value
                        .parse()
                        .map_err(|_| format!("seed {value:?} is not a number"))?;
                }
                "batching" => schedule.batching = value.parse()?,
                "faults" => schedule.faults = value.parse()?,
                "checkpoints" => schedule.checkpoints = parse_steps(value)?,
                "crashes" => schedule.crashes = parse_steps(value)?,
                _ => return Err(format!("unknown schedule key {key:?}")),
            }
        }
        Ok(schedule)
    }
}
