//! The engine: partitions, the per-address request state machine, the
//! handshake, applying responses, timers and TTL, driven one step at a time
//! by a seeded scheduler.

use std::collections::btree_map::Entry;
use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

use bytes::Bytes;
use prost::Message as _;
use statefun_proto::reqreply::FromFunction;
use statefun_proto::reqreply::from_function::{expiration_spec, persisted_value_mutation};
use statefun_sdk::{Address, TypeName};

use crate::clock::Timers;
use crate::decode::{self, Answer, Response, Results};
use crate::encode;
use crate::envelope::Envelope;
use crate::endpoint;
use crate::error::{Cause, JobFailure};
use crate::faults::{self, Fault};
use crate::schedule::Batching;
use crate::store::{Name, Registered, Store, Stored, Ttl, Values};
use crate::trace::{Event, TraceEntry};
use crate::{Counters, EgressKind, EgressRecord, Harness};

/// Per address: the request in flight and the messages waiting for it.
#[derive(Debug, Default, Clone)]
pub(crate) struct AddressState {
    pub(crate) in_flight: Option<u64>,
    pub(crate) backlog: Vec<Envelope>,
}

/// A request on its way: built, being attempted (with retries), or
/// answered and waiting to be applied.
#[derive(Debug, Clone)]
pub(crate) struct InFlight {
    pub(crate) address: Address,
    pub(crate) invocations: Vec<Envelope>,
    pub(crate) body: Bytes,
    /// When the first attempt could start: the call budget counts from here.
    pub(crate) started: Duration,
    /// Failed attempts so far.
    pub(crate) attempts: u32,
    /// After a failed attempt: when the next one may start.
    pub(crate) retry_at: Option<Duration>,
    /// The answer, once it arrived; applied by a later step.
    pub(crate) response: Option<Answer>,
}

/// One thing the scheduler can do next.
#[derive(Debug, Clone, Copy)]
enum Action {
    DeliverLocal(usize),
    DeliverIngress(usize),
    /// Attempt the call of an in-flight request (the function runs).
    Call(u64),
    /// Apply the answer of an in-flight request.
    Apply(u64),
    FireTimers,
}

/// The mutable state of a run.
#[derive(Debug, Default, Clone)]
pub(crate) struct World {
    pub(crate) local: Vec<VecDeque<Envelope>>,
    pub(crate) ingress: Vec<VecDeque<Envelope>>,
    pub(crate) addresses: BTreeMap<Address, AddressState>,
    pub(crate) in_flight: BTreeMap<u64, InFlight>,
    pub(crate) next_request: u64,
    pub(crate) store: Store,
    pub(crate) timers: Timers,
    pub(crate) egress: BTreeMap<String, Vec<EgressRecord>>,
    pub(crate) counters: Counters,
    /// Per partition: addresses whose backlog reached the limit.
    pub(crate) blocked: Vec<usize>,
}

impl World {
    /// What a checkpoint keeps of the world: everything but the state
    /// registry and the answers not yet applied (the restore sends those
    /// requests again). The state values are shared, not copied.
    pub(crate) fn snapshot(&self) -> Self {
        Self {
            local: self.local.clone(),
            ingress: self.ingress.clone(),
            addresses: self.addresses.clone(),
            in_flight: self
                .in_flight
                .iter()
                .map(|(id, r)| {
                    let request = InFlight {
                        address: r.address.clone(),
                        invocations: r.invocations.clone(),
                        body: r.body.clone(),
                        started: r.started,
                        attempts: r.attempts,
                        retry_at: r.retry_at,
                        response: None,
                    };
                    (*id, request)
                })
                .collect(),
            next_request: self.next_request,
            store: Store {
                registry: BTreeMap::new(),
                values: self.store.values.clone(),
            },
            timers: self.timers.clone(),
            egress: self.egress.clone(),
            counters: self.counters,
            blocked: self.blocked.clone(),
        }
    }
}

