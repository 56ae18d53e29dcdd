//! Transport faults and the runtime's retries (spec §2.3): every failed
//! attempt is retried with exponential backoff on the virtual clock until
//! the call budget runs out; then the job fails, and restarts from its last
//! checkpoint if restarts are allowed.

use std::fmt;
use std::time::Duration;

use crate::rng::Rng;
use crate::transport::{Failure, Transport};

/// Faults injected into calls to functions, each as a rate per mille of
/// attempts (they apply to in-process and remote endpoints alike). Each
/// kind is drawn on its own, so when several are set, the first one drawn
/// (in the order refused, server error, lost response, timeout) wins.
///
/// ```
/// use statefun_harness::{Faults, Harness};
///
/// // One attempt in ten refused, one in twenty answered after the function
/// // ran but lost on the way back.
/// let faults = Faults::none().refused(100).lost_response(50);
/// let harness = Harness::builder().faults(faults).build()?;
/// # let _ = harness;
/// # Ok::<(), statefun_harness::ConfigError>(())
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Faults {
    refused: u16,
    server_error: u16,
    lost_response: u16,
    timeout: u16,
}

/// One injected fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fault {
    /// The connection is refused: the function does not run.
    Refused,
    /// An HTTP 503 from a proxy in front of the function: it does not run.
    ServerError,
    /// The function runs, and its response is lost.
    LostResponse,
    /// The function runs and never answers in time: the attempt waits for
    /// the whole remaining budget, as the runtime's per-attempt timeout does.
    Timeout,
}

impl Fault {
    pub(crate) fn runs_function(self) -> bool {
        matches!(self, Self::LostResponse | Self::Timeout)
    }

    /// How the attempt failed, for the transport's retry rule.
    pub(crate) fn failure(self) -> Failure {
        match self {
            Self::Refused | Self::LostResponse => Failure::Io,
            Self::ServerError => Failure::Status(503),
            Self::Timeout => Failure::Timeout,
        }
    }

    pub(crate) fn reason(self) -> &'static str {
        match self {
            Self::Refused => "connection refused (injected fault)",
            Self::ServerError => "HTTP 503 Service Unavailable (injected fault)",
            Self::LostResponse => "connection reset after the function ran (injected fault)",
            Self::Timeout => "no response before the call budget ran out (injected fault)",
        }
    }
}

impl Faults {
    /// No faults (the default).
    #[must_use]
    pub const fn none() -> Self {
        Self {
            refused: 0,
            server_error: 0,
            lost_response: 0,
            timeout: 0,
        }
    }

    /// Attempts refused before they reach the function, per mille.
    #[must_use]
    pub const fn refused(mut self, per_mille: u16) -> Self {
        self.refused = per_mille;
        self
    }

    /// Attempts answered with HTTP 503 without running the function, per
    /// mille.
    #[must_use]
    pub const fn server_error(mut self, per_mille: u16) -> Self {
        self.server_error = per_mille;
        self
    }

    /// Attempts whose function runs but whose response is lost, per mille:
    /// the retry runs the same batch again.
    #[must_use]
    pub const fn lost_response(mut self, per_mille: u16) -> Self {
        self.lost_response = per_mille;
        self
    }

    /// Attempts whose function runs but does not answer in time, per mille.
    /// As in the runtime, one attempt may take the whole remaining budget,
    /// so a timeout fails the job.
    #[must_use]
    pub const fn timeout(mut self, per_mille: u16) -> Self {
        self.timeout = per_mille;
        self
    }

    /// Whether no fault is injected.
    #[must_use]
    pub const fn is_none(&self) -> bool {
        self.refused == 0 && self.server_error == 0 && self.lost_response == 0 && self.timeout == 0
    }

    /// The rates in the order refused, server error, lost response,
    /// timeout.
    pub(crate) const fn rates(&self) -> [u16; 4] {
        [
            self.refused,
            self.server_error,
            self.lost_response,
            self.timeout,
        ]
    }

    /// The highest rate, which must not exceed 1000.
    pub(crate) fn highest(&self) -> u16 {
        self.rates().into_iter().max().unwrap_or(0)
    }

