//! The StateFun rules the macros check at compile time: type names, state
//! names and human durations. They mirror the SDK's run-time checks (the
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

/// Parses a duration such as `15m`, `1d`, `30s`, `500ms`, `2 hours` into
/// milliseconds (the runtime's unit), as Flink's duration strings but with
/// a unit required.
pub(crate) fn parse_duration_millis(s: &str) -> Result<u64, String> {
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
    let millis_per_unit: u64 = match unit.as_str() {
        "ms" | "milli" | "millis" | "millisecond" | "milliseconds" => 1,
        "s" | "sec" | "secs" | "second" | "seconds" => 1_000,
        "m" | "min" | "mins" | "minute" | "minutes" => 60_000,
        "h" | "hour" | "hours" => 3_600_000,
        "d" | "day" | "days" => 86_400_000,
        "" => {
            return Err(format!(
                "invalid duration {s:?}: add a unit (ms, s, m, h or d), such as \"{amount}m\""
            ));
        }
        other => {
            return Err(format!(
                "invalid duration {s:?}: unknown unit {other:?}; use ms, s, m, h or d"
            ));
        }
    };
    let millis = amount
        .checked_mul(millis_per_unit)
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

    #[test]
    fn durations() {
        assert_eq!(parse_duration_millis("15m"), Ok(900_000));
        assert_eq!(parse_duration_millis("1d"), Ok(86_400_000));
        assert_eq!(parse_duration_millis(" 2 hours "), Ok(7_200_000));
        assert_eq!(parse_duration_millis("500ms"), Ok(500));
        assert_eq!(parse_duration_millis("10sec"), Ok(10_000));
        for bad in [
            "",
            "m",
            "15",
            "15 fortnights",
            "0s",
            "-1m",
            "99999999999999999999d",
        ] {
            assert!(parse_duration_millis(bad).is_err(), "{bad:?}");
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