impl Harness {
    fn fail(&self, address: Option<&Address>, batch: Option<usize>, cause: Cause) -> JobFailure {
        JobFailure::new(self.seed, address.cloned(), batch, cause)
    }

    #[inline]
    pub(crate) fn record(&mut self, event: Event) {
        self.trace.push(TraceEntry {
            at: self.now,
            event,
        });
    }

    /// The partition that owns `address` (by its id only, as Flink does).
    #[must_use]
    pub fn partition_of(&self, address: &Address) -> u32 {
        let group = crate::placement::key_group(address.id(), self.max_parallelism);
        crate::placement::subtask(group, self.parallelism, self.max_parallelism)
    }

    fn index(&self, address: &Address) -> usize {
        self.partition_of(address) as usize
    }

    /// Whether any address on partition `p` has reached
    /// `maxNumBatchRequests` (the whole partition then stops taking input).
    fn blocked(&self, p: usize) -> bool {
        self.world.blocked[p] > 0
    }

    /// Whether an in-flight request can take its next step now: it has an
    /// answer to apply, or its backoff (if any) is over.
    fn ready(&self, request: &InFlight) -> bool {
        request.response.is_some() || request.retry_at.is_none_or(|at| at <= self.now)
    }

    /// Whether in-flight requests may take a step now: with maximal
    /// batches, only when no message can be delivered.
    fn requests_may_step(&self, deliveries: usize) -> bool {
        self.batching != Batching::Maximal || deliveries == 0
    }

    /// How many messages (and due timers) can be delivered now.
    fn delivery_count(&self) -> usize {
        let mut n = usize::from(self.timers_due());
        for p in 0..self.world.local.len() {
            n += usize::from(!self.world.local[p].is_empty());
            n += usize::from(self.takes_ingress(p));
        }
        n
    }

    /// How many actions are possible now, `deliveries` of them deliveries.
    fn action_count(&self, deliveries: usize) -> usize {
        if !self.requests_may_step(deliveries) {
            return deliveries;
        }
        let ready = if self.waiting_retries == 0 {
            self.world.in_flight.len()
        } else {
            self.world
                .in_flight
                .values()
                .filter(|r| self.ready(r))
                .count()
        };
        deliveries + ready
    }

    /// Whether partition `p` takes its next ingress record now: the runtime
    /// drains the messages a partition produced itself before it reads more
    /// input (spec §3.1), and a blocked partition reads none (§3.5).
    fn takes_ingress(&self, p: usize) -> bool {
        !self.world.ingress[p].is_empty() && self.world.local[p].is_empty() && !self.blocked(p)
    }

    fn timers_due(&self) -> bool {
        self.world
            .timers
            .next_due()
            .is_some_and(|at| at <= self.now)
    }

