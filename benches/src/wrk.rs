//! Running `wrk` (closed loop: each connection sends its next request as
//! soon as the last is answered, which finds the maximum throughput) and
//! reading its report.

use std::io;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

/// The Lua script that makes wrk POST the file named by `$BODY` (binary
/// protobuf) to every request.
pub const POST_SCRIPT: &str = r#"local file = assert(io.open(os.getenv("BODY"), "rb"))
wrk.method = "POST"
wrk.body = file:read("*a")
file:close()
wrk.headers["Content-Type"] = "application/octet-stream"
"#;

/// What wrk reported.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Report {
    /// Requests completed.
    pub requests: u64,
    /// Requests per second.
    pub rate: f64,
    /// Latency percentiles 50, 75, 90 and 99.
    pub latency: [Duration; 4],
    /// Connect, read, write and timeout errors.
    pub socket_errors: u64,
    /// Answers other than 2xx or 3xx.
    pub non_2xx: u64,
}

/// How to run wrk.
#[derive(Debug, Clone)]
pub struct Load<'a> {
    /// wrk threads.
    pub threads: usize,
    /// Open connections.
    pub connections: usize,
    /// How long.
    pub duration: Duration,
    /// The Lua script file ([`POST_SCRIPT`]).
    pub script: &'a Path,
    /// The request body file.
    pub body: &'a Path,
}

impl Load<'_> {
    /// Runs wrk against `127.0.0.1:<port>/statefun`.
    ///
    /// # Errors
    ///
    /// When wrk cannot run, fails, or prints a report this does not read.
    pub fn run(&self, port: u16) -> io::Result<Report> {
        let output = Command::new("wrk")
            .arg(format!("-t{}", self.threads))
            .arg(format!("-c{}", self.connections))
            .arg(format!("-d{}s", self.duration.as_secs().max(1)))
            .arg("--latency")
            // A slow server's answers count as latency, not as errors.
            .args(["--timeout", "30s"])
            .arg("-s")
            .arg(self.script)
            .arg(format!("http://127.0.0.1:{port}/statefun"))
            .env("BODY", self.body)
            .output()?;
        let text = String::from_utf8_lossy(&output.stdout);
        if !output.status.success() {
            return Err(io::Error::other(format!(
                "wrk failed ({}): {}{text}",
                output.status,
                String::from_utf8_lossy(&output.stderr)
            )));
        }
        parse(&text).ok_or_else(|| io::Error::other(format!("cannot read wrk's report:\n{text}")))
    }
}

/// Reads wrk's text report.
///
/// ```
/// let report = statefun_benches::wrk::parse(
///     "  Latency Distribution\n     50%  412.00us\n     75%  1.02ms\n     90%    1.50ms\n     99%    3.00ms\n  \
///      81234 requests in 10.00s, 9.8MB read\n  Socket errors: connect 0, read 2, write 0, timeout 1\n\
///      Requests/sec:   8123.40\n",
/// ).unwrap();
/// assert_eq!(report.requests, 81234);
/// assert_eq!(report.socket_errors, 3);
/// assert_eq!(report.latency[0], std::time::Duration::from_micros(412));
/// ```
#[must_use]
pub fn parse(text: &str) -> Option<Report> {
    let mut report = Report::default();
    let mut seen_rate = false;
    let mut percentiles = 0;
    for line in text.lines().map(str::trim) {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["Requests/sec:", rate] => {
                report.rate = rate.parse().ok()?;
                seen_rate = true;
            }
            [n, "requests", "in", ..] => report.requests = n.parse().ok()?,
            ["Non-2xx", "or", "3xx", "responses:", n] => report.non_2xx = n.parse().ok()?,
            ["Socket", "errors:", rest @ ..] => {
                report.socket_errors = rest
                    .iter()
                    .map(|w| w.trim_end_matches(','))
                    .filter_map(|w| w.parse::<u64>().ok())
                    .sum();
            }
            [p @ ("50%" | "75%" | "90%" | "99%"), value] => {
                let i = ["50%", "75%", "90%", "99%"].iter().position(|q| q == p)?;
                report.latency[i] = duration(value)?;
                percentiles += 1;
            }
            _ => {}
        }
    }
    (seen_rate && percentiles == 4).then_some(report)
}

/// wrk's durations: `412.00us`, `1.02ms`, `1.50s`, `2.00m`.
fn duration(text: &str) -> Option<Duration> {
    let split = text.find(|c: char| c.is_ascii_alphabetic())?;
    let (number, unit) = text.split_at(split);
    let number: f64 = number.parse().ok()?;
    let seconds = match unit {
        "us" => number / 1e6,
        "ms" => number / 1e3,
        "s" => number,
        "m" => number * 60.0,
        "h" => number * 3600.0,
        _ => return None,
    };
    Some(Duration::from_secs_f64(seconds))
}
