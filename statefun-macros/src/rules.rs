//! The StateFun rules the macros check at compile time: type names, state
//! names and Flink durations. They mirror the SDK's run-time checks (the
//! SDK cannot be a dependency of this crate).

/// Why a type name is invalid, if it is.
pub(crate) fn type_name_problem(s: &str, single_slash: bool) -> Option<String> {
    let Some(split) = s.rfind('/') else {
        return Some(format!(
            "invalid type name {s:?}: expected <namespace>/<name>, but it has no `/`"
        ));
    };
    let (namespace, name) = (&s[..split], &s[split + 1..]);
    if namespace.is_empty() {
        return Some(format!(
            "invalid type name {s:?}: expected <namespace>/<name>, but the namespace is empty"
        ));
    }
    if name.is_empty() {
        return Some(format!(
            "invalid type name {s:?}: expected <namespace>/<name>, but the name is empty"
        ));
    }
    if single_slash && namespace.contains('/') {
        return Some(format!(
            "invalid function type {s:?}: the StateFun runtime requires exactly one `/`"
        ));
    }
    None
}

/// Why a state name is invalid, if it is.
pub(crate) fn state_name_problem(name: &str) -> Option<&'static str> {
    let mut chars = name.chars();
    let Some(first) = chars.next() else {
        return Some("a state name must not be empty");
    };
    if !(first.is_ascii_alphabetic() || first == '_') {
        return Some("a state name must start with an ASCII letter or `_`");
    }
    if !chars.all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Some("a state name may contain only ASCII letters, digits and `_`");
    }
    if name == "batch" {
        return Some(
            "`batch` is reserved: the runtime keeps each address's message backlog under that name; rename the state (e.g. `#[state(name = \"pending_batch\")]`)",
        );
    }
    None
}

/// A Flink duration string, parsed: its length in nanoseconds, and whether
/// it named a unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Duration {
    pub(crate) nanos: u128,
    pub(crate) has_unit: bool,
}

/// Parses a Flink duration string (`org.apache.flink.util.TimeUtils`): a
/// whole number, optional whitespace and an optional unit, case
/// insensitive, milliseconds when there is none.
///
/// A compile-time copy of `stateful_functions::module_yaml::parse_duration`
/// (the SDK depends on this crate, not the other way round); both are
/// tested against the SDK's `module_yaml/duration_table.txt`.
pub(crate) fn parse_duration(s: &str) -> Result<Duration, String> {
    let text = s.trim();
    let digits = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    if digits == 0 {
        return Err(format!(
            "invalid duration {s:?}: expected a whole number and a unit, such as \"15m\" or \"1d\""
        ));
    }
    let amount: u64 = text[..digits]
        .parse()
        .map_err(|_| format!("invalid duration {s:?}: the number is too large"))?;
    let unit = text[digits..].trim().to_ascii_lowercase();
    let nanos_per_unit: u128 = match unit.as_str() {
        "ns" | "nano" | "nanos" | "nanosecond" | "nanoseconds" => 1,
        "us" | "µs" | "micro" | "micros" | "microsecond" | "microseconds" => 1_000,
        "" | "ms" | "milli" | "millis" | "millisecond" | "milliseconds" => 1_000_000,
        "s" | "sec" | "secs" | "second" | "seconds" => 1_000_000_000,
        "m" | "min" | "minute" | "minutes" => 60_000_000_000,
        "h" | "hour" | "hours" => 3_600_000_000_000,
        "d" | "day" | "days" => 86_400_000_000_000,
        other => {
            return Err(format!(
                "invalid duration {s:?}: unknown unit {other:?}; use ms, s, m, h or d"
            ));
        }
    };
    let nanos = u128::from(amount) * nanos_per_unit;
    if u64::try_from(nanos / 1_000_000_000).is_err() {
        return Err(format!(
            "invalid duration {s:?}: longer than the protocol can carry"
        ));
    }
    Ok(Duration {
        nanos,
        has_unit: !unit.is_empty(),
    })
}