    /// The `k`-th possible action, in a fixed order: partitions' local then
    /// ingress queues, in-flight requests by id, then due timers.
    fn action(&self, mut k: usize, deliveries: usize) -> Option<Action> {
        for p in 0..self.world.local.len() {
            if !self.world.local[p].is_empty() {
                if k == 0 {
                    return Some(Action::DeliverLocal(p));
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
        if self.requests_may_step(deliveries) {
            for (id, request) in &self.world.in_flight {
                if self.waiting_retries != 0 && !self.ready(request) {
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
    pub async fn step(&mut self) -> Result<bool, JobFailure> {
        let steps = self.world.counters.steps;
        if self.plan.checkpoints.remove(&steps) {
            self.checkpoint();
        }
        if self.plan.crashes.remove(&steps) {
            self.crash();
        }
        let deliveries = self.delivery_count();
        let count = self.action_count(deliveries);
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
        Ok(true)
    }

    /// Puts a message on its target's partition queue.
    pub(crate) fn route(&mut self, envelope: Envelope) {
        let p = self.index(&envelope.to);
        self.world.local[p].push_back(envelope);
    }

    fn deliver(&mut self, envelope: Envelope, partition: usize) -> Result<(), JobFailure> {
        self.record(Event::Delivered {
            from: envelope.from.clone(),
            to: envelope.to.clone(),
            partition: u32::try_from(partition).unwrap_or(u32::MAX),
        });
        let Some(limit) = self
            .endpoint_for(envelope.to.function_type())
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
                if limit > 0 && backlog == limit {
                    self.world.blocked[partition] += 1;
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
    pub(crate) fn send_request(&mut self, address: &Address, invocations: Vec<Envelope>) {
        let id = self.world.next_request;
        self.world
            .addresses
            .entry(address.clone())
            .or_default()
            .in_flight = Some(id);
        self.dispatch(address.clone(), invocations);
    }

    /// As [`Harness::send_request`], for an address already marked with the
    /// next request id in flight.
    fn dispatch(&mut self, address: Address, invocations: Vec<Envelope>) {
        let now = self.now;
        let store = &mut self.world.store;
        let registered = store.registry.get(address.function_type().as_str());
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
        let states: &[encode::SentState<'_>] = match registered {
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
        let body = encode::to_function(
            &address,
            states.iter().copied(),
            invocations
                .iter()
                .map(|e| (e.from.as_ref(), e.type_name.as_str(), e.value.as_ref())),
        );
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
        self.world.in_flight.insert(
            id,
            InFlight {
                address,
                invocations,
                body,
                started: now,
                attempts: 0,
                retry_at: None,
                response: None,
            },
        );
    }

    /// One attempt at an in-flight request: the function runs (unless an
    /// injected fault stops the call first) and its answer is kept for a
    /// later step to apply; a failed attempt is retried after a backoff, or
    /// fails the job when the call budget is spent (spec §2.3).
    async fn call(&mut self, id: u64) -> Result<(), JobFailure> {
        let Some(request) = self.world.in_flight.get_mut(&id) else {
            return Ok(());
        };
        if request.retry_at.take().is_some() {
            self.waiting_retries -= 1;
        }
        let address = request.address.clone();
        let body = request.body.clone();
        let batch = request.invocations.len();
        #[cfg(feature = "http")]
        let request_started = request.started;
        // Borrowed from the endpoint tables alone, so the fault can be drawn
        // and the call made without a copy of the route.
        let Some(route) = crate::route_in(&self.exact, &self.namespaces, address.function_type())
        else {
            self.drop_request(id);
            return Err(self.fail(
                Some(&address),
                Some(batch),
                Cause::UnknownFunctionType(address.function_type().to_string()),
            ));
        };
        let fault = self.faults.draw(&mut self.fault_rng);
        // One budget covers every attempt: a remote attempt may take what
        // is left of it (at least 10 ms), in wall-clock time.
        #[cfg(feature = "http")]
        let left = route
            .call_budget
            .saturating_sub(self.now.saturating_sub(request_started))
            .max(Duration::from_millis(10));
        let mut timed_out = fault == Some(Fault::Timeout);
        let outcome = if fault.is_some_and(|f| !f.runs_function()) {
            Err(None)
        } else {
            let answer = route
                .endpoint
                .call(
                    address.function_type().name(),
                    body,
                    #[cfg(feature = "http")]
                    &self.client,
                    #[cfg(feature = "http")]
                    left,
                )
                .await;
            match answer {
                _ if fault.is_some() => Err(None),
                Err(e) if e.url == endpoint::IN_PROCESS => {
                    Err(Some(Cause::FunctionFailed(e.reason)))
                }
                Err(e) => {
                    timed_out |= e.timed_out;
                    Err(Some(Cause::Transport {
                        url: e.url,
                        reason: e.reason,
                    }))
                }
                Ok(bytes) => match decode::from_function(&bytes) {
                    Ok(response) => Ok(Answer::new(bytes, response)),
                    Err(e) => Err(Some(malformed(bytes, e))),
                },
            }
        };
        match outcome {
            Ok(response) => {
                if let Some(request) = self.world.in_flight.get_mut(&id) {
                    request.response = Some(response);
                }
                self.record(Event::Answered { address });
                Ok(())
            }
            Err(cause) => {
                let cause = cause.unwrap_or_else(|| Cause::Transport {
                    url: route.endpoint.describe(address.function_type().name()),
                    reason: fault.map(|f| f.reason()).unwrap_or_default().to_owned(),
                });
                self.attempt_failed(id, cause, timed_out)
            }
        }
    }

    /// Retries a failed attempt after the runtime's backoff, or fails the
    /// job when the budget is spent; a timeout waits out the whole budget.
    fn attempt_failed(&mut self, id: u64, cause: Cause, timed_out: bool) -> Result<(), JobFailure> {
        let now = self.now;
        let Some(request) = self.world.in_flight.get(&id) else {
            return Ok(());
        };
        let budget = self.call_budget(&request.address);
        let Some(request) = self.world.in_flight.get_mut(&id) else {
            return Ok(());
        };
        request.attempts += 1;
        let attempts = request.attempts;
        let address = request.address.clone();
        let batch = request.invocations.len();
        let elapsed = if timed_out {
            budget
        } else {
            now.saturating_sub(request.started)
        };
        if let Some(wait) = faults::backoff(attempts, elapsed, budget) {
            request.retry_at = Some(now.saturating_add(wait));
            self.waiting_retries += 1;
            self.world.counters.failed_attempts += 1;
            self.record(Event::AttemptFailed {
                address,
                attempt: attempts,
                reason: cause.to_string(),
                retry_in: Some(wait),
            });
            return Ok(());
        }
        let started = request.started;
        self.world.counters.failed_attempts += 1;
        self.drop_request(id);
        if timed_out {
            self.now = self.now.max(started.saturating_add(budget));
        }
        self.record(Event::AttemptFailed {
            address: address.clone(),
            attempt: attempts,
            reason: cause.to_string(),
            retry_in: None,
        });
        Err(self
            .fail(Some(&address), Some(batch), cause)
            .after_attempts(attempts))
    }

    /// Forgets a request that failed the job: its address has nothing in
    /// flight any more (`crash()` sends the batch again from a checkpoint).
    fn drop_request(&mut self, id: u64) {
        if let Some(request) = self.world.in_flight.remove(&id) {
            if let Some(state) = self.world.addresses.get_mut(&request.address) {
                state.in_flight = None;
                if state.backlog.is_empty() {
                    self.world.addresses.remove(&request.address);
                }
            }
        }
    }

    /// Applies the answer of an in-flight request: the handshake (and the
    /// same invocations again), or the invocation result and the next batch.
    fn complete(&mut self, id: u64) -> Result<(), JobFailure> {
        let Some(request) = self.world.in_flight.remove(&id) else {
            return Ok(());
        };
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
        let answer = request
            .response
            .unwrap_or_else(|| Answer::new(Bytes::new(), None));
        match &answer.response {
            Some(Response::Incomplete(missing)) => {
                self.register(&address, batch, &answer, missing)?;
                // The same invocations again, now with the new state.
                self.send_request(&address, request.invocations);
                Ok(())
            }
            Some(Response::Result(results)) => {
                self.apply(&address, batch, &answer, results)?;
                if waiting {
                    self.next_batch(&address);
                }
                Ok(())
            }
            None => {
                self.apply(&address, batch, &answer, &Results::default())?;
                if waiting {
                    self.next_batch(&address);
                }
                Ok(())
            }
        }
    }

    /// The backlog limit of `address`'s endpoint (0 when it has none).
    pub(crate) fn max_batch_requests(&self, address: &Address) -> usize {
        self.endpoint_for(address.function_type())
            .map_or(0, |r| r.max_batch_requests)
    }

    /// The call budget of `address`'s endpoint.
    fn call_budget(&self, address: &Address) -> Duration {
        self.endpoint_for(address.function_type())
            .map_or(Duration::ZERO, |r| r.call_budget)
    }

    /// The address's request is done: its backlog (all of it, or a cut)
    /// goes out as the next batch, or, with nothing waiting, the address
    /// is idle and forgotten.
    pub(crate) fn next_batch(&mut self, address: &Address) {
        let p = self.index(address);
        let limit = self.max_batch_requests(address);
        let Some(state) = self.world.addresses.get_mut(address) else {
            return;
        };
        state.in_flight = None;
        let waiting = state.backlog.len();
        let take = match self.batching {
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
        if limit > 0 && waiting >= limit && waiting - take < limit {
            self.world.blocked[p] -= 1;
        }
        self.send_request(address, backlog);
    }

    fn register(
        &mut self,
        address: &Address,
        batch: usize,
        answer: &Answer,
        specs: &[decode::MissingValue],
    ) -> Result<(), JobFailure> {
        let function_type = address.function_type().as_str().to_owned();
        for spec in specs {
            let state_name = answer.str(spec.state_name);
            let type_name = match answer.str(spec.type_typename) {
                "" => "io.statefun.types/unset",
                t => t,
            };
            let ttl = match &spec.expiration_spec {
                Some(e) => {
                    let d =
                        Duration::from_millis(u64::try_from(e.expire_after_millis).unwrap_or(0));
                    // An unknown mode reads as the default, as prost reads it.
                    match expiration_spec::ExpireMode::try_from(e.mode).unwrap_or_default() {
                        expiration_spec::ExpireMode::AfterWrite => Ttl::AfterWrite(d),
                        expiration_spec::ExpireMode::AfterInvoke => Ttl::AfterInvoke(d),
                        expiration_spec::ExpireMode::None => Ttl::Never,
                    }
                }
                None => Ttl::Never,
            };
            let states = self
                .world
                .store
                .registry
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
                None => {
                    states.insert(
                        Name::from(state_name),
                        Registered {
                            type_name: Name::from(type_name),
                            ttl,
                        },
                    );
                    self.known_ttls
                        .insert((function_type.clone(), state_name.to_owned()), ttl);
                }
            }
        }
        self.world.counters.handshakes += 1;
        let registered = self
            .world
            .store
            .registry
            .get(&function_type)
            .map(|s| s.keys().map(ToString::to_string).collect())
            .unwrap_or_default();
        self.record(Event::Handshake {
            address: address.clone(),
            registered,
        });
        Ok(())
    }

    fn apply(
        &mut self,
        address: &Address,
        batch: usize,
        answer: &Answer,
        result: &Results,
    ) -> Result<(), JobFailure> {
        self.record(Event::Applied {
            address: address.clone(),
            messages: result.outgoing_messages().count(),
            delayed: result.delayed_invocations().count(),
            egress: result.outgoing_egresses().count(),
        });
        // 1. Outgoing messages, in order.
        for message in result.outgoing_messages() {
            let envelope =
                self.envelope(address, batch, answer, message.target, message.argument)?;
            self.route(envelope);
        }
        // 2. Delayed messages and cancellations, in order.
        for delayed in result.delayed_invocations() {
            let token = answer.str(delayed.cancellation_token);
            if delayed.is_cancellation_request {
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
            let envelope =
                self.envelope(address, batch, answer, delayed.target, delayed.argument)?;
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
        for egress in result.outgoing_egresses() {
            let id = format!(
                "{}/{}",
                answer.str(egress.egress_namespace),
                answer.str(egress.egress_type)
            );
            let argument = egress.argument.unwrap_or_default();
            let type_name = answer.str(argument.typename);
            let Some(kind) = self.egresses.get(&id).copied() else {
                return Err(self.fail(Some(address), Some(batch), Cause::UnknownEgress(id)));
            };
            if let Some(expected) = kind.required_type() {
                if type_name != expected {
                    let cause = Cause::EgressTypeMismatch {
                        egress: id,
                        expected: expected.to_owned(),
                        actual: type_name.to_owned(),
                    };
                    return Err(self.fail(Some(address), Some(batch), cause));
                }
            }
            self.record(Event::Egress {
                egress: id.clone(),
                type_name: type_name.to_owned(),
            });
            self.world.counters.egress += 1;
            self.world.egress.entry(id).or_default().push(EgressRecord {
                type_name: type_name.to_owned(),
                value: answer.bytes(argument.value),
            });
        }
        // 4. State mutations, in order (later ones win).
        let function_type = address.function_type().as_str();
        for mutation in result.state_mutations() {
            let state_name = answer.str(mutation.state_name);
            let Some((name, registered)) = self
                .world
                .store
                .registry
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
            match persisted_value_mutation::MutationType::try_from(mutation.mutation_type) {
                Ok(persisted_value_mutation::MutationType::Delete) => {
                    if let Some(values) = self.world.store.values.get_mut(address) {
                        values.remove(&name);
                    }
                    self.record(Event::StateChanged {
                        address: address.clone(),
                        state: String::from(&*name),
                        modified: false,
                    });
                }
                Ok(persisted_value_mutation::MutationType::Modify) => {
                    let value = mutation.state_value.unwrap_or_default();
                    if answer.slice(value.typename) != registered.as_bytes() {
                        let cause = Cause::ModifyTypeMismatch {
                            state: state_name.to_owned(),
                            registered: registered.to_string(),
                            written: answer.str(value.typename).to_owned(),
                        };
                        return Err(self.fail(Some(address), Some(batch), cause));
                    }
                    let stored = Stored {
                        // The registered typename, which it equals.
                        type_name: registered,
                        bytes: answer.bytes(value.value),
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
                Err(_) => {
                    return Err(self.fail(
                        Some(address),
                        Some(batch),
                        Cause::UnknownMutationType(mutation.mutation_type),
                    ));
                }
            }
        }
        Ok(())
    }

    fn envelope(
        &self,
        from: &Address,
        batch: usize,
        answer: &Answer,
        target: Option<decode::Address>,
        argument: Option<decode::TypedValue>,
    ) -> Result<Envelope, JobFailure> {
        let target = target.unwrap_or_default();
        let (namespace, name, id) = (
            answer.str(target.namespace),
            answer.str(target.function_type),
            answer.str(target.id),
        );
        let Ok(function_type) = TypeName::new(namespace, name) else {
            let shown = format!("{namespace}/{name}:{id}");
            return Err(self.fail(Some(from), Some(batch), Cause::InvalidAddress(shown)));
        };
        let argument = argument.unwrap_or_default();
        Ok(Envelope {
            from: Some(from.clone()),
            to: Address::new(function_type, id),
            type_name: answer.str(argument.typename).to_owned(),
            value: argument.has_value.then(|| answer.bytes(argument.value)),
        })
    }
}

/// How many states a request gathers on the stack (more take a `Vec`).
const FEW_STATES: usize = 8;

/// The registered states with their values, as a request sends them: both
/// are in name order, so one pass over the values finds them.
fn sent_states<'a>(
    registered: &'a BTreeMap<Name, Registered>,
    values: &'a [(Name, Stored)],
) -> impl Iterator<Item = encode::SentState<'a>> {
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

/// The failure of an answer that is not a `FromFunction`, in prost's words
/// (as the trace has always shown it); ours when prost reads it (never, as
/// the decoder's tests check).
fn malformed(body: Bytes, error: decode::DecodeError) -> Cause {
    let text = FromFunction::decode(body).map_or_else(|e| e.to_string(), |_| error.to_string());
    Cause::MalformedResponse(text)
}

impl EgressKind {
    fn required_type(self) -> Option<&'static str> {
        match self {
            Self::Generic => None,
            Self::Kafka => Some("type.googleapis.com/io.statefun.sdk.egress.KafkaProducerRecord"),
            Self::Kinesis => Some("type.googleapis.com/io.statefun.sdk.egress.KinesisEgressRecord"),
        }
    }
}
