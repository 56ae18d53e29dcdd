//! Delayed messages on the virtual clock, with cancellation tokens scoped
//! to the sender's id (spec §3.8).

use std::collections::BTreeMap;
use std::time::Duration;

use crate::envelope::Envelope;

#[derive(Debug, Default, Clone)]
pub(crate) struct Timers {
    /// (fire time, insertion sequence) → message: fire order, ties in
    /// insertion order.
    pub(crate) pending: BTreeMap<(Duration, u64), (Envelope, Option<String>)>,
    /// (sender id, token) → its entry in `pending`.
    pub(crate) tokens: BTreeMap<(String, String), (Duration, u64)>,
    next: u64,
}

impl Timers {
    /// Schedules `envelope` at `at`; `Err` when the token is pending for
    /// the sender's id.
    pub(crate) fn schedule(
        &mut self,
        at: Duration,
        envelope: Envelope,
        token: Option<String>,
    ) -> Result<(), ()> {
        let key = (at, self.next);
        if let Some(token) = &token {
            let id = envelope
                .from
                .as_ref()
                .map(|a| a.id().to_owned())
                .unwrap_or_default();
            if self.tokens.contains_key(&(id.clone(), token.clone())) {
                return Err(());
            }
            self.tokens.insert((id, token.clone()), key);
        }
        self.next += 1;
        self.pending.insert(key, (envelope, token));
        Ok(())
    }

    /// Cancels the message `token` of sender id `id`; whether one was
    /// pending.
    pub(crate) fn cancel(&mut self, id: &str, token: &str) -> bool {
        match self.tokens.remove(&(id.to_owned(), token.to_owned())) {
            Some(key) => self.pending.remove(&key).is_some(),
            None => false,
        }
    }

    /// The earliest fire time, if any.
    pub(crate) fn next_due(&self) -> Option<Duration> {
        self.pending.keys().next().map(|(at, _)| *at)
    }

    /// Removes and returns every message due at or before `now`, in order.
    pub(crate) fn take_due(&mut self, now: Duration) -> Vec<Envelope> {
        let mut due = Vec::new();
        while let Some(entry) = self.pending.first_entry() {
            if entry.key().0 > now {
                break;
            }
            let (envelope, token) = entry.remove();
            if let (Some(token), Some(from)) = (token, &envelope.from) {
                self.tokens.remove(&(from.id().to_owned(), token));
            }
            due.push(envelope);
        }
        due
    }

    pub(crate) fn len(&self) -> usize {
        self.pending.len()
    }
}
