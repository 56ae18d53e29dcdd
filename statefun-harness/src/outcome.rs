//! The outcome of a run, what exploration compares: every live state value
//! and the visible egress.

use std::collections::BTreeMap;
use std::fmt;

use bytes::Bytes;
use stateful_functions::{Address, EgressIdentifier};

use crate::egress::EgressRecord;
use crate::engine::Engine;

/// What a run must not change: every state value and the committed egress
/// (per egress, in a sorted order, since the order across addresses
/// depends on the schedule).
#[derive(Clone, PartialEq, Eq)]
pub struct Outcome {
    states: BTreeMap<(Address, String), (String, Bytes)>,
    egress: BTreeMap<EgressIdentifier, Vec<(String, Bytes)>>,
}

impl Outcome {
    /// Every live state value of `engine` and the egress records visible
    /// now.
    pub(crate) fn of(engine: &Engine) -> Self {
        let mut states = BTreeMap::new();
        for address in engine.addresses_with_state() {
            for name in engine.state_names(address) {
                if let Some(value) = engine.state_raw(address, name) {
                    states.insert((address.clone(), name.to_owned()), value);
                }
            }
        }
        let egress = engine
            .egress_ids()
            .map(|id| {
                let mut records: Vec<(String, Bytes)> = engine
                    .visible_egress(id)
                    .iter()
                    .map(|EgressRecord { type_name, value }| (type_name.clone(), value.clone()))
                    .collect();
                records.sort();
                (id.clone(), records)
            })
            .filter(|(_, records)| !records.is_empty())
            .collect();
        Self { states, egress }
    }
}

/// A built-in `io.statefun.types/*` value decoded (`None` for another
/// type, or bytes that do not decode).
fn decoded(type_name: &str, bytes: &[u8]) -> Option<String> {
    use stateful_functions::Value;
    fn show<T: Value + fmt::Debug>(bytes: &[u8]) -> Option<String> {
        T::from_slice(bytes).ok().map(|v| format!("{v:?}"))
    }
    match type_name.strip_prefix("io.statefun.types/")? {
        "int" => show::<i32>(bytes),
        "long" => show::<i64>(bytes),
        "bool" => show::<bool>(bytes),
        "float" => show::<f32>(bytes),
        "double" => show::<f64>(bytes),
        "string" => show::<String>(bytes),
        _ => None,
    }
}

/// A value as a person reads it: a built-in type decoded, text when it is
/// printable, hex otherwise.
fn shown(type_name: &str, bytes: &[u8]) -> String {
    if let Some(value) = decoded(type_name, bytes) {
        return format!("{type_name} {value}");
    }
    match std::str::from_utf8(bytes) {
        Ok(text) if !text.chars().any(char::is_control) => format!("{type_name} {text:?}"),
        _ => {
            let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
            format!("{type_name} 0x{hex}")
        }
    }
}

impl Outcome {
    /// The first difference from `expected`, in words; `None` when equal.
    #[must_use]
    pub fn difference(&self, expected: &Self) -> Option<String> {
        let keys: std::collections::BTreeSet<_> =
            expected.states.keys().chain(self.states.keys()).collect();
        for key in keys {
            let (address, name) = key;
            let render = |v: Option<&(String, Bytes)>| {
                v.map_or_else(|| "no value".to_owned(), |(t, b)| shown(t, b))
            };
            let (want, got) = (expected.states.get(key), self.states.get(key));
            if want != got {
                return Some(format!(
                    "state {address} {name:?}: expected {}, got {}",
                    render(want),
                    render(got)
                ));
            }
        }
        let ids: std::collections::BTreeSet<_> =
            expected.egress.keys().chain(self.egress.keys()).collect();
        for id in ids {
            let none = Vec::new();
            let want = expected.egress.get(id).unwrap_or(&none);
            let got = self.egress.get(id).unwrap_or(&none);
            if want != got {
                let list = |records: &[(String, Bytes)]| {
                    records
                        .iter()
                        .map(|(t, b)| shown(t, b))
                        .collect::<Vec<_>>()
                        .join(", ")
                };
                return Some(format!(
                    "egress {id}: expected {} records [{}], got {} [{}]",
                    want.len(),
                    list(want),
                    got.len(),
                    list(got)
                ));
            }
        }
        None
    }
}

impl fmt::Debug for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut map = f.debug_map();
        for ((address, name), (t, b)) in &self.states {
            map.entry(&format_args!("{address} {name}"), &shown(t, b));
        }
        for (id, records) in &self.egress {
            let records: Vec<String> = records.iter().map(|(t, b)| shown(t, b)).collect();
            map.entry(&format_args!("egress {id}"), &records);
        }
        map.finish()
    }
}

#[cfg(test)]
mod tests {
    use stateful_functions::Value;

    use super::shown;

    #[test]
    fn built_in_values_are_shown_decoded() {
        let int = 2_i32.to_bytes().unwrap();
        assert_eq!(
            shown("io.statefun.types/int", &int),
            "io.statefun.types/int 2"
        );
        let long = (-7_i64).to_bytes().unwrap();
        assert_eq!(
            shown("io.statefun.types/long", &long),
            "io.statefun.types/long -7"
        );
        let yes = true.to_bytes().unwrap();
        assert_eq!(
            shown("io.statefun.types/bool", &yes),
            "io.statefun.types/bool true"
        );
        let float = 1.5_f32.to_bytes().unwrap();
        assert_eq!(
            shown("io.statefun.types/float", &float),
            "io.statefun.types/float 1.5"
        );
        let double = 0.25_f64.to_bytes().unwrap();
        assert_eq!(
            shown("io.statefun.types/double", &double),
            "io.statefun.types/double 0.25"
        );
        let text = "hi\n".to_owned().to_bytes().unwrap();
        assert_eq!(
            shown("io.statefun.types/string", &text),
            "io.statefun.types/string \"hi\\n\""
        );
    }

    #[test]
    fn other_values_are_shown_as_text_or_bytes() {
        assert_eq!(shown("test/text", b"abc"), "test/text \"abc\"");
        assert_eq!(shown("test/raw", &[9, 2]), "test/raw 0x0902");
        // Bytes that do not decode as the built-in type: as bytes.
        assert_eq!(
            shown("io.statefun.types/int", &[0xff]),
            "io.statefun.types/int 0xff"
        );
    }
}
