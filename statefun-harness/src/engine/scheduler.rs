//! The scheduler: which action comes next (the seed's choice among the
//! possible ones), delivering messages to addresses (one request in flight
//! per address, the rest waiting in its backlog), and cutting backlogs into
//! the next batch.

use std::collections::BTreeMap;
use std::collections::btree_map::Entry;

use stateful_functions::Address;

use super::Engine;
use super::protocol::{self, SentState};
use super::world::{AddressState, InFlight};
use crate::envelope::Envelope;
use crate::error::{Cause, JobFailure};
use crate::plan::{Batching, CallOrder};
use crate::store::{Name, Registered, Store, Stored, Values};
use crate::trace::Event;

/// One thing the scheduler can do next.
#[derive(Debug, Clone, Copy)]
enum Action {
    DeliverLocal(usize),
    DeliverFeedback(usize),
    DeliverIngress(usize),
    /// Attempt the call of an in-flight request (the function runs).
    Call(u64),
    /// Apply the answer of an in-flight request.
    Apply(u64),
    FireTimers,
}

impl Engine {
    /// Whether partition `p` is back-pressured: an address there asked to
    /// stop the input (its backlog reached `maxNumBatchRequests`, and no
    /// request of it completed since), or its requests in flight reached
    /// `max_in_flight_per_partition` (`statefun.async.max-per-task`; 0: no
    /// bound). `backpressure/ThresholdBackPressureValve.java`,
    /// `shouldBackPressure`. The partition then takes no input (ingress, or
    /// messages from other partitions).
    fn blocked(&self, p: usize) -> bool {
        let max = self.config.max_in_flight;
        !self.world.blocked[p].is_empty() || (max > 0 && self.world.pending[p] >= max)
    }

    /// Whether partition `p` is blocked on the first request of a function
    /// type there: it then takes no message (local or ingress) and steps
    /// no other request until that one is completed
    /// (`reqreply/RequestReplyFunction.java`: "Blocking processing until
    /// first request is completed").
    fn bootstrapping(&self, p: usize) -> bool {
        !self.world.bootstrapping[p].is_empty()
    }

    /// Whether the request `id` is held back by the first request of
    /// another (or the same) type on its partition.
    pub(super) fn held(&self, id: u64, request: &InFlight) -> bool {
        self.world.bootstrapping[request.partition]
            .front()
            .is_some_and(|first| *first != id)
    }

    /// Whether an in-flight request can take its next step now: it has an
    /// answer to apply, or its backoff (if any) is over.
    fn ready(&self, request: &InFlight) -> bool {
        request.response.is_some() || request.retry_at.is_none_or(|at| at <= self.now)
    }

    /// Whether in-flight requests may take a step now: with maximal
    /// batches, only when no message can be delivered.
    fn requests_may_step(&self, deliveries: usize) -> bool {
        self.config.batching != Batching::Maximal || deliveries == 0
    }

    /// How many messages (and due timers) can be delivered now.
    fn delivery_count(&self) -> usize {
        let mut n = usize::from(self.timers_due());
        for p in 0..self.world.local.len() {
            n += usize::from(self.takes_local(p));
            n += usize::from(self.takes_feedback(p));
            n += usize::from(self.takes_ingress(p));
        }
        n
    }

    /// How many actions are possible now, `deliveries` of them deliveries.
    fn action_count(&self, deliveries: usize) -> usize {
        if !self.requests_may_step(deliveries) {
            return deliveries;
        }
        if self.config.call_order.parks() {
            return deliveries + self.ready.len();
        }
        let ready = if self.waiting_retries == 0 && self.world.bootstrapping_partitions == 0 {
            self.world.in_flight.len()
        } else {
            self.world
                .in_flight
                .iter()
                .filter(|(id, r)| self.steps_now(**id, r))
                .count()
        };
        deliveries + ready
    }

    /// Whether an in-flight request may take a step now: ready, and not
    /// held back by a first request on its partition.
    fn steps_now(&self, id: u64, request: &InFlight) -> bool {
        (self.waiting_retries == 0 || self.ready(request))
            && (self.world.bootstrapping_partitions == 0 || !self.held(id, request))
    }

