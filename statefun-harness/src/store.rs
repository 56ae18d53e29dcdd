//! State values with expiration, and the per-type state registry the
//! handshake fills (spec §3.4, §3.7).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use statefun_sdk::Address;

/// How a registered state expires.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ttl {
    Never,
    AfterWrite(Duration),
    AfterInvoke(Duration),
}

/// A state name or typename, shared: the registry, every stored value and
/// a checkpoint hold the same few strings, so cloning one is a reference
/// count increment.
pub(crate) type Name = Arc<str>;

#[derive(Debug, Clone)]
pub(crate) struct Registered {
    pub(crate) type_name: Name,
    pub(crate) ttl: Ttl,
}

#[derive(Debug, Clone)]
pub(crate) struct Stored {
    pub(crate) type_name: Name,
    pub(crate) bytes: Bytes,
    pub(crate) written: Duration,
    pub(crate) accessed: Duration,
}

/// The values of one address, by state name: a short vector sorted by name
/// (an address has a handful of states), iterated in the order a
/// `BTreeMap` would be.
#[derive(Debug, Clone, Default)]
pub(crate) struct Values(Vec<(Name, Stored)>);

impl Values {
    fn position(&self, name: &str) -> Result<usize, usize> {
        self.0.binary_search_by(|(n, _)| (**n).cmp(name))
    }

    pub(crate) fn get(&self, name: &str) -> Option<&Stored> {
        self.position(name).ok().map(|i| &self.0[i].1)
    }

    pub(crate) fn get_mut(&mut self, name: &str) -> Option<&mut Stored> {
        self.position(name).ok().map(|i| &mut self.0[i].1)
    }

    /// Sets `name` to `value`, replacing what was there.
    pub(crate) fn insert(&mut self, name: &Name, value: Stored) {
        match self.position(name) {
            Ok(i) => self.0[i].1 = value,
            Err(i) => self.0.insert(i, (Name::clone(name), value)),
        }
    }

    pub(crate) fn remove(&mut self, name: &str) -> Option<Stored> {
        self.position(name).ok().map(|i| self.0.remove(i).1)
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The values by name, in name order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&Name, &Stored)> {
        self.0.iter().map(|(n, v)| (n, v))
    }

    /// The values by name, in name order, as a slice.
    pub(crate) fn as_slice(&self) -> &[(Name, Stored)] {
        &self.0
    }

    /// The state names, in order.
    pub(crate) fn keys(&self) -> impl Iterator<Item = &Name> {
        self.0.iter().map(|(n, _)| n)
    }

    /// Values from pairs already sorted by name without duplicates.
    pub(crate) fn from_sorted(values: Vec<(Name, Stored)>) -> Self {
        debug_assert!(values.windows(2).all(|w| w[0].0 < w[1].0));
        Self(values)
    }
}

/// Every state value, by address. Shared copy-on-write: a checkpoint (and
/// the start a crash goes back to) takes it without copying, and the first
/// write after that copies it once.
pub(crate) type AllValues = Arc<BTreeMap<Address, Values>>;

#[derive(Debug, Default, Clone)]
pub(crate) struct Store {
    /// Function type → state name → registration.
    pub(crate) registry: BTreeMap<String, BTreeMap<Name, Registered>>,
    /// Address → state name → value.
    pub(crate) values: AllValues,
}

impl Store {
    /// Whether a stored value has expired at `now` under `ttl`.
    pub(crate) fn expired(value: &Stored, ttl: Ttl, now: Duration) -> bool {
        match ttl {
            Ttl::Never => false,
            Ttl::AfterWrite(d) => now >= value.written.saturating_add(d),
            Ttl::AfterInvoke(d) => now >= value.accessed.saturating_add(d),
        }
    }

    pub(crate) fn ttl_of(&self, function_type: &str, state: &str) -> Ttl {
        self.registry
            .get(function_type)
            .and_then(|states| states.get(state))
            .map_or(Ttl::Never, |r| r.ttl)
    }

    /// The values, to change (copied first when a checkpoint shares them).
    pub(crate) fn values_mut(&mut self) -> &mut BTreeMap<Address, Values> {
        Arc::make_mut(&mut self.values)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stored(n: u8) -> Stored {
        Stored {
            type_name: "t/t".into(),
            bytes: Bytes::from(vec![n]),
            written: Duration::ZERO,
            accessed: Duration::ZERO,
        }
    }

    #[test]
    fn values_keep_name_order_and_replace() {
        let mut v = Values::default();
        for (name, n) in [("b", 1), ("a", 2), ("c", 3), ("a", 4)] {
            v.insert(&Name::from(name), stored(n));
        }
        let names: Vec<&str> = v.keys().map(|n| &**n).collect();
        assert_eq!(names, ["a", "b", "c"]);
        assert_eq!(v.get("a").map(|s| s.bytes[0]), Some(4));
        assert!(v.remove("b").is_some());
        assert!(v.remove("b").is_none());
        assert!(v.get("b").is_none());
        v.get_mut("c").expect("c").bytes = Bytes::from_static(b"x");
        assert_eq!(
            v.get("c").map(|s| s.bytes.clone()),
            Some(Bytes::from_static(b"x"))
        );
        assert!(!v.is_empty());
    }

    #[test]
    fn a_shared_store_is_copied_on_write() {
        let mut store = Store::default();
        let address = Address::new(statefun_sdk::TypeName::from_static("a/b"), "x");
        store
            .values_mut()
            .entry(address.clone())
            .or_default()
            .insert(&Name::from("s"), stored(1));
        let snapshot = store.clone();
        store
            .values_mut()
            .entry(address.clone())
            .or_default()
            .insert(&Name::from("s"), stored(2));
        let byte = |s: &Store| s.values[&address].get("s").map(|v| v.bytes[0]);
        assert_eq!(byte(&snapshot), Some(1));
        assert_eq!(byte(&store), Some(2));
    }
}
