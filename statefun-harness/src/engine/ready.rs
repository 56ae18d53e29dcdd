//! The requests that may take a step now, kept as they change rather than
//! found by a scan at every step, for the call orders that park calls
//! ([`CallOrder::Rounds`](crate::CallOrder::Rounds) and
//! [`CallOrder::Arrival`](crate::CallOrder::Arrival)), where ten thousand
//! requests may be in flight at once. A set indexed by position, so the
//! scheduler's pick is one lookup; a removal moves the last member into
//! the gap, so the order (and with it a seed's picks) depends only on the
//! history of the run.

use std::collections::BTreeMap;

/// Request ids, each at most once, indexed by position.
#[derive(Debug, Default, Clone)]
pub(super) struct Ready {
    ids: Vec<u64>,
    /// Where each id is in `ids`.
    slots: BTreeMap<u64, usize>,
}

impl Ready {
    /// How many requests may take a step.
    pub(super) fn len(&self) -> usize {
        self.ids.len()
    }

    /// The `k`-th request.
    pub(super) fn get(&self, k: usize) -> Option<u64> {
        self.ids.get(k).copied()
    }

    /// Adds `id` (at the end), unless it is in.
    pub(super) fn insert(&mut self, id: u64) {
        if let std::collections::btree_map::Entry::Vacant(slot) = self.slots.entry(id) {
            slot.insert(self.ids.len());
            self.ids.push(id);
        }
    }

    /// Removes `id`, if it is in: the last request takes its place.
    pub(super) fn remove(&mut self, id: u64) {
        let Some(slot) = self.slots.remove(&id) else {
            return;
        };
        self.ids.swap_remove(slot);
        if let Some(moved) = self.ids.get(slot) {
            self.slots.insert(*moved, slot);
        }
    }

    /// Removes every request.
    pub(super) fn clear(&mut self) {
        self.ids.clear();
        self.slots.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::Ready;

    /// Inserting twice keeps one; a removal moves the last one into the
    /// gap; every member stays found at its position.
    #[test]
    fn positions_follow_insertions_and_removals() {
        let mut ready = Ready::default();
        for id in [5, 7, 9, 7, 11] {
            ready.insert(id);
        }
        assert_eq!(ready.len(), 4);
        ready.remove(7);
        ready.remove(42);
        let ids: Vec<u64> = (0..ready.len()).filter_map(|k| ready.get(k)).collect();
        assert_eq!(ids, [5, 11, 9]);
        for (k, id) in ids.iter().enumerate() {
            assert_eq!(ready.slots[id], k);
        }
        ready.remove(9);
        ready.remove(5);
        assert_eq!(ready.get(0), Some(11));
        assert_eq!(ready.get(1), None);
        ready.clear();
        assert_eq!(ready.len(), 0);
    }
}