    /// With a call order that parks calls: whether request `id` may take a
    /// step now (not parked on the network, not held back, ready), and so
    /// belongs in the ready set.
    fn eligible(&self, id: u64, request: &InFlight) -> bool {
        !request.parked && !self.held(id, request) && self.ready(request)
    }

    /// Puts request `id` in the ready set, or takes it out, as it is
    /// eligible now or not (with a call order that parks calls; nothing
    /// otherwise). Called after each change of a request.
    pub(super) fn refresh(&mut self, id: u64) {
        if !self.config.call_order.parks() {
            return;
        }
        if (self.world.in_flight.get(&id)).is_some_and(|r| self.eligible(id, r)) {
            self.ready.insert(id);
        } else {
            self.ready.remove(id);
        }
    }

    /// After the first requests of partition `p` changed: its requests that
    /// were held back and may go now start on the network, and the ready
    /// set follows what is held back.
    pub(super) fn refresh_partition(&mut self, p: usize) {
        if !self.config.call_order.parks() && !self.calls_in_background() {
            return;
        }
        let ids: Vec<u64> = (self.world.in_flight.iter())
            .filter(|(_, r)| r.partition == p)
            .map(|(id, _)| *id)
            .collect();
        for id in ids {
            self.start(id);
            self.refresh(id);
        }
    }

    /// At the first step after a restart: the requests sent again start on
    /// the network now, as the runtime sends them once the job is up
    /// again after its restart delay (a restore from a checkpoint,
    /// `RequestReplyFunction.java` re-sending what it held in flight).
    #[cfg(feature = "http")]
    fn resume_calls(&mut self) {
        if !std::mem::take(&mut self.restarting) {
            return;
        }
        for p in 0..self.config.partitions as usize {
            self.refresh_partition(p);
        }
    }

    /// Before a step, with a call order that parks calls: the calls whose
    /// outcomes arrived are released (taken as they arrive), and requests
    /// whose backoff is over start their next attempt (or, when they may
    /// not, become ready for the step that attempts them).
    fn release(&mut self) {
        #[cfg(feature = "http")]
        if self.config.call_order == CallOrder::Arrival {
            for id in self.network.arrivals() {
                self.unpark(id);
            }
        }
        if self.waiting_retries > 0 {
            let now = self.now;
            let due: Vec<u64> = (self.world.in_flight.iter())
                .filter(|(_, r)| r.ticket.is_none() && r.retry_at.is_some_and(|at| at <= now))
                .map(|(id, _)| *id)
                .collect();
            for id in due {
                self.start(id);
                self.refresh(id);
            }
        }
    }

    /// Releases request `id`'s call on the network.
    fn unpark(&mut self, id: u64) {
        if let Some(request) = self.world.in_flight.get_mut(&id) {
            if request.parked {
                request.parked = false;
                self.parked -= 1;
            }
        }
        self.refresh(id);
    }

    /// With [`CallOrder::Rounds`], when nothing else can be done: every call
    /// parked on the network forms the next round, released in request
    /// order. Which calls a round holds follows from the run alone, never
    /// from timing.
    fn next_round(&mut self) {
        let parked: Vec<u64> = (self.world.in_flight.iter())
            .filter(|(_, r)| r.parked)
            .map(|(id, _)| *id)
            .collect();
        for id in parked {
            self.unpark(id);
        }
    }

    /// Whether partition `p` delivers its next local message now: not while
    /// it is blocked on a first request.
    fn takes_local(&self, p: usize) -> bool {
        !self.world.local[p].is_empty() && !self.bootstrapping(p)
    }

    /// Whether partition `p` takes its next ingress record now: the runtime
    /// drains the messages a partition produced itself before it reads more
    /// input (spec §3.1), and a back-pressured partition reads none (§3.5;
    /// `functions/FunctionGroupOperator.java`, `processElement`), nor one
    /// blocked on a first request.
    fn takes_ingress(&self, p: usize) -> bool {
        !self.world.ingress[p].is_empty() && self.takes_input(p)
    }

    /// Whether partition `p` takes its next message from another partition
    /// now: such a message is input (the feedback channel), held back as
    /// ingress is.
    fn takes_feedback(&self, p: usize) -> bool {
        !self.world.feedback[p].is_empty() && self.takes_input(p)
    }

