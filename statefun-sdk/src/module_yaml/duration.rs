//! Flink duration strings (`org.apache.flink.util.TimeUtils`): the one
//! grammar for every duration in `module.yaml` (spec §2.4).
//!
//! `statefun-macros` keeps a compile-time copy of this parser (it cannot
//! depend on the SDK); both are tested against `duration_table.txt`.

use std::fmt;
use std::time::Duration;

/// A string that is not a Flink duration.
///
/// ```
/// use stateful_functions::module_yaml::parse_duration;
///
/// let error = parse_duration("3 weeks").unwrap_err();
/// assert_eq!(
///     error.to_string(),
///     "\"3 weeks\" is not a duration: unknown unit \"weeks\" (use ms, s, min, h or d)"
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DurationError {
    text: String,
    problem: Problem,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Problem {
    NoNumber,
    NumberTooLarge,
    UnknownUnit(String),
    TooLong,
}

impl fmt::Display for DurationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?} is not a duration: ", self.text)?;
        match &self.problem {
            Problem::NoNumber => {
                f.write_str("it must start with a whole number (e.g. 30s, 2 min, 1500ms)")
            }
            Problem::NumberTooLarge => f.write_str("the number is too large"),
            Problem::UnknownUnit(unit) => {
                write!(f, "unknown unit {unit:?} (use ms, s, min, h or d)")
            }
            Problem::TooLong => f.write_str("it is too long"),
        }
    }
}

impl std::error::Error for DurationError {}

/// Parses a Flink duration: `30s`, `2 min`, `1500` (milliseconds),
/// `10sec`, `1H`, `5us`, ... (the grammar is in the
/// [module docs](crate::module_yaml#durations)).
///
/// ```
/// use std::time::Duration;
/// use stateful_functions::module_yaml::parse_duration;
///
/// assert_eq!(parse_duration("2 min"), Ok(Duration::from_secs(120)));
/// assert_eq!(parse_duration("1500"), Ok(Duration::from_millis(1500)));
/// assert!(parse_duration("1.5s").is_err());
/// ```
///
/// # Errors
///
/// When `text` does not start with a whole number (after whitespace), the
/// unit is not one of the table's, or the duration does not fit a
/// [`Duration`].
pub fn parse_duration(text: &str) -> Result<Duration, DurationError> {
    let error = |problem| DurationError {
        text: text.to_owned(),
        problem,
    };
    let trimmed = text.trim();
    let digits = trimmed
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(trimmed.len());
    if digits == 0 {
        return Err(error(Problem::NoNumber));
    }
    let number: u64 = trimmed[..digits]
        .parse()
        .map_err(|_| error(Problem::NumberTooLarge))?;
    let unit = trimmed[digits..].trim().to_ascii_lowercase();
    let nanos_per_unit: u128 = match unit.as_str() {
        "ns" | "nano" | "nanos" | "nanosecond" | "nanoseconds" => 1,
        "us" | "µs" | "micro" | "micros" | "microsecond" | "microseconds" => 1_000,
        "" | "ms" | "milli" | "millis" | "millisecond" | "milliseconds" => 1_000_000,
        "s" | "sec" | "secs" | "second" | "seconds" => 1_000_000_000,
        "m" | "min" | "minute" | "minutes" => 60_000_000_000,
        "h" | "hour" | "hours" => 3_600_000_000_000,
        "d" | "day" | "days" => 86_400_000_000_000,
        _ => return Err(error(Problem::UnknownUnit(unit))),
    };
    let nanos = u128::from(number) * nanos_per_unit;
    let secs = u64::try_from(nanos / 1_000_000_000).map_err(|_| error(Problem::TooLong))?;
    #[allow(clippy::cast_possible_truncation)] // below 10^9
    let rest = (nanos % 1_000_000_000) as u32;
    Ok(Duration::new(secs, rest))
}

/// Writes `duration` as a Flink duration that [`parse_duration`] (and the
/// runtime) reads back exactly: whole milliseconds as `<n>ms`, anything
/// finer as `<n>ns`.
///
/// ```
/// use std::time::Duration;
/// use stateful_functions::module_yaml::{format_duration, parse_duration};
///
/// assert_eq!(format_duration(Duration::from_secs(30)), "30000ms");
/// assert_eq!(format_duration(Duration::from_micros(1500)), "1500000ns");
/// let d = Duration::from_nanos(1_234_567_890);
/// assert_eq!(parse_duration(&format_duration(d)), Ok(d));
/// ```
pub fn format_duration(duration: Duration) -> String {
    if duration.subsec_nanos() % 1_000_000 == 0 {
        format!("{}ms", duration.as_millis())
    } else {
        format!("{}ns", duration.as_nanos())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One `"input" => expected` per line; expected is the duration in
    /// nanoseconds or `error`. `statefun-macros` reads the same table.
    const TABLE: &str = include_str!("duration_table.txt");

    fn table() -> impl Iterator<Item = (&'static str, Option<u128>)> {
        TABLE
            .lines()
            .filter(|line| !line.trim().is_empty() && !line.starts_with('#'))
            .map(|line| {
                let (input, expected) = line.rsplit_once(" => ").expect("`input => expected`");
                let input = input
                    .strip_prefix('"')
                    .and_then(|s| s.strip_suffix('"'))
                    .expect("a quoted input");
                let expected = match expected.trim() {
                    "error" => None,
                    nanos => Some(nanos.parse().expect("nanoseconds or `error`")),
                };
                (input, expected)
            })
    }

    #[test]
    fn the_shared_table() {
        let mut rows = 0;
        for (input, expected) in table() {
            let parsed = parse_duration(input).ok().map(|d| d.as_nanos());
            assert_eq!(parsed, expected, "{input:?}");
            rows += 1;
        }
        assert!(rows > 40, "the table has {rows} rows");
    }

    #[test]
    fn formatting_round_trips() {
        for (_, expected) in table() {
            let Some(nanos) = expected else { continue };
            let Ok(nanos) = u64::try_from(nanos) else {
                continue;
            };
            let d = Duration::from_nanos(nanos);
            assert_eq!(parse_duration(&format_duration(d)), Ok(d));
        }
        assert_eq!(format_duration(Duration::ZERO), "0ms");
        assert_eq!(format_duration(Duration::from_secs(900)), "900000ms");
    }

    #[test]
    fn errors_say_why() {
        let message = |text| parse_duration(text).unwrap_err().to_string();
        assert!(message("").contains("whole number"));
        assert!(message("-1s").contains("whole number"));
        assert!(message("1.5s").contains("unknown unit"));
        assert!(message("3 weeks").contains("unknown unit \"weeks\""));
        assert!(message("99999999999999999999").contains("too large"));
        assert!(message("18446744073709551615d").contains("too long"));
    }
}
