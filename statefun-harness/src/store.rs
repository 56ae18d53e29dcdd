//! State values with expiration, and the per-type state registry the
//! handshake fills (spec §3.4, §3.7).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use stateful_functions::{Address, TypeName};

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

/// How many addresses a chunk of [`AllValues`] holds at most: a chunk
/// this full splits in two when another address joins it. A write after
/// a checkpoint copies one chunk: at most this many addresses' values.
const CHUNK_MAX: usize = 512;

/// Every state value, by address, in address order, shared copy-on-write
/// in chunks: the addresses are split into chunks of consecutive
/// addresses, each behind an `Arc`. A checkpoint (and the start a crash
/// goes back to) takes the list of chunks (a pointer and an address per
/// chunk) and copies no value; the first write to a chunk after that
/// copies that chunk alone.
///
/// Where the chunks split depends on the order addresses came in, never
/// what the map holds or the order it iterates in.
#[derive(Clone, Default)]
pub(crate) struct AllValues {
    /// Where each chunk but the first starts: chunk `i + 1` holds the
    /// addresses from `bounds[i]` up to (not including) `bounds[i + 1]`,
    /// chunk 0 those below `bounds[0]`. Strictly increasing, one fewer than
    /// the chunks (none while there are no chunks).
    bounds: Vec<Address>,
    chunks: Vec<Arc<Chunk>>,
}

type Chunk = BTreeMap<Address, Values>;

impl AllValues {
    /// From addresses and their values already in address order without
    /// duplicates, in chunks half full.
    pub(crate) fn from_sorted(all: impl IntoIterator<Item = (Address, Values)>) -> Self {
        let mut this = Self::default();
        let mut all = all.into_iter().peekable();
        while all.peek().is_some() {
            let chunk: Chunk = all.by_ref().take(CHUNK_MAX / 2).collect();
            if !this.chunks.is_empty() {
                if let Some((first, _)) = chunk.first_key_value() {
                    debug_assert!(this.bounds.last().is_none_or(|b| b < first));
                    this.bounds.push(first.clone());
                }
            }
            this.chunks.push(Arc::new(chunk));
        }
        this
    }

    /// The chunk that holds (or would hold) `address`.
    #[inline]
    fn index(&self, address: &Address) -> usize {
        self.bounds.partition_point(|b| b <= address)
    }

    /// The values of `address`.
    #[inline]
    pub(crate) fn get(&self, address: &Address) -> Option<&Values> {
        self.chunks.get(self.index(address))?.get(address)
    }

    /// The values of `address`, to change (the chunk that holds them
    /// copied first when a checkpoint shares it). Nothing is copied for an
    /// address without values.
    #[inline]
    pub(crate) fn get_mut(&mut self, address: &Address) -> Option<&mut Values> {
        let i = self.index(address);
        let chunk = self.chunks.get_mut(i)?;
        if Arc::strong_count(chunk) > 1 && !chunk.contains_key(address) {
            return None;
        }
        Arc::make_mut(chunk).get_mut(address)
    }

    /// Sets state `name` of `address` to `value`, replacing what was there.
    #[inline]
    pub(crate) fn insert(&mut self, address: &Address, name: &Name, value: Stored) {
        let chunk = self.chunk_mut(address);
        match chunk.get_mut(address) {
            Some(values) => values.insert(name, value),
            None => {
                let mut fresh = Values::default();
                fresh.insert(name, value);
                chunk.insert(address.clone(), fresh);
            }
        }
    }

    /// The chunk `address` belongs in, to change (copied first when
    /// shared), with room for `address` if it is not there yet: a full
    /// chunk splits in two halves first.
    #[inline]
    fn chunk_mut(&mut self, address: &Address) -> &mut Chunk {
        if self.chunks.is_empty() {
            self.chunks.push(Arc::default());
        }
        let mut i = self.index(address);
        let chunk = &self.chunks[i];
        if chunk.len() >= CHUNK_MAX && !chunk.contains_key(address) {
            let chunk = Arc::make_mut(&mut self.chunks[i]);
            if let Some(middle) = chunk.keys().nth(chunk.len() / 2).cloned() {
                let upper = chunk.split_off(&middle);
                let goes_up = *address >= middle;
                self.bounds.insert(i, middle);
                self.chunks.insert(i + 1, Arc::new(upper));
                i += usize::from(goes_up);
            }
        }
        Arc::make_mut(&mut self.chunks[i])
    }

    /// Every address and its values, in address order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&Address, &Values)> {
        self.chunks.iter().flat_map(|chunk| chunk.iter())
    }
}

impl std::fmt::Debug for AllValues {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // As the one `BTreeMap` it stands for.
        f.debug_map().entries(self.iter()).finish()
    }
}

/// The states registered on one partition: function type → state name →
/// registration.
pub(crate) type Registry = BTreeMap<TypeName, BTreeMap<Name, Registered>>;

#[derive(Debug, Default, Clone)]
pub(crate) struct Store {
    /// Per partition, the states registered there: the runtime keeps one
    /// registry per function type per subtask
    /// (`reqreply/RequestReplyFunction.java` holds its
    /// `PersistedRemoteFunctionValues`, one instance per type per subtask).
    pub(crate) registry: Vec<Registry>,
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

