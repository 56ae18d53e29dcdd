//! Flink duration strings, as module.yaml writes them (spec §2.4): a whole
//! number and an optional unit, milliseconds when there is none.

use std::time::Duration;

/// Parses `30s`, `2 min`, `1500` (milliseconds), `10sec`, `1h`, ...
pub(crate) fn parse(text: &str) -> Result<Duration, String> {
    let trimmed = text.trim();
    let digits = trimmed
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(trimmed.len());
    if digits == 0 {
        return Err(format!(
            "{text:?} is not a duration: it must start with a whole number (e.g. 30s, 2 min, 1500ms)"
        ));
    }
    let number: u64 = trimmed[..digits]
        .parse()
        .map_err(|_| format!("{text:?} is not a duration: the number is too large"))?;
    let unit = trimmed[digits..].trim().to_ascii_lowercase();
    let per_unit = match unit.as_str() {
        "ns" | "nano" | "nanos" | "nanosecond" | "nanoseconds" => Duration::from_nanos(1),
        "us" | "µs" | "micro" | "micros" | "microsecond" | "microseconds" => {
            Duration::from_micros(1)
        }
        "" | "ms" | "milli" | "millis" | "millisecond" | "milliseconds" => Duration::from_millis(1),
        "s" | "sec" | "secs" | "second" | "seconds" => Duration::from_secs(1),
        "m" | "min" | "minute" | "minutes" => Duration::from_secs(60),
        "h" | "hour" | "hours" => Duration::from_secs(3600),
        "d" | "day" | "days" => Duration::from_secs(86_400),
        other => {
            return Err(format!(
                "{text:?} is not a duration: unknown unit {other:?} (use ms, s, min, h or d)"
            ));
        }
    };
    let nanos = u128::from(number) * per_unit.as_nanos();
    u64::try_from(nanos / 1_000_000_000)
        .ok()
        .map(|secs| {
            #[allow(clippy::cast_possible_truncation)] // below 10^9
            let rest = (nanos % 1_000_000_000) as u32;
            Duration::new(secs, rest)
        })
        .ok_or_else(|| format!("{text:?} is not a duration: it is too long"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flink_forms() {
        assert_eq!(parse("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse("1 min"), Ok(Duration::from_secs(60)));
        assert_eq!(parse("10sec"), Ok(Duration::from_secs(10)));
        assert_eq!(parse("15min"), Ok(Duration::from_secs(900)));
        assert_eq!(parse("1500"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse(" 900000ms "), Ok(Duration::from_secs(900)));
        assert_eq!(parse("1H"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse("2 days"), Ok(Duration::from_secs(172_800)));
        assert_eq!(parse("5us"), Ok(Duration::from_micros(5)));
        assert_eq!(parse("5000000000ns"), Ok(Duration::from_secs(5)));
    }

    #[test]
    fn bad_forms_say_why() {
        assert!(parse("").unwrap_err().contains("whole number"));
        assert!(parse("-1s").unwrap_err().contains("whole number"));
        assert!(parse("1.5s").unwrap_err().contains("unknown unit"));
        assert!(parse("3 weeks").unwrap_err().contains("unknown unit"));
        assert!(
            parse("99999999999999999999")
                .unwrap_err()
                .contains("too large")
        );
    }
}
