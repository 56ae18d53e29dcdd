//! The engine: partitions, the per-address request state machine, the
//! handshake, applying responses, timers and TTL, driven one step at a time
//! by a seeded scheduler.

use std::collections::btree_map::Entry;
use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use prost::Message as _;
use statefun_proto::reqreply::from_function::{self, expiration_spec, persisted_value_mutation};
use statefun_proto::reqreply::{self as wire, FromFunction};
use statefun_sdk::{Address, TypeName};

use crate::clock::Timers;
use crate::encode;
use crate::endpoint;
use crate::error::{Cause, JobFailure};
use crate::faults::{self, Fault};
use crate::schedule::Batching;
use crate::store::{Name, Registered, Store, Stored, Ttl, Values};
use crate::trace::{Event, TraceEntry};
use crate::{Counters, EgressKind, EgressRecord, Harness};

/// A message on its way: from (`None` for ingress), to, and the value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Envelope {
    pub(crate) from: Option<Address>,
    pub(crate) to: Address,
    pub(crate) type_name: String,
    pub(crate) value: Option<Bytes>,
}

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
    pub(crate) response: Option<FromFunction>,
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
                values: Arc::clone(&self.store.values),
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

    /// How many actions are possible now.
    fn action_count(&self) -> usize {
        let deliveries = self.delivery_count();
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
    fn action(&self, mut k: usize) -> Option<Action> {
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
        if self.requests_may_step(self.delivery_count()) {
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
        let count = self.action_count();
        if count == 0 {
            return Ok(false);
        }
        let pick = self.rng.below(count);
        let Some(action) = self.action(pick) else {
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
        match self.world.addresses.get_mut(&envelope.to) {
            Some(state) if state.in_flight.is_some() => {
                let address = envelope.to.clone();
                state.backlog.push(envelope);
                let backlog = state.backlog.len();
                if limit > 0 && backlog == limit {
                    self.world.blocked[partition] += 1;
                }
                self.world.counters.buffered += 1;
                self.world.counters.max_backlog = self.world.counters.max_backlog.max(backlog);
                self.record(Event::Buffered { address, backlog });
            }
            _ => {
                let to = envelope.to.clone();
                self.send_request(&to, vec![envelope]);
            }
        }
        Ok(())
    }

    /// Builds the `ToFunction` for `invocations` with every registered state
    /// of the type (read now, so after-invoke TTLs restart) and puts it in
    /// flight.
    pub(crate) fn send_request(&mut self, address: &Address, invocations: Vec<Envelope>) {
        let now = self.now;
        let store = &mut self.world.store;
        // Per registered state: its name and its value (typename, bytes).
        let mut states: Vec<(Name, Option<(Name, Bytes)>)> = Vec::new();
        let mut expired = Vec::new();
        if let Some(registered) = store.registry.get(address.function_type().as_str()) {
            states.reserve_exact(registered.len());
            let mut values = Arc::make_mut(&mut store.values).get_mut(address);
            for (name, registration) in registered {
                let value = values.as_mut().and_then(|values| {
                    let v = values.get_mut(name)?;
                    if Store::expired(v, registration.ttl, now) {
                        values.remove(name);
                        expired.push(name.to_string());
                        return None;
                    }
                    v.accessed = now;
                    Some((Name::clone(&v.type_name), v.bytes.clone()))
                });
                states.push((Name::clone(name), value));
            }
        }
        for name in expired {
            self.record(Event::Expired {
                address: address.clone(),
                state: name,
            });
        }
        let body = encode::to_function(
            address,
            states
                .iter()
                .map(|(name, value)| (&**name, value.as_ref().map(|(t, b)| (&**t, b)))),
            invocations
                .iter()
                .map(|e| (e.from.as_ref(), e.type_name.as_str(), e.value.as_ref())),
        );
        let id = self.world.next_request;
        self.world.next_request += 1;
        self.world.counters.requests += 1;
        self.world.counters.invocations += invocations.len() as u64;
        self.record(Event::RequestSent {
            address: address.clone(),
            batch_size: invocations.len(),
            states: states.iter().map(|(name, _)| name.to_string()).collect(),
        });
        self.world
            .addresses
            .entry(address.clone())
            .or_default()
            .in_flight = Some(id);
        self.world.in_flight.insert(
            id,
            InFlight {
                address: address.clone(),
                invocations,
                body,
                started: self.now,
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
        let Some(route) = self.endpoint_for(address.function_type()).cloned() else {
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
                Ok(bytes) => FromFunction::decode(bytes)
                    .map_err(|e| Some(Cause::MalformedResponse(e.to_string()))),
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
        let response = request.response.and_then(|r| r.response);
        match response {
            Some(from_function::Response::IncompleteInvocationContext(context)) => {
                self.register(&address, batch, &context.missing_values)?;
                // The same invocations again, now with the new state.
                self.send_request(&address, request.invocations);
                Ok(())
            }
            Some(from_function::Response::InvocationResult(result)) => {
                self.apply(&address, batch, result)?;
                if waiting {
                    self.next_batch(&address);
                }
                Ok(())
            }
            None => {
                self.apply(
                    &address,
                    batch,
                    from_function::InvocationResponse::default(),
                )?;
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
        specs: &[from_function::PersistedValueSpec],
    ) -> Result<(), JobFailure> {
        let function_type = address.function_type().as_str().to_owned();
        for spec in specs {
            let type_name = if spec.type_typename.is_empty() {
                "io.statefun.types/unset".to_owned()
            } else {
                spec.type_typename.clone()
            };
            let ttl = match &spec.expiration_spec {
                Some(e) => {
                    let d =
                        Duration::from_millis(u64::try_from(e.expire_after_millis).unwrap_or(0));
                    match e.mode() {
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
            match states.get(spec.state_name.as_str()) {
                Some(existing) if *existing.type_name != *type_name => {
                    let cause = Cause::StateTypeChanged {
                        state: spec.state_name.clone(),
                        previous: existing.type_name.to_string(),
                        new: type_name,
                    };
                    return Err(self.fail(Some(address), Some(batch), cause));
                }
                // A changed TTL is ignored until the next restart.
                Some(_) => {}
                None => {
                    states.insert(
                        Name::from(spec.state_name.as_str()),
                        Registered {
                            type_name: Name::from(type_name),
                            ttl,
                        },
                    );
                    self.known_ttls
                        .insert((function_type.clone(), spec.state_name.clone()), ttl);
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
        result: from_function::InvocationResponse,
    ) -> Result<(), JobFailure> {
        self.record(Event::Applied {
            address: address.clone(),
            messages: result.outgoing_messages.len(),
            delayed: result.delayed_invocations.len(),
            egress: result.outgoing_egresses.len(),
        });
        // 1. Outgoing messages, in order.
        for message in result.outgoing_messages {
            let envelope = self.envelope(address, batch, message.target, message.argument)?;
            self.route(envelope);
        }
        // 2. Delayed messages and cancellations, in order.
        for delayed in result.delayed_invocations {
            if delayed.is_cancellation_request {
                if delayed.cancellation_token.is_empty() {
                    return Err(self.fail(
                        Some(address),
                        Some(batch),
                        Cause::EmptyCancellationToken,
                    ));
                }
                let found = self
                    .world
                    .timers
                    .cancel(address.id(), &delayed.cancellation_token);
                self.record(Event::TimerCancelled {
                    id: address.id().to_owned(),
                    token: delayed.cancellation_token,
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
            let envelope = self.envelope(address, batch, delayed.target, delayed.argument)?;
            let at = self.now.saturating_add(Duration::from_millis(delay));
            let token =
                (!delayed.cancellation_token.is_empty()).then_some(delayed.cancellation_token);
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
        for egress in result.outgoing_egresses {
            let id = format!("{}/{}", egress.egress_namespace, egress.egress_type);
            let argument = egress.argument.unwrap_or_default();
            let Some(kind) = self.egresses.get(&id).copied() else {
                return Err(self.fail(Some(address), Some(batch), Cause::UnknownEgress(id)));
            };
            if let Some(expected) = kind.required_type() {
                if argument.typename != expected {
                    let cause = Cause::EgressTypeMismatch {
                        egress: id,
                        expected: expected.to_owned(),
                        actual: argument.typename,
                    };
                    return Err(self.fail(Some(address), Some(batch), cause));
                }
            }
            self.record(Event::Egress {
                egress: id.clone(),
                type_name: argument.typename.clone(),
            });
            self.world.counters.egress += 1;
            self.world.egress.entry(id).or_default().push(EgressRecord {
                type_name: argument.typename,
                value: argument.value,
            });
        }
        // 4. State mutations, in order (later ones win).
        let function_type = address.function_type().as_str();
        for mutation in result.state_mutations {
            let Some((name, registered)) = self
                .world
                .store
                .registry
                .get(function_type)
                .and_then(|s| s.get_key_value(mutation.state_name.as_str()))
                .map(|(name, r)| (Name::clone(name), Name::clone(&r.type_name)))
            else {
                return Err(self.fail(
                    Some(address),
                    Some(batch),
                    Cause::UnregisteredState(mutation.state_name),
                ));
            };
            match persisted_value_mutation::MutationType::try_from(mutation.mutation_type) {
                Ok(persisted_value_mutation::MutationType::Delete) => {
                    if let Some(values) = self.world.store.values_mut().get_mut(address) {
                        values.remove(&name);
                    }
                    self.record(Event::StateChanged {
                        address: address.clone(),
                        state: mutation.state_name,
                        modified: false,
                    });
                }
                Ok(persisted_value_mutation::MutationType::Modify) => {
                    let value = mutation.state_value.unwrap_or_default();
                    if *value.typename != *registered {
                        let cause = Cause::ModifyTypeMismatch {
                            state: mutation.state_name,
                            registered: registered.to_string(),
                            written: value.typename,
                        };
                        return Err(self.fail(Some(address), Some(batch), cause));
                    }
                    let stored = Stored {
                        // The registered typename, which it equals.
                        type_name: registered,
                        bytes: value.value,
                        written: self.now,
                        accessed: self.now,
                    };
                    let values = self.world.store.values_mut();
                    match values.get_mut(address) {
                        Some(values) => values.insert(&name, stored),
                        None => {
                            let mut fresh = Values::default();
                            fresh.insert(&name, stored);
                            values.insert(address.clone(), fresh);
                        }
                    }
                    self.record(Event::StateChanged {
                        address: address.clone(),
                        state: mutation.state_name,
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
        target: Option<wire::Address>,
        argument: Option<wire::TypedValue>,
    ) -> Result<Envelope, JobFailure> {
        let target = target.unwrap_or_default();
        let Ok(function_type) = TypeName::new(&target.namespace, &target.r#type) else {
            let shown = format!("{}/{}:{}", target.namespace, target.r#type, target.id);
            return Err(self.fail(Some(from), Some(batch), Cause::InvalidAddress(shown)));
        };
        let argument = argument.unwrap_or_default();
        Ok(Envelope {
            from: Some(from.clone()),
            to: Address::new(function_type, target.id),
            type_name: argument.typename,
            value: argument.has_value.then_some(argument.value),
        })
    }
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