    /// The expiration of `state` of `function_type` as registered on
    /// `partition` (never, when it is not registered there).
    pub(crate) fn ttl_of(&self, partition: usize, function_type: &TypeName, state: &str) -> Ttl {
        self.registry
            .get(partition)
            .and_then(|registry| registry.get(function_type))
            .and_then(|states| states.get(state))
            .map_or(Ttl::Never, |r| r.ttl)
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

    fn address(id: usize) -> Address {
        Address::new(
            stateful_functions::TypeName::from_static("a/b"),
            format!("x{id}"),
        )
    }

    /// The chunks' invariants: bounds strictly increasing, one fewer than
    /// the chunks, every address within its chunk's bounds, no chunk over
    /// the limit.
    fn check(all: &AllValues) {
        let c = all;
        assert_eq!(c.bounds.len() + 1, c.chunks.len().max(1));
        assert!(c.bounds.windows(2).all(|w| w[0] < w[1]));
        for (i, chunk) in c.chunks.iter().enumerate() {
            assert!(chunk.len() <= CHUNK_MAX);
            for address in chunk.keys() {
                assert!(i == 0 || c.bounds[i - 1] <= *address);
                assert!(i == c.bounds.len() || *address < c.bounds[i]);
            }
        }
    }

    #[test]
    fn a_shared_store_is_copied_on_write() {
        let mut store = Store::default();
        let address = address(0);
        store.values.insert(&address, &Name::from("s"), stored(1));
        let snapshot = store.clone();
        store.values.insert(&address, &Name::from("s"), stored(2));
        let byte = |s: &Store| {
            s.values
                .get(&address)
                .and_then(|v| v.get("s"))
                .map(|v| v.bytes[0])
        };
        assert_eq!(byte(&snapshot), Some(1));
        assert_eq!(byte(&store), Some(2));
    }

    /// Addresses inserted out of order split into chunks, and read back
    /// (and shown) as one map in address order.
    #[test]
    fn chunks_split_and_keep_address_order() {
        const N: usize = 5 * CHUNK_MAX + 7;
        let mut all = AllValues::default();
        let mut model = BTreeMap::new();
        assert!(all.get(&address(1)).is_none());
        assert!(all.get_mut(&address(1)).is_none());
        // 7919 is prime to N, so every address comes once, out of order.
        for k in 0..N {
            let i = k * 7919 % N;
            let n = u8::try_from(i % 256).expect("small");
            all.insert(&address(i), &Name::from("s"), stored(n));
            model
                .entry(address(i))
                .or_insert_with(Values::default)
                .insert(&Name::from("s"), stored(n));
            if k % 97 == 0 {
                check(&all);
            }
        }
        check(&all);
        assert!(all.chunks.len() > 2);
        assert_eq!(format!("{all:?}"), format!("{model:?}"));
        assert!(all.iter().map(|(a, _)| a).eq(model.keys()));
        for i in 0..N {
            let n = all
                .get(&address(i))
                .and_then(|v| v.get("s"))
                .map(|v| v.bytes[0]);
            assert_eq!(n, u8::try_from(i % 256).ok());
        }
        assert!(all.get(&address(N)).is_none());
    }

    /// After a snapshot, a write copies the one chunk it writes to and
    /// leaves the snapshot as it was; reading or looking for an address
    /// without values copies nothing.
    #[test]
    fn a_write_after_a_snapshot_copies_one_chunk() {
        let all = (0..10 * CHUNK_MAX).map(|i| {
            let mut values = Values::default();
            values.insert(&Name::from("s"), stored(1));
            (address(i), values)
        });
        let mut all: Vec<_> = all.collect();
        all.sort_by(|a, b| a.0.cmp(&b.0));
        let mut all = AllValues::from_sorted(all);
        check(&all);
        let snapshot = all.clone();
        let shared = |a: &AllValues, b: &AllValues| {
            a.chunks
                .iter()
                .zip(&b.chunks)
                .filter(|(x, y)| Arc::ptr_eq(x, y))
                .count()
        };
        assert!(all.get_mut(&address(usize::MAX)).is_none());
        assert_eq!(shared(&all, &snapshot), all.chunks.len());

        let chunks = all.chunks.len();
        all.get_mut(&address(3))
            .expect("there")
            .insert(&Name::from("s"), stored(2));
        assert_eq!(shared(&all, &snapshot), chunks - 1);
        all.insert(&address(4), &Name::from("t"), stored(3));
        all.insert(&address(CHUNK_MAX + 1), &Name::from("t"), stored(3));
        let written: std::collections::BTreeSet<usize> =
            [3, 4, CHUNK_MAX + 1].map(|i| all.index(&address(i))).into();
        assert_eq!(written.len(), 3);
        assert_eq!(shared(&all, &snapshot), chunks - 3);
        let byte = |a: &AllValues| {
            a.get(&address(3))
                .and_then(|v| v.get("s"))
                .map(|v| v.bytes[0])
        };
        assert_eq!((byte(&snapshot), byte(&all)), (Some(1), Some(2)));
        assert!(snapshot.get(&address(4)).and_then(|v| v.get("t")).is_none());

        // New addresses fill the chunks from the checkpoint until they split.
        for i in 10 * CHUNK_MAX..20 * CHUNK_MAX {
            all.insert(&address(i), &Name::from("s"), stored(4));
        }
        check(&all);
        assert_eq!(all.iter().count(), 20 * CHUNK_MAX);
        assert_eq!(snapshot.iter().count(), 10 * CHUNK_MAX);
        check(&snapshot);
    }
}