    /// Draws the fault for one attempt, if any: one roll per kind (always
    /// four, so the stream stays aligned), the first kind whose roll falls
    /// below its rate wins. Lowering one rate then leaves the other kinds'
    /// faults where they were, which is what makes schedules shrink well.
    pub(crate) fn draw(&self, rng: &mut Rng) -> Option<Fault> {
        if self.is_none() {
            return None;
        }
        let mut drawn = None;
        for (rate, fault) in self.rates().into_iter().zip([
            Fault::Refused,
            Fault::ServerError,
            Fault::LostResponse,
            Fault::Timeout,
        ]) {
            let roll = rng.below(1000);
            if drawn.is_none() && roll < usize::from(rate) {
                drawn = Some(fault);
            }
        }
        drawn
    }
}

/// `refused:100,error:0,lost:50,timeout:0`, as in a schedule's one-line form.
impl fmt::Display for Faults {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "refused:{},error:{},lost:{},timeout:{}",
            self.refused, self.server_error, self.lost_response, self.timeout
        )
    }
}

impl std::str::FromStr for Faults {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut faults = Self::none();
        for part in s.split(',').filter(|p| !p.is_empty()) {
            let (name, rate) = part
                .split_once(':')
                .ok_or_else(|| format!("fault {part:?} is not name:rate"))?;
            let rate: u16 = rate
                .parse()
                .map_err(|_| format!("fault rate {rate:?} is not a number"))?;
            match name {
                "refused" => faults.refused = rate,
                "error" => faults.server_error = rate,
                "lost" => faults.lost_response = rate,
                "timeout" => faults.timeout = rate,
                _ => {
                    return Err(format!(
                        "unknown fault {name:?} (expected refused, error, lost or timeout)"
                    ));
                }
            }
        }
        Ok(faults)
    }
}

/// What follows a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Backoff {
    /// Attempt again after this wait.
    Retry(Duration),
    /// No further attempt: the request fails once this wait is over (zero:
    /// at once). The runtime sleeps out a backoff capped at the deadline,
    /// then finds the budget spent and fails without attempting.
    FailAfter(Duration),
}

/// The default (Netty) transport's first planned backoff, before it is
/// doubled for the first time.
const NETTY_BASE: Duration = Duration::from_millis(2);

/// Below this much budget left, the runtime attempts no more.
const LAST_MILLISECOND: Duration = Duration::from_millis(1);

/// What follows failed attempt number `attempts` (1 for the first) of a
/// request that has run for `elapsed` of its `budget`, when `transport`
/// retries the failure.
pub(crate) fn backoff(
    transport: Transport,
    attempts: u32,
    elapsed: Duration,
    budget: Duration,
) -> Backoff {
    match transport {
        Transport::Netty => netty_backoff(attempts, elapsed, budget),
        Transport::OkHttp => okhttp_backoff(attempts, elapsed, budget),
    }
}

/// The OkHttp transport's first backoff.
const OKHTTP_BASE: Duration = Duration::from_millis(10);

/// The OkHttp transport's rule (`httpfn/RetryingCallback.java`,
/// `backpressure/BoundedExponentialBackoff.java`): sleeps of 10, 20, 40…
/// ms, each capped by the budget left; only when nothing is left does the
/// request fail, so an attempt may start right at the deadline.
fn okhttp_backoff(attempts: u32, elapsed: Duration, budget: Duration) -> Backoff {
    let remaining = budget.saturating_sub(elapsed);
    let planned = OKHTTP_BASE.saturating_mul(1_u32 << attempts.saturating_sub(1).min(31));
    match planned.min(remaining) {
        Duration::ZERO => Backoff::FailAfter(Duration::ZERO),
        wait => Backoff::Retry(wait),
    }
}

