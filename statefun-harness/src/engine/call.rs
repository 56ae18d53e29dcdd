//! Calling: one attempt at an in-flight request (the function runs, or an
//! injected fault stops it), and the runtime's retries with backoff on the
//! virtual clock until the call budget is spent (spec §2.3).

use std::time::Duration;

use stateful_functions::Address;

use super::Engine;
use super::protocol::Answer;
use crate::endpoint::{self, CallResult};
use crate::error::{Cause, JobFailure};
use crate::faults::{self, Backoff, Fault};
use crate::trace::Event;
use crate::transport::{Failure, Transport};

impl Engine {
    /// One attempt at an in-flight request: the function runs (unless an
    /// injected fault stops the call first) and its answer is kept for a
    /// later step to apply; a failed attempt is retried after a backoff, or
    /// fails the job when the call budget is spent (spec §2.3). An attempt
    /// started on the network in the background is waited for here (its
    /// outcome may have arrived already).
    pub(super) async fn call(&mut self, id: u64) -> Result<(), JobFailure> {
        #[cfg(feature = "http")]
        if let Some(ticket) = self.world.in_flight.get(&id).and_then(|r| r.ticket) {
            // Nothing is changed before the outcome is in: dropping this
            // future (a driver stopping) leaves the request as it was.
            let answer = self.network.take(ticket).await;
            if let Some(request) = self.world.in_flight.get_mut(&id) {
                request.ticket = None;
            }
            let answer = answer.unwrap_or_else(|| {
                Err(endpoint::CallError {
                    url: String::new(),
                    reason: "the attempt was dropped".to_owned(),
                    failure: Failure::Io,
                })
            });
            let Some(request) = self.world.in_flight.get(&id) else {
                return Ok(());
            };
            let address = request.address.clone();
            let transport = (self.routes.get(address.function_type())).map(|r| r.transport);
            return self.attempted(
                id,
                address,
                transport.unwrap_or_default(),
                None,
                Some(answer),
            );
        }
        let Some(request) = self.world.in_flight.get_mut(&id) else {
            return Ok(());
        };
        if request.retry_at.take().is_some() {
            self.waiting_retries -= 1;
        }
        let address = request.address.clone();
        let batch = request.invocations.len();
        // The last backoff ended at the deadline: no further attempt.
        if let Some(cause) = request.give_up.take() {
            let attempts = request.attempts;
            self.drop_request(id);
            return Err(self
                .fail(Some(&address), Some(batch), *cause)
                .after_attempts(attempts));
        }
        let body = request.body.clone();
        #[cfg(feature = "http")]
        let request_started = request.started;
        // Borrowed from the endpoint tables alone, so the fault can be drawn
        // and the call made without a copy of the route.
        let Some(route) = self.routes.get(address.function_type()) else {
            self.drop_request(id);
            return Err(self.fail(
                Some(&address),
                Some(batch),
                Cause::UnknownFunctionType(address.function_type().to_string()),
            ));
        };
        let fault = self.config.faults.draw(&mut self.fault_rng);
        // One budget covers every attempt: a remote attempt may take what
        // is left of it (at least 10 ms), in wall-clock time.
        #[cfg(feature = "http")]
        let left = route
            .call_budget
            .saturating_sub(self.now.saturating_sub(request_started))
            .max(Duration::from_millis(10));
        let transport = route.transport;
        let answer = if fault.is_some_and(|f| !f.runs_function()) {
            None
        } else {
            #[cfg(feature = "http")]
            let pool = if matches!(route.endpoint, crate::Endpoint::Http(_)) {
                self.network.pool(
                    address.function_type(),
                    route.pool_size,
                    route.connect_timeout,
                )
            } else {
                None
            };
            Some(
                route
                    .endpoint
                    .call(
                        address.function_type().name(),
                        body,
                        #[cfg(feature = "http")]
                        self.network.client(route.connect_timeout),
                        #[cfg(feature = "http")]
                        route.transport,
                        #[cfg(feature = "http")]
                        route.payload_max_bytes,
                        #[cfg(feature = "http")]
                        left,
                        #[cfg(feature = "http")]
                        pool,
                    )
                    .await,
            )
        };
        self.attempted(id, address, transport, fault, answer)
    }

    /// Starts the next attempt of request `id` on the network, in the
    /// background, when it is a remote call that may go now: not held back
    /// by a first request on its partition, no backoff left to wait out
    /// (with [`CallOrder::Scheduled`](crate::CallOrder::Scheduled), only
    /// first attempts: retries are made at their step), and no faults
    /// injected (their draws follow the steps). With a call order that
    /// parks calls, the request then waits to be released before a step
    /// may take it.
    pub(super) fn start(&mut self, id: u64) {
        #[cfg(feature = "http")]
        {
            use super::network::RemoteCall;
            if !self.background || self.restarting {
                return;
            }
            let now = self.now;
            let parks = self.config.call_order.parks();
            let Some(request) = self.world.in_flight.get(&id) else {
                return;
            };
            let retry = match request.retry_at {
                None => false,
                Some(at) if parks && at <= now => true,
                Some(_) => return,
            };
            if request.ticket.is_some()
                || request.response.is_some()
                || request.give_up.is_some()
                || self.held(id, request)
            {
                return;
            }
            let function_type = request.address.function_type();
            let Some(route) = self.routes.get(function_type) else {
                return;
            };
            let crate::Endpoint::Http(template) = &route.endpoint else {
                return;
            };
            let call = RemoteCall {
                function_type: function_type.clone(),
                url: template.replace("{function.name}", function_type.name()),
                body: request.body.clone(),
                transport: route.transport,
                payload_max_bytes: route.payload_max_bytes,
                timeout: route
                    .call_budget
                    .saturating_sub(now.saturating_sub(request.started))
                    .max(Duration::from_millis(10)),
                pool_size: route.pool_size,
                connect_timeout: route.connect_timeout,
            };
            let ticket = self.network.start(id, call);
            if retry {
                self.waiting_retries -= 1;
            }
            if let Some(request) = self.world.in_flight.get_mut(&id) {
                request.retry_at = None;
                request.ticket = Some(ticket);
                if parks {
                    request.parked = true;
                    self.parked += 1;
                }
            }
        }
        #[cfg(not(feature = "http"))]
        let _ = id;
    }

