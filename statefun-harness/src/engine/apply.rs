//! Applying an answer with the runtime's semantics: the state handshake
//! (register, then send the same batch again), or an invocation result
//! (messages, delayed messages and cancellations, egress, state changes,
//! in that order), each checked as the runtime checks it. The answer is
//! read by `protocol`; nothing here knows the wire.

use std::collections::btree_map::Entry;
use std::time::Duration;

use stateful_functions::{Address, EgressIdentifier, TypeName};

use super::Engine;
use super::protocol::{Answer, Change, Effects, Missing, Outgoing, Reply};
use crate::egress::EgressRecord;
use crate::envelope::Envelope;
use crate::error::{Cause, JobFailure};
use crate::store::{Name, Registered, Stored, Ttl};
use crate::trace::Event;

impl Engine {
    /// Applies the answer of an in-flight request: the handshake (and the
    /// same invocations again), or the invocation result and the next batch.
    pub(super) fn complete(&mut self, id: u64) -> Result<(), JobFailure> {
        self.ready.remove(id);
        let Some(request) = self.world.in_flight.remove(&id) else {
            return Ok(());
        };
        // The first request of its type on its partition is completed: the
        // partition goes on (its handshake's retry and the next batch are
        // sent as usual).
        let p = request.partition;
        // Any completed request of the address, a handshake answer as much
        // as a result, unblocks it and is one async operation fewer
        // (`functions/AsyncSink.java` → `ThresholdBackPressureValve`,
        // `notifyAsyncOperationCompleted`).
        self.world.pending[p] = self.world.pending[p].saturating_sub(1);
        self.world.blocked[p].remove(&request.address);
        if self.world.bootstrapping[p].front() == Some(&id) {
            self.world.bootstrapping[p].pop_front();
            if self.world.bootstrapping[p].is_empty() {
                self.world.bootstrapping_partitions -= 1;
            }
            // Requests held back by it (after a restore) may go now.
            self.refresh_partition(p);
        }
        // On a failure this address has nothing in flight any more (the job
        // is failed; `crash()` sends the batch again from a checkpoint). With
        // nothing waiting either, it is idle: forgotten now, and no next
        // batch to look for (applying the answer adds to no backlog).
        let waiting = match self.world.addresses.entry(request.address.clone()) {
            Entry::Occupied(mut state) => {
                state.get_mut().in_flight = None;
                if state.get().backlog.is_empty() {
                    state.remove();
                    false
                } else {
                    true
                }
            }
            Entry::Vacant(_) => false,
        };
        let address = request.address;
        let batch = request.invocations.len();
        let answer = request.response.unwrap_or_else(Answer::empty);
        match answer.reply() {
            Reply::Incomplete(missing) => {
                self.register(&address, batch, &missing)?;
                // The same invocations again, now with the new state.
                self.send_request(&address, request.invocations);
            }
            Reply::Result(effects) => {
                self.apply(&address, p, batch, &effects)?;
                if waiting {
                    self.next_batch(&address);
                }
            }
        }
        Ok(())
    }

    /// The state handshake: registers the states the function declared
    /// (a changed typename fails the job; a changed TTL waits for the next
    /// restart).
    fn register(
        &mut self,
        address: &Address,
        batch: usize,
        missing: &Missing<'_>,
    ) -> Result<(), JobFailure> {
        let function_type = address.function_type();
        // The registry of the address's partition (one per type per
        // subtask in the runtime).
        let p = self.index(address);
        for spec in missing.states() {
            let state_name = spec.name;
            // The runtime parses the typename first, for a new name and a
            // registered one alike (`PersistedRemoteFunctionValues.java`,
            // `sdkStateType`).
            let Some(type_name) = state_type(spec.type_name) else {
                let cause = Cause::InvalidTypeName {
                    state: state_name.to_owned(),
                    type_name: spec.type_name.to_owned(),
                };
                return Err(self.fail(Some(address), Some(batch), cause));
            };
            let type_name = &*type_name;
            let ttl = spec.ttl;
            let states = self.world.store.registry[p]
                .entry(function_type.clone())
                .or_default();
            match states.get(state_name) {
                Some(existing) if *existing.type_name != *type_name => {
                    let cause = Cause::StateTypeChanged {
                        state: state_name.to_owned(),
                        previous: existing.type_name.to_string(),
                        new: type_name.to_owned(),
                    };
                    return Err(self.fail(Some(address), Some(batch), cause));
                }
                // A changed TTL is ignored until the next restart.
                Some(_) => {}
                // A new name's expiration becomes a Flink `StateTtlConfig`,
                // which refuses a TTL of zero or less: after write or after
                // invoke, not none (`state/ExpirationUtil.java`).
                None if matches!(ttl, Ttl::AfterWrite(d) | Ttl::AfterInvoke(d) if d.is_zero()) => {
                    let cause = Cause::NonPositiveTtl {
                        state: state_name.to_owned(),
                        millis: spec.expire_after_millis,
                    };
                    return Err(self.fail(Some(address), Some(batch), cause));
                }
                None => {
                    states.insert(
                        Name::from(state_name),
                        Registered {
                            type_name: Name::from(type_name),
                            ttl,
                        },
                    );
                    self.known_ttls
                        .insert((function_type.clone(), Name::from(state_name)), ttl);
                }
            }
        }
        self.world.counters.handshakes += 1;
        let registered = self.world.store.registry[p]
            .get(function_type)
            .map(|s| s.keys().map(ToString::to_string).collect())
            .unwrap_or_default();
        self.record(Event::Handshake {
            address: address.clone(),
            registered,
        });
        Ok(())
    }

