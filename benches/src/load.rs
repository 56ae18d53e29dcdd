//! An open-loop load generator: requests go out on a fixed schedule
//! whatever the server does, and each latency counts from when its request
//! was due, not from when it could be sent, so a stalled server shows up in
//! the tail instead of slowing the generator down (no coordinated
//! omission, the way wrk2 measures).
//!
//! Request `k` is due at `start + k / rate`; connection `j` of `n` sends
//! requests `j`, `j + n`, `j + 2n`, ... each on its own thread, sleeping
//! until the next is due. Sleeps overshoot by tens of microseconds on
//! Linux, which the figures include.

use std::io;
use std::thread;
use std::time::{Duration, Instant};

use crate::client::Connection;

/// Latency percentiles of a run.
#[derive(Debug, Clone, PartialEq)]
pub struct Latencies {
    /// Requests answered.
    pub requests: usize,
    /// Answers that were not 200, or failed connections' requests.
    pub errors: usize,
    /// The rate achieved (answered requests per second of the run).
    pub achieved_rate: f64,
    /// 50th percentile.
    pub p50: Duration,
    /// 90th percentile.
    pub p90: Duration,
    /// 99th percentile.
    pub p99: Duration,
    /// 99.9th percentile.
    pub p999: Duration,
    /// The slowest.
    pub max: Duration,
}

/// The latency at quantile `q` (0..=1) of sorted samples.
///
/// ```
/// use std::time::Duration;
/// let samples: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
/// assert_eq!(statefun_benches::load::quantile(&samples, 0.99), Duration::from_millis(99));
/// assert_eq!(statefun_benches::load::quantile(&samples, 1.0), Duration::from_millis(100));
/// ```
#[must_use]
pub fn quantile(sorted: &[Duration], q: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    // The smallest sample with at least q of them at or below it.
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_precision_loss
    )]
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

/// Sends `body` to `127.0.0.1:<port>/statefun` at `rate` requests per
/// second for `duration` over `connections` keep-alive connections, and
/// measures each latency from when its request was due.
///
/// # Errors
///
/// When a connection cannot be opened.
pub fn open_loop(
    port: u16,
    body: &[u8],
    rate: f64,
    duration: Duration,
    connections: usize,
) -> io::Result<Latencies> {
    let connections = connections.max(1);
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let total = (rate * duration.as_secs_f64()) as usize;
    let interval = Duration::from_secs_f64(1.0 / rate);
    let mut opened = Vec::with_capacity(connections);
    for _ in 0..connections {
        opened.push(Connection::open(port)?);
    }
    let start = Instant::now() + Duration::from_millis(20);
    let results: Vec<(Vec<Duration>, usize)> = thread::scope(|scope| {
        let threads: Vec<_> = opened
            .into_iter()
            .enumerate()
            .map(|(j, mut connection)| {
                scope.spawn(move || {
                    let mut samples = Vec::with_capacity(total / connections + 1);
                    let mut errors = 0;
                    for k in (j..total).step_by(connections) {
                        let due = start + interval * u32::try_from(k).unwrap_or(u32::MAX);
                        let now = Instant::now();
                        if due > now {
                            thread::sleep(due - now);
                        }
                        match connection.post(body) {
                            Ok((200, _)) => samples.push(due.elapsed()),
                            Ok(_) => errors += 1,
                            Err(_) => {
                                // Count the rest of this connection's share
                                // as failed.
                                errors += (k..total).step_by(connections).count();
                                break;
                            }
                        }
                    }
                    (samples, errors)
                })
            })
            .collect();
        threads
            .into_iter()
            .map(|t| t.join().unwrap_or_default())
            .collect()
    });
    let elapsed = start.elapsed();
    let errors = results.iter().map(|(_, e)| e).sum();
    let mut samples: Vec<Duration> = results.into_iter().flat_map(|(s, _)| s).collect();
    samples.sort_unstable();
    #[allow(clippy::cast_precision_loss)]
    let achieved_rate = samples.len() as f64 / elapsed.as_secs_f64();
    Ok(Latencies {
        requests: samples.len(),
        errors,
        achieved_rate,
        p50: quantile(&samples, 0.5),
        p90: quantile(&samples, 0.9),
        p99: quantile(&samples, 0.99),
        p999: quantile(&samples, 0.999),
        max: samples.last().copied().unwrap_or_default(),
    })
}
