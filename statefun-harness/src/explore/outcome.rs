//! The outcome of a run, what exploration compares: every live state value
//! and the visible egress.

use std::collections::BTreeMap;
use std::fmt;

use bytes::Bytes;
use statefun_sdk::{Address, EgressIdentifier};

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

/// A value as a person reads it: text when it is printable, hex otherwise.
fn shown(type_name: &str, bytes: &[u8]) -> String {
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