    /// The result of a batch: its effects, in the runtime's order.
    fn apply(
        &mut self,
        address: &Address,
        partition: usize,
        batch: usize,
        effects: &Effects<'_>,
    ) -> Result<(), JobFailure> {
        let (messages, delayed, egress) = effects.counts();
        self.record(Event::Applied {
            address: address.clone(),
            messages,
            delayed,
            egress,
        });
        // 1. Outgoing messages, in order.
        for message in effects.messages() {
            let envelope = self.envelope(address, batch, message)?;
            self.route_from(envelope, Some(partition));
        }
        // 2. Delayed messages and cancellations, in order.
        for delayed in effects.delayed() {
            let token = delayed.token;
            if delayed.cancellation {
                if token.is_empty() {
                    return Err(self.fail(
                        Some(address),
                        Some(batch),
                        Cause::EmptyCancellationToken,
                    ));
                }
                let found = self.world.timers.cancel(address.id(), token);
                self.record(Event::TimerCancelled {
                    id: address.id().to_owned(),
                    token: token.to_owned(),
                    found,
                });
                continue;
            }
            let Ok(delay) = u64::try_from(delayed.delay_in_ms) else {
                return Err(self.fail(
                    Some(address),
                    Some(batch),
                    Cause::NegativeDelay(delayed.delay_in_ms),
                ));
            };
            let envelope = self.envelope(address, batch, delayed.message)?;
            let at = self.now.saturating_add(Duration::from_millis(delay));
            let token = (!token.is_empty()).then(|| token.to_owned());
            let to = envelope.to.clone();
            if self
                .world
                .timers
                .schedule(at, envelope, token.clone())
                .is_err()
            {
                let cause = Cause::DuplicateToken {
                    id: address.id().to_owned(),
                    token: token.unwrap_or_default(),
                };
                return Err(self.fail(Some(address), Some(batch), cause));
            }
            self.record(Event::TimerScheduled {
                from: address.clone(),
                to,
                at,
                token,
            });
        }
        // 3. Egress, in order.
        for egress in effects.egress() {
            let declared = TypeName::new(egress.namespace, egress.name)
                .and_then(EgressIdentifier::new)
                .ok()
                .and_then(|id| Some((self.config.egresses.get(&id).copied()?, id)));
            let Some((kind, id)) = declared else {
                let id = format!("{}/{}", egress.namespace, egress.name);
                return Err(self.fail(Some(address), Some(batch), Cause::UnknownEgress(id)));
            };
            let type_name = egress.type_name;
            if let Some(expected) = kind.required_type() {
                if type_name != expected.as_str() {
                    let cause = Cause::EgressTypeMismatch {
                        egress: id.to_string(),
                        expected: expected.to_string(),
                        actual: type_name.to_owned(),
                    };
                    return Err(self.fail(Some(address), Some(batch), cause));
                }
                // The serializer parses the record when the sink receives
                // it, and fails the job when it cannot.
                if let Err(reason) = kind.check(&egress.value) {
                    let cause = Cause::MalformedEgressRecord {
                        egress: id.to_string(),
                        type_name: expected.to_string(),
                        reason: reason.to_string(),
                    };
                    return Err(self.fail(Some(address), Some(batch), cause));
                }
            }
            self.record(Event::Egress {
                egress: id.to_string(),
                type_name: type_name.to_owned(),
            });
            self.world.counters.egress += 1;
            self.world.egress.entry(id).or_default().push(EgressRecord {
                type_name: type_name.to_owned(),
                value: egress.value,
            });
        }
        // 4. State mutations, in order (later ones win), against the
        // registry of the address's partition.
        let function_type = address.function_type();
        let p = self.index(address);
        for mutation in effects.mutations() {
            let state_name = mutation.state;
            let Some((name, registered)) = self.world.store.registry[p]
                .get(function_type)
                .and_then(|s| s.get_key_value(state_name))
                .map(|(name, r)| (Name::clone(name), Name::clone(&r.type_name)))
            else {
                return Err(self.fail(
                    Some(address),
                    Some(batch),
                    Cause::UnregisteredState(state_name.to_owned()),
                ));
            };
            match mutation.change {
                Change::Delete => {
                    if let Some(values) = self.world.store.values.get_mut(address) {
                        values.remove(&name);
                    }
                    self.record(Event::StateChanged {
                        address: address.clone(),
                        state: String::from(&*name),
                        modified: false,
                    });
                }
                Change::Modify {
                    type_name,
                    type_name_text,
                    value,
                } => {
                    // As written (the usual case), or as the runtime reads
                    // it: empty is `unset`, and `TypeName.parseFrom`'s
                    // reading (`PersistedRemoteFunctionValues.java`,
                    // `validateType`).
                    if type_name != registered.as_bytes() {
                        let Some(written) = state_type(type_name_text) else {
                            let cause = Cause::InvalidTypeName {
                                state: state_name.to_owned(),
                                type_name: type_name_text.to_owned(),
                            };
                            return Err(self.fail(Some(address), Some(batch), cause));
                        };
                        // Else the same type, written another way.
                        if *written != *registered {
                            let cause = Cause::ModifyTypeMismatch {
                                state: state_name.to_owned(),
                                registered: registered.to_string(),
                                written: type_name_text.to_owned(),
                            };
                            return Err(self.fail(Some(address), Some(batch), cause));
                        }
                    }
                    let stored = Stored {
                        // The registered typename, which it reads as.
                        type_name: registered,
                        bytes: value,
                        written: self.now,
                        accessed: self.now,
                    };
                    self.world.store.values.insert(address, &name, stored);
                    self.record(Event::StateChanged {
                        address: address.clone(),
                        state: String::from(&*name),
                        modified: true,
                    });
                }
                Change::Unknown(mutation_type) => {
                    return Err(self.fail(
                        Some(address),
                        Some(batch),
                        Cause::UnknownMutationType(mutation_type),
                    ));
                }
            }
        }
        Ok(())
    }