    /// Whether partition `p` reads input now: its own messages drained,
    /// not back-pressured, not blocked on a first request.
    fn takes_input(&self, p: usize) -> bool {
        self.world.local[p].is_empty() && !self.blocked(p) && !self.bootstrapping(p)
    }

    fn timers_due(&self) -> bool {
        self.world
            .timers
            .next_due()
            .is_some_and(|at| at <= self.now)
    }

    /// The `k`-th possible action, in a fixed order: partitions' local,
    /// feedback (from other partitions) then ingress queues, in-flight
    /// requests by id, then due timers.
    fn action(&self, mut k: usize, deliveries: usize) -> Option<Action> {
        for p in 0..self.world.local.len() {
            if self.takes_local(p) {
                if k == 0 {
                    return Some(Action::DeliverLocal(p));
                }
                k -= 1;
            }
            if self.takes_feedback(p) {
                if k == 0 {
                    return Some(Action::DeliverFeedback(p));
                }
                k -= 1;
            }
            if self.takes_ingress(p) {
                if k == 0 {
                    return Some(Action::DeliverIngress(p));
                }
                k -= 1;
            }
        }
        if self.requests_may_step(deliveries) && self.config.call_order.parks() {
            if let Some(id) = self.ready.get(k) {
                let answered =
                    (self.world.in_flight.get(&id)).is_some_and(|r| r.response.is_some());
                return Some(if answered {
                    Action::Apply(id)
                } else {
                    Action::Call(id)
                });
            }
        } else if self.requests_may_step(deliveries) {
            for (id, request) in &self.world.in_flight {
                if !self.steps_now(*id, request) {
                    continue;
                }
                if k == 0 {
                    return Some(if request.response.is_some() {
                        Action::Apply(*id)
                    } else {
                        Action::Call(*id)
                    });
                }
                k -= 1;
            }
        }
        self.timers_due().then_some(Action::FireTimers)
    }

    /// Takes one step: delivers one message, completes one request, or
    /// fires the timers that are due; which one is the seed's choice.
    /// Returns `false` when there is nothing to do (idle).
    ///
    /// # Errors
    ///
    /// A [`JobFailure`] when the step does something that would fail the
    /// real job.
    pub(crate) async fn step(&mut self) -> Result<bool, JobFailure> {
        let steps = self.world.counters.steps;
        if self.config.plan.checkpoints.remove(&steps) {
            self.checkpoint();
        }
        if self.config.plan.crashes.remove(&steps) {
            self.crash();
        }
        self.check_at_rest()?;
        #[cfg(feature = "http")]
        self.resume_calls();
        if self.config.call_order.parks() {
            self.release();
        }
        let deliveries = self.delivery_count();
        let mut count = self.action_count(deliveries);
        if count == 0 && self.parked > 0 && self.config.call_order == CallOrder::Rounds {
            self.next_round();
            count = self.action_count(deliveries);
        }
        if count == 0 {
            return Ok(false);
        }
        let pick = self.rng.below(count);
        let Some(action) = self.action(pick, deliveries) else {
            return Ok(false);
        };
        self.world.counters.steps += 1;
        match action {
            Action::DeliverLocal(p) => {
                if let Some(envelope) = self.world.local[p].pop_front() {
                    self.deliver(envelope, p)?;
                }
            }
            Action::DeliverFeedback(p) => {
                if let Some(envelope) = self.world.feedback[p].pop_front() {
                    self.deliver(envelope, p)?;
                }
            }
            Action::DeliverIngress(p) => {
                if let Some(envelope) = self.world.ingress[p].pop_front() {
                    self.deliver(envelope, p)?;
                }
            }
            Action::Call(id) => self.call(id).await?,
            Action::Apply(id) => self.complete(id)?,
            Action::FireTimers => {
                for envelope in self.world.timers.take_due(self.now) {
                    if let Some(from) = envelope.from.clone() {
                        self.record(Event::TimerFired {
                            from,
                            to: envelope.to.clone(),
                        });
                    }
                    self.route(envelope);
                }
            }
        }
        self.check_at_rest()?;
        Ok(true)
    }