/// The default (Netty) transport's rule (`nettyclient/NettyRequest.java`): the attempt
/// counter is incremented before the backoff `2 ms × 2^attempts` is
/// computed, so the waits are 4, 8, 16… ms, each capped by the budget
/// left; with 1 ms or less left, before the backoff or when its timer
/// fires, the request fails (`RequestTimeoutException`) without another
/// attempt.
fn netty_backoff(attempts: u32, elapsed: Duration, budget: Duration) -> Backoff {
    let remaining = budget.saturating_sub(elapsed);
    if remaining <= LAST_MILLISECOND {
        return Backoff::FailAfter(Duration::ZERO);
    }
    let planned = NETTY_BASE.saturating_mul(1_u32 << attempts.min(31));
    let wait = planned.min(remaining);
    if remaining.saturating_sub(wait) <= LAST_MILLISECOND {
        Backoff::FailAfter(wait)
    } else {
        Backoff::Retry(wait)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Attempt times (ms from the first) until the request fails, and when
    /// it fails, for attempts that fail at once.
    fn schedule(transport: Transport, budget: Duration) -> (Vec<u128>, u128) {
        let (mut at, mut attempts, mut times) = (Duration::ZERO, 0, Vec::new());
        loop {
            times.push(at.as_millis());
            attempts += 1;
            match backoff(transport, attempts, at, budget) {
                Backoff::Retry(wait) => at += wait,
                Backoff::FailAfter(wait) => return (times, (at + wait).as_millis()),
            }
        }
    }

    #[test]
    fn netty_backoff_is_4_8_16_ms_and_gives_up_at_the_deadline() {
        // nettyclient/NettyRequest.java: the attempt counter is incremented
        // before the backoff 2ms*2^attempts is computed (4, 8, 16… ms),
        // capped by the remaining budget; a backoff that ends at the
        // deadline is followed by RequestTimeoutException, not an attempt.
        // Observed with `call: 100ms`: 5 attempts (sleeps 4, 8, 16, 32, then
        // one capped at the deadline).
        assert_eq!(
            schedule(Transport::Netty, Duration::from_millis(100)),
            (vec![0, 4, 12, 28, 60], 100)
        );
        // The default 2 minutes: 15 attempts, the last sleep capped.
        let (times, failed_at) = schedule(Transport::Netty, Duration::from_secs(120));
        assert_eq!(times.len(), 15, "{times:?}");
        assert_eq!(times.last(), Some(&65_532));
        assert_eq!(failed_at, 120_000);
        // With 1 ms or less left, no backoff at all.
        let budget = Duration::from_secs(120);
        assert_eq!(
            netty_backoff(3, Duration::from_micros(119_999_500), budget),
            Backoff::FailAfter(Duration::ZERO)
        );
        assert_eq!(
            netty_backoff(1, Duration::ZERO, budget),
            Backoff::Retry(Duration::from_millis(4))
        );
        // A wait that would leave 1 ms or less is the last one.
        assert_eq!(
            netty_backoff(1, Duration::ZERO, Duration::from_millis(5)),
            Backoff::FailAfter(Duration::from_millis(4))
        );
        assert_eq!(
            netty_backoff(100, Duration::ZERO, budget),
            Backoff::FailAfter(budget)
        );
    }

    #[test]
    fn okhttp_backoff_is_10_20_40_ms_and_attempts_at_the_deadline() {
        // httpfn/RetryingCallback.java with BoundedExponentialBackoff: sleeps
        // of 10 ms doubling, each capped by the time left; the request fails
        // only when no time is left, so the last attempt is at the deadline.
        assert_eq!(
            schedule(Transport::OkHttp, Duration::from_millis(100)),
            (vec![0, 10, 30, 70, 100], 100)
        );
        let (times, _) = schedule(Transport::OkHttp, Duration::from_secs(60));
        assert_eq!(&times[..6], [0, 10, 30, 70, 150, 310]);
    }

    #[test]
    fn faults_round_trip_through_their_text_form() {
        let faults = Faults::none().refused(10).lost_response(3).timeout(1);
        assert_eq!(faults.to_string().parse::<Faults>(), Ok(faults));
        assert!("bogus:1".parse::<Faults>().is_err());
        assert_eq!(faults.highest(), 10);
    }

    #[test]
    fn draws_follow_the_rates() {
        let mut rng = Rng::new(9);
        let faults = Faults::none().refused(500);
        let refused = (0..10_000)
            .filter(|_| faults.draw(&mut rng) == Some(Fault::Refused))
            .count();
        assert!((4_500..5_500).contains(&refused), "{refused}");
        assert_eq!(Faults::none().draw(&mut rng), None);
    }
}