    /// The envelope of a message `from` sends: its target checked to be an
    /// address.
    fn envelope(
        &self,
        from: &Address,
        batch: usize,
        message: Outgoing<'_>,
    ) -> Result<Envelope, JobFailure> {
        let target = message.target;
        let Ok(function_type) = TypeName::new(target.namespace, target.name) else {
            let shown = format!("{}/{}:{}", target.namespace, target.name, target.id);
            return Err(self.fail(Some(from), Some(batch), Cause::InvalidAddress(shown)));
        };
        Ok(Envelope {
            from: Some(from.clone()),
            to: Address::new(function_type, target.id),
            type_name: message.type_name.to_owned(),
            value: message.value,
        })
    }
}

/// The typename of a state as the runtime reads it
/// (`reqreply/PersistedRemoteFunctionValues.java`, `sdkStateType`): empty
/// is `io.statefun.types/unset`; otherwise Java's `TypeName.parseFrom`,
/// which splits at every `/` (Java's `String.split`, which drops trailing
/// empty parts) and wants exactly two parts, written back as
/// `namespace/name`. `None` where the runtime fails ("Invalid type name
/// string").
pub(super) fn state_type(type_name: &str) -> Option<std::borrow::Cow<'_, str>> {
    use std::borrow::Cow;
    if type_name.is_empty() {
        return Some(Cow::Borrowed(UNSET_TYPE));
    }
    let mut parts: Vec<&str> = type_name.split('/').collect();
    while parts.last().is_some_and(|p| p.is_empty()) {
        parts.pop();
    }
    match parts[..] {
        [namespace, name] if namespace.len() + 1 + name.len() == type_name.len() => {
            Some(Cow::Borrowed(type_name))
        }
        [namespace, name] => Some(Cow::Owned(format!("{namespace}/{name}"))),
        _ => None,
    }
}

/// The type of a state registered without one.
const UNSET_TYPE: &str = "io.statefun.types/unset";

#[cfg(test)]
mod tests {
    use super::state_type;

    /// Java's `TypeName.parseFrom` over `String.split("/")`: exactly two
    /// parts once trailing empty ones are dropped; empty is `unset`.
    #[test]
    fn state_types_read_as_the_runtime_reads_them() {
        let read = |t: &str| state_type(t).map(|c| c.into_owned());
        assert_eq!(read("").as_deref(), Some("io.statefun.types/unset"));
        assert_eq!(read("a/b").as_deref(), Some("a/b"));
        assert_eq!(read("/b").as_deref(), Some("/b"));
        assert_eq!(read("a/b/").as_deref(), Some("a/b"));
        assert_eq!(read("a/b//").as_deref(), Some("a/b"));
        for invalid in ["int", "a/", "/", "a/b/c", "a//b", "//"] {
            assert_eq!(read(invalid), None, "{invalid:?}");
        }
    }
}