    /// Puts a message on its target's partition: on its local queue when
    /// its sender is on that partition (the runtime hands it over at once,
    /// `functions/ReusableContext.java`, `thisPartition.contains(to)`; a
    /// delayed message fires on its sender's partition,
    /// `DelayMessageHandler.java`), else on its queue of messages from
    /// other partitions (the feedback channel: input, held back while the
    /// partition is back-pressured).
    pub(super) fn route(&mut self, envelope: Envelope) {
        let sender = envelope.from.as_ref().map(|from| self.index(from));
        self.route_from(envelope, sender);
    }

    /// As [`Engine::route`], for a message whose sender's partition is
    /// known (`None`: no sender), which saves hashing its id again.
    pub(super) fn route_from(&mut self, envelope: Envelope, sender: Option<usize>) {
        let p = self.index(&envelope.to);
        if sender == Some(p) {
            self.world.local[p].push_back(envelope);
        } else {
            self.world.feedback[p].push_back(envelope);
        }
    }

    fn deliver(&mut self, envelope: Envelope, partition: usize) -> Result<(), JobFailure> {
        self.record(Event::Delivered {
            from: envelope.from.clone(),
            to: envelope.to.clone(),
            partition: u32::try_from(partition).unwrap_or(u32::MAX),
        });
        let Some(limit) = self
            .routes
            .get(envelope.to.function_type())
            .map(|r| r.max_batch_requests)
        else {
            let to = &envelope.to;
            return Err(self.fail(
                Some(to),
                None,
                Cause::UnknownFunctionType(to.function_type().to_string()),
            ));
        };
        // One lookup: the address is busy (the message waits), or it takes
        // the next request now.
        let id = self.world.next_request;
        let waiting = match self.world.addresses.entry(envelope.to.clone()) {
            Entry::Occupied(state) if state.get().in_flight.is_some() => {
                let address = state.key().clone();
                let state = state.into_mut();
                state.backlog.push(envelope);
                Ok((address, state.backlog.len()))
            }
            Entry::Occupied(mut state) => {
                state.get_mut().in_flight = Some(id);
                Err(envelope)
            }
            Entry::Vacant(state) => {
                state.insert(AddressState {
                    in_flight: Some(id),
                    backlog: Vec::new(),
                });
                Err(envelope)
            }
        };
        match waiting {
            Ok((address, backlog)) => {
                // Each append at or over the limit blocks the address
                // (`reqreply/RequestReplyFunction.java`, `onRequest`:
                // `awaitAsyncOperationComplete()`).
                if limit > 0 && backlog >= limit {
                    self.world.blocked[partition].insert(address.clone());
                }
                self.world.counters.buffered += 1;
                self.world.counters.max_backlog = self.world.counters.max_backlog.max(backlog);
                self.record(Event::Buffered { address, backlog });
            }
            Err(envelope) => self.dispatch(envelope.to.clone(), vec![envelope]),
        }
        Ok(())
    }

    /// Builds the `ToFunction` for `invocations` with every registered state
    /// of the type (read now, so after-invoke TTLs restart) and puts it in
    /// flight.
    pub(super) fn send_request(&mut self, address: &Address, invocations: Vec<Envelope>) {
        let id = self.world.next_request;
        self.world
            .addresses
            .entry(address.clone())
            .or_default()
            .in_flight = Some(id);
        self.dispatch(address.clone(), invocations);
    }