/// Parses a state expiration such as `15m`, `1d`, `30s`, `500ms`,
/// `2 hours` into milliseconds (the protocol's unit): a Flink duration
/// (see [`parse_duration`]) that names its unit (a bare `15` would be 15
/// milliseconds, which is rarely meant), is longer than zero, is whole
/// milliseconds and fits the protocol's `i64`.
pub(crate) fn parse_expiration_millis(s: &str) -> Result<u64, String> {
    let duration = parse_duration(s)?;
    if !duration.has_unit {
        return Err(format!(
            "invalid duration {s:?}: add a unit (ms, s, m, h or d), such as \"{}m\"",
            s.trim()
        ));
    }
    if duration.nanos % 1_000_000 != 0 {
        return Err(format!(
            "invalid duration {s:?}: an expiration is whole milliseconds (the protocol's unit)"
        ));
    }
    let millis = u64::try_from(duration.nanos / 1_000_000)
        .ok()
        .filter(|&ms| i64::try_from(ms).is_ok())
        .ok_or_else(|| format!("invalid duration {s:?}: longer than the protocol can carry"))?;
    if millis == 0 {
        return Err(format!(
            "invalid duration {s:?}: an expiration must be longer than zero"
        ));
    }
    Ok(millis)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The SDK's table of the Flink grammar: `"input" => nanoseconds` or
    /// `error` a line.
    const TABLE: &str = include_str!("../../statefun-sdk/src/module_yaml/duration_table.txt");

    #[test]
    fn the_sdk_duration_table() {
        let mut rows = 0;
        for line in TABLE.lines() {
            if line.trim().is_empty() || line.starts_with('#') {
                continue;
            }
            let (input, expected) = line.rsplit_once(" => ").unwrap();
            let input = input
                .strip_prefix('"')
                .and_then(|s| s.strip_suffix('"'))
                .unwrap();
            let expected = match expected.trim() {
                "error" => None,
                nanos => Some(nanos.parse::<u128>().unwrap()),
            };
            let parsed = parse_duration(input).ok().map(|d| d.nanos);
            assert_eq!(parsed, expected, "{input:?}");
            rows += 1;
        }
        assert!(rows > 40, "the table has {rows} rows");
    }

    #[test]
    fn expirations() {
        assert_eq!(parse_expiration_millis("15m"), Ok(900_000));
        assert_eq!(parse_expiration_millis("1d"), Ok(86_400_000));
        assert_eq!(parse_expiration_millis(" 2 hours "), Ok(7_200_000));
        assert_eq!(parse_expiration_millis("500ms"), Ok(500));
        assert_eq!(parse_expiration_millis("10sec"), Ok(10_000));
        assert_eq!(parse_expiration_millis("2000us"), Ok(2));
        assert_eq!(parse_expiration_millis("1 MIN"), Ok(60_000));
        for (bad, why) in [
            ("", "whole number"),
            ("m", "whole number"),
            ("15", "add a unit"),
            ("15 fortnights", "unknown unit"),
            ("15 mins", "unknown unit"),
            ("0s", "longer than zero"),
            ("1500us", "whole milliseconds"),
            ("-1m", "whole number"),
            ("99999999999999999999d", "too large"),
            ("9999999999999999d", "protocol"),
        ] {
            let error = parse_expiration_millis(bad).unwrap_err();
            assert!(error.contains(why), "{bad:?}: {error}");
        }
    }

    #[test]
    fn names() {
        assert!(state_name_problem("seen_count").is_none());
        assert!(state_name_problem("batch").is_some());
        assert!(state_name_problem("2x").is_some());
        assert!(state_name_problem("é").is_some());
        assert!(type_name_problem("com.example/cart", true).is_none());
        assert!(type_name_problem("a/b/c", true).is_some());
        assert!(type_name_problem("a/b/c", false).is_none());
        assert!(type_name_problem("cart", false).is_some());
        assert!(type_name_problem("ns/", false).is_some());
    }
}