    /// The outcome of an attempt at request `id` to `address` over
    /// `transport`: `answer`, what the call gave (`None` when an injected
    /// fault stopped it before the function ran); `fault`, an injected
    /// fault, which fails the attempt whatever the answer. An answer is kept
    /// for a later step to apply; a failure is retried or fails the job.
    #[inline]
    fn attempted(
        &mut self,
        id: u64,
        address: Address,
        transport: Transport,
        fault: Option<Fault>,
        answer: Option<CallResult>,
    ) -> Result<(), JobFailure> {
        let outcome = match answer {
            _ if fault.is_some() => Err((None, fault.map_or(Failure::Io, Fault::failure))),
            None => Err((None, Failure::Io)),
            Some(Err(e)) if e.url == endpoint::IN_PROCESS => {
                Err((Some(Cause::FunctionFailed(e.reason)), e.failure))
            }
            Some(Err(e)) => Err((
                Some(Cause::Transport {
                    url: e.url,
                    reason: e.reason,
                }),
                e.failure,
            )),
            Some(Ok(bytes)) => Answer::read(bytes).map_err(|c| (Some(c), Failure::Malformed)),
        };
        match outcome {
            Ok(response) => {
                if let Some(request) = self.world.in_flight.get_mut(&id) {
                    request.response = Some(response);
                }
                self.record(Event::Answered { address });
                self.refresh(id);
                Ok(())
            }
            Err((cause, failure)) => {
                let cause = cause.unwrap_or_else(|| Cause::Transport {
                    url: (self.routes.get(address.function_type()))
                        .map(|r| r.endpoint.describe(address.function_type().name()))
                        .unwrap_or_default(),
                    reason: fault.map(|f| f.reason()).unwrap_or_default().to_owned(),
                });
                let result = self.attempt_failed(id, cause, failure, transport);
                self.refresh(id);
                result
            }
        }
    }

    /// Retries a failed attempt after the transport's backoff, or fails the
    /// job when the transport does not retry the failure or the budget is
    /// spent; a timeout waits out the whole budget.
    fn attempt_failed(
        &mut self,
        id: u64,
        cause: Cause,
        failure: Failure,
        transport: Transport,
    ) -> Result<(), JobFailure> {
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
        let timed_out = failure == Failure::Timeout;
        let elapsed = if timed_out {
            budget
        } else {
            now.saturating_sub(request.started)
        };
        let started = request.started;
        self.world.counters.failed_attempts += 1;
        let retried = transport.retries(failure);
        let wait = if retried {
            match faults::backoff(transport, attempts, elapsed, budget) {
                Backoff::Retry(wait) => {
                    request.retry_at = Some(now.saturating_add(wait));
                    self.waiting_retries += 1;
                    self.record(Event::AttemptFailed {
                        address,
                        attempt: attempts,
                        reason: cause.to_string(),
                        retry_in: Some(wait),
                    });
                    return Ok(());
                }
                Backoff::FailAfter(wait) => wait,
            }
        } else {
            Duration::ZERO
        };
        self.record(Event::AttemptFailed {
            address: address.clone(),
            attempt: attempts,
            reason: cause.to_string(),
            retry_in: None,
        });
        if wait > Duration::ZERO {
            // The runtime sleeps out the capped backoff, then fails: other
            // work goes on meanwhile, and the job fails at the deadline.
            if let Some(request) = self.world.in_flight.get_mut(&id) {
                request.retry_at = Some(now.saturating_add(wait));
                request.give_up = Some(Box::new(cause));
                self.waiting_retries += 1;
            }
            return Ok(());
        }
        self.drop_request(id);
        if timed_out {
            self.now = self.now.max(started.saturating_add(budget));
        }
        let failed = self
            .fail(Some(&address), Some(batch), cause)
            .after_attempts(attempts);
        Err(if retried {
            failed
        } else {
            failed.not_retried_by(transport.name())
        })
    }

    /// Forgets a request that failed the job: its address has nothing in
    /// flight any more (`crash()` sends the batch again from a checkpoint).
    pub(super) fn drop_request(&mut self, id: u64) {
        self.ready.remove(id);
        if let Some(request) = self.world.in_flight.remove(&id) {
            if request.parked {
                self.parked -= 1;
            }
            let p = request.partition;
            self.world.pending[p] = self.world.pending[p].saturating_sub(1);
            if let Some(state) = self.world.addresses.get_mut(&request.address) {
                state.in_flight = None;
                if state.backlog.is_empty() {
                    self.world.addresses.remove(&request.address);
                }
            }
        }
    }

    /// The call budget of `address`'s endpoint.
    fn call_budget(&self, address: &Address) -> Duration {
        self.routes
            .get(address.function_type())
            .map_or(Duration::ZERO, |r| r.call_budget)
    }
}