    /// As [`Engine::send_request`], for an address already marked with the
    /// next request id in flight.
    fn dispatch(&mut self, address: Address, invocations: Vec<Envelope>) {
        let now = self.now;
        let partition = self.index(&address);
        let store = &mut self.world.store;
        let registered = store
            .registry
            .get(partition)
            .and_then(|registry| registry.get(address.function_type()));
        // Expired values go; the others are read now (which restarts an
        // after-invoke TTL).
        let mut expired = Vec::new();
        let mut values = None;
        if let Some(registered) = registered {
            if let Some(all) = store.values.get_mut(&address) {
                for (name, registration) in registered {
                    let Some(value) = all.get_mut(name) else {
                        continue;
                    };
                    if Store::expired(value, registration.ttl, now) {
                        all.remove(name);
                        expired.push(String::from(&**name));
                    } else {
                        value.accessed = now;
                    }
                }
                values = Some(&*all);
            }
        }
        // Per registered state: its name and its value (typename, bytes),
        // gathered once (on the stack, for the usual few states) for the
        // encoder's two passes.
        let values = values.map_or(&[][..], Values::as_slice);
        let mut few = [("", None); FEW_STATES];
        let mut many = Vec::new();
        let states: &[SentState<'_>] = match registered {
            Some(r) if r.len() > FEW_STATES => {
                many.extend(sent_states(r, values));
                &many
            }
            Some(r) => {
                for (slot, state) in few.iter_mut().zip(sent_states(r, values)) {
                    *slot = state;
                }
                &few[..r.len()]
            }
            None => &[],
        };
        let body = protocol::request(&address, states.iter().copied(), &invocations);
        let sent: Vec<String> = states.iter().map(|(name, _)| String::from(*name)).collect();
        for name in expired {
            self.record(Event::Expired {
                address: address.clone(),
                state: name,
            });
        }
        let id = self.world.next_request;
        self.world.next_request += 1;
        self.world.counters.requests += 1;
        self.world.counters.invocations += invocations.len() as u64;
        self.record(Event::RequestSent {
            address: address.clone(),
            batch_size: invocations.len(),
            states: sent,
        });
        // The first request of its type on this partition blocks the
        // partition until it is completed (`RequestReplyFunction`'s
        // `isFirstRequestSent`, per type per subtask).
        let bootstrapped = &mut self.world.bootstrapped[partition];
        let mut blocks = false;
        if !bootstrapped.contains(address.function_type()) {
            bootstrapped.insert(address.function_type().clone());
            let first = &mut self.world.bootstrapping[partition];
            if first.is_empty() {
                self.world.bootstrapping_partitions += 1;
                blocks = true;
            }
            first.push_back(id);
        }
        self.world.pending[partition] += 1;
        self.world.in_flight.insert(
            id,
            InFlight {
                address,
                partition,
                invocations,
                body,
                started: now,
                attempts: 0,
                retry_at: None,
                give_up: None,
                response: None,
                ticket: None,
                parked: false,
            },
        );
        if blocks {
            // The partition's other requests are held back from now on.
            self.refresh_partition(partition);
        } else {
            self.start(id);
            self.refresh(id);
        }
    }

    /// The backlog limit of `address`'s endpoint (0 when it has none).
    pub(super) fn max_batch_requests(&self, address: &Address) -> usize {
        self.routes
            .get(address.function_type())
            .map_or(0, |r| r.max_batch_requests)
    }

    /// The address's request is done: its backlog (all of it, or a cut)
    /// goes out as the next batch, or, with nothing waiting, the address
    /// is idle and forgotten.
    pub(super) fn next_batch(&mut self, address: &Address) {
        let Some(state) = self.world.addresses.get_mut(address) else {
            return;
        };
        state.in_flight = None;
        let waiting = state.backlog.len();
        let take = match self.config.batching {
            _ if waiting == 0 => 0,
            Batching::Natural | Batching::Maximal => waiting,
            Batching::Singleton => 1,
            Batching::RandomCuts => 1 + self.shape_rng.below(waiting),
        };
        if take == 0 {
            self.world.addresses.remove(address);
            return;
        }
        let backlog: Vec<Envelope> = if take == waiting {
            std::mem::take(&mut state.backlog)
        } else {
            state.backlog.drain(..take).collect()
        };
        self.send_request(address, backlog);
    }
}

/// How many states a request gathers on the stack (more take a `Vec`).
const FEW_STATES: usize = 8;

/// The registered states with their values, as a request sends them: both
/// are in name order, so one pass over the values finds them.
fn sent_states<'a>(
    registered: &'a BTreeMap<Name, Registered>,
    values: &'a [(Name, Stored)],
) -> impl Iterator<Item = SentState<'a>> {
    let mut next = 0;
    registered.keys().map(move |name| {
        let value = loop {
            match values.get(next) {
                // Usually the same shared name: equal at a glance.
                Some((n, v)) if n == name => break Some(v),
                Some((n, _)) if n < name => next += 1,
                _ => break None,
            }
        };
        (&**name, value.map(|v| (&*v.type_name, &v.bytes)))
    })
}
