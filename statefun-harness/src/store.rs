//! State values with expiration, and the per-type state registry the
//! handshake fills (spec §3.4, §3.7).

use std::collections::BTreeMap;
use std::time::Duration;

use bytes::Bytes;

/// How a registered state expires.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ttl {
    Never,
    AfterWrite(Duration),
    AfterInvoke(Duration),
}

#[derive(Debug, Clone)]
pub(crate) struct Registered {
    pub(crate) type_name: String,
    pub(crate) ttl: Ttl,
}

#[derive(Debug, Clone)]
pub(crate) struct Stored {
    pub(crate) type_name: String,
    pub(crate) bytes: Bytes,
    pub(crate) written: Duration,
    pub(crate) accessed: Duration,
}

#[derive(Debug, Default, Clone)]
pub(crate) struct Store {
    /// Function type → state name → registration.
    pub(crate) registry: BTreeMap<String, BTreeMap<String, Registered>>,
    /// Address → state name → value.
    pub(crate) values: BTreeMap<statefun_sdk::Address, BTreeMap<String, Stored>>,
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
}
