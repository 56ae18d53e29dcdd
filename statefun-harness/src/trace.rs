//! The trace: every delivery, batch, state change, timer and egress, in
//! order, with the virtual time.

use std::fmt;
use std::time::Duration;

use stateful_functions::Address;

/// About how many events a message makes, for reserving room in the trace:
/// delivered, request sent, answered, applied, a state changed, and one to
/// spare (handshakes, timers, egress).
pub(crate) const EVENTS_PER_MESSAGE: usize = 6;

/// The most events reserved ahead at once (about 12 MB); beyond that the
/// trace grows as it fills.
pub(crate) const MAX_RESERVED_EVENTS: usize = 1 << 16;

/// One thing that happened in the harness.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// A message entered from the ingress.
    Ingress {
        /// The target.
        to: Address,
        /// Its typename.
        type_name: String,
        /// The partition that owns the target.
        partition: u32,
    },
    /// A message was delivered to its target's partition.
    Delivered {
        /// The sender, `None` for ingress.
        from: Option<Address>,
        /// The target.
        to: Address,
        /// The partition that owns the target.
        partition: u32,
    },
    /// A message waits because a request for its address is in flight.
    Buffered {
        /// The address.
        address: Address,
        /// Backlog length after it.
        backlog: usize,
    },
    /// A request was sent.
    RequestSent {
        /// The address.
        address: Address,
        /// Invocations in it.
        batch_size: usize,
        /// Registered state names sent (with a value or without).
        states: Vec<String>,
    },
    /// The function asked for missing state (the handshake).
    Handshake {
        /// The address.
        address: Address,
        /// The state names registered now.
        registered: Vec<String>,
    },
    /// A response was applied.
    Applied {
        /// The address.
        address: Address,
        /// Outgoing messages.
        messages: usize,
        /// Delayed messages and cancellations.
        delayed: usize,
        /// Egress records.
        egress: usize,
    },
    /// A state value changed.
    StateChanged {
        /// The address.
        address: Address,
        /// The state.
        state: String,
        /// `false` when deleted.
        modified: bool,
    },
    /// A state value expired.
    Expired {
        /// The address.
        address: Address,
        /// The state.
        state: String,
    },
    /// A delayed message was scheduled.
    TimerScheduled {
        /// The sender.
        from: Address,
        /// The target.
        to: Address,
        /// When it fires.
        at: Duration,
        /// Its token, if any.
        token: Option<String>,
    },
    /// A delayed message was cancelled (or the cancellation found nothing).
    TimerCancelled {
        /// The sender id.
        id: String,
        /// The token.
        token: String,
        /// Whether a pending message was removed.
        found: bool,
    },
    /// A delayed message fired.
    TimerFired {
        /// The sender.
        from: Address,
        /// The target.
        to: Address,
    },
    /// A checkpoint completed.
    Checkpoint {
        /// Its number.
        id: u64,
    },
    /// The job crashed and restarted from a checkpoint.
    Restored {
        /// The checkpoint it restarted from (0: the start).
        checkpoint: u64,
        /// In-flight batches sent again.
        resent: usize,
        /// Ingress messages replayed.
        replayed: usize,
    },
    /// A function answered a request (the answer is applied by a later
    /// step).
    Answered {
        /// The address.
        address: Address,
    },
    /// A call attempt failed.
    AttemptFailed {
        /// The address.
        address: Address,
        /// Failed attempts so far.
        attempt: u32,
        /// What went wrong.
        reason: String,
        /// When the next attempt starts; `None` when there is none: the
        /// call budget is spent, or the transport does not retry this
        /// failure, and the job fails.
        retry_in: Option<Duration>,
    },
    /// The job failed and restarts from its last checkpoint.
    JobFailed {
        /// The failure.
        reason: String,
    },
    /// An invariant did not hold at a point at rest.
    InvariantViolated {
        /// The invariant's name.
        name: String,
        /// What its check said.
        message: String,
    },
    /// A record went to an egress.
    Egress {
        /// The egress id.
        egress: String,
        /// The record's typename.
        type_name: String,
    },
}

/// An event with the virtual time it happened at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceEntry {
    /// Virtual time since the harness started.
    pub at: Duration,
    /// What happened.
    pub event: Event,
}

impl fmt::Display for TraceEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{:>8} ms] {}", self.at.as_millis(), self.event)
    }
}

impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        display(self, f)
    }
}

fn display(event: &Event, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    match event {
        Event::Ingress {
            to,
            type_name,
            partition,
        } => {
            write!(f, "ingress -> {to} [partition {partition}]: {type_name}")
        }
        Event::Delivered {
            from,
            to,
            partition,
        } => match from {
            Some(from) => write!(f, "deliver {from} -> {to} [partition {partition}]"),
            None => write!(f, "deliver ingress -> {to} [partition {partition}]"),
        },
        Event::Buffered { address, backlog } => {
            write!(
                f,
                "buffer at {address}: request in flight, backlog {backlog}"
            )
        }
        Event::RequestSent {
            address,
            batch_size,
            states,
        } => write!(
            f,
            "request {address}: batch of {batch_size}, states [{}]",
            states.join(", ")
        ),
        Event::Handshake {
            address,
            registered,
        } => {
            write!(
                f,
                "handshake {address}: registered [{}]",
                registered.join(", ")
            )
        }
        Event::Applied {
            address,
            messages,
            delayed,
            egress,
        } => write!(
            f,
            "response {address}: {messages} messages, {delayed} delayed, {egress} egress"
        ),
        Event::StateChanged {
            address,
            state,
            modified,
        } => {
            let what = if *modified { "modified" } else { "deleted" };
            write!(f, "state {address}.{state} {what}")
        }
        Event::Expired { address, state } => write!(f, "state {address}.{state} expired"),
        Event::TimerScheduled {
            from,
            to,
            at,
            token,
        } => match token {
            Some(token) => write!(
                f,
                "timer {from} -> {to} at {} ms (token {token:?})",
                at.as_millis()
            ),
            None => write!(f, "timer {from} -> {to} at {} ms", at.as_millis()),
        },
        Event::TimerCancelled { id, token, found } => {
            let what = if *found { "cancelled" } else { "not pending" };
            write!(f, "timer token {token:?} of id {id:?} {what}")
        }
        Event::TimerFired { from, to } => write!(f, "timer fired {from} -> {to}"),
        Event::Egress { egress, type_name } => write!(f, "egress {egress}: {type_name}"),
        Event::Answered { address } => write!(f, "answer from {address}"),
        Event::AttemptFailed {
            address,
            attempt,
            reason,
            retry_in,
        } => match retry_in {
            Some(wait) => write!(
                f,
                "attempt {attempt} at {address} failed: {reason}; retry in {} ms",
                wait.as_millis()
            ),
            None => write!(
                f,
                "attempt {attempt} at {address} failed: {reason}; no further attempt"
            ),
        },
        Event::JobFailed { reason } => write!(f, "JOB FAILED, restarting: {reason}"),
        Event::InvariantViolated { name, message } => {
            write!(f, "INVARIANT {name:?} DOES NOT HOLD: {message}")
        }
        Event::Checkpoint { id } => write!(f, "checkpoint {id} completed"),
        Event::Restored {
            checkpoint,
            resent,
            replayed,
        } => write!(
            f,
            "CRASH: restored checkpoint {checkpoint}, re-sent {resent} in-flight batches, replayed {replayed} ingress messages"
        ),
    }
}
