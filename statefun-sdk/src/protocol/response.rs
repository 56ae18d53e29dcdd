//! [`ResponseWriter`]: a batch's side effects, written as they happen
//! into the `FromFunction` entries they become, and the answers made of
//! them.

use bytes::Bytes;
use statefun_protocol::wire::{
    AddressRef, ValueRef,
    from_function::{self, MissingRef, MutationRef},
};

use crate::buffers;
use crate::state::StateSpec;
use crate::{Address, CancellationToken, EgressIdentifier, Expiration, TypeName};

/// The side effects of a batch, in call order, each written as it happens
/// into the field of `FromFunction.InvocationResponse` it becomes. The
/// buffers are reused from batch to batch on each thread.
#[derive(Debug, Default)]
pub(crate) struct ResponseWriter {
    /// `outgoing_messages` entries.
    messages: Vec<u8>,
    /// `delayed_invocations` entries.
    delayed: Vec<u8>,
    /// `outgoing_egresses` entries.
    egress: Vec<u8>,
}

fn address(a: &Address) -> AddressRef<'_> {
    let (namespace, name) = a.function_type().parts_bytes();
    AddressRef {
        namespace,
        name,
        id: a.id_bytes(),
    }
}

fn value<'a>(type_name: &'a TypeName, bytes: &'a [u8]) -> ValueRef<'a> {
    ValueRef {
        type_name: type_name.as_str().as_bytes(),
        bytes: Some(bytes),
    }
}

/// `buf`, taken from the thread's pool on first use.
fn buffer(buf: &mut Vec<u8>) -> &mut Vec<u8> {
    if buf.capacity() == 0 {
        *buf = buffers::pooled();
    }
    buf
}

impl ResponseWriter {
    /// A message of type `type_name` to `target`.
    pub(crate) fn message(&mut self, target: &Address, type_name: &TypeName, bytes: &[u8]) {
        from_function::push_message(
            buffer(&mut self.messages),
            address(target),
            value(type_name, bytes),
        );
    }

    /// A message to `target` after `delay_ms`, cancellable with `token`.
    pub(crate) fn delayed(
        &mut self,
        delay_ms: i64,
        target: &Address,
        (type_name, bytes): (&TypeName, &[u8]),
        token: Option<&CancellationToken>,
    ) {
        from_function::push_delayed(
            buffer(&mut self.delayed),
            delay_ms,
            address(target),
            value(type_name, bytes),
            token.map(|t| t.as_str().as_bytes()),
        );
    }

    /// Cancels the delayed message sent with `token`.
    pub(crate) fn cancellation(&mut self, token: &CancellationToken) {
        from_function::push_cancellation(buffer(&mut self.delayed), token.as_str().as_bytes());
    }

    /// A record of type `type_name` to `egress`.
    pub(crate) fn egress(&mut self, egress: &EgressIdentifier, type_name: &TypeName, bytes: &[u8]) {
        from_function::push_egress(
            buffer(&mut self.egress),
            egress.type_name().parts_bytes(),
            value(type_name, bytes),
        );
    }

    /// The `InvocationResponse` of the batch: one mutation per touched
    /// state value (`mutations`, in declaration order), then messages,
    /// delayed messages and egress records in call order.
    pub(crate) fn finish<'a>(
        &self,
        mutations: impl Iterator<Item = (&'a StateSpec, Option<&'a [u8]>)> + Clone,
    ) -> Bytes {
        let mutations = mutations.map(|(spec, bytes)| MutationRef {
            name: spec.name().as_bytes(),
            value: bytes.map(|b| value(spec.type_name(), b)),
        });
        Bytes::from(from_function::write_result(
            mutations,
            &self.messages,
            &self.delayed,
            &self.egress,
        ))
    }
}

impl Drop for ResponseWriter {
    fn drop(&mut self) {
        for buf in [&mut self.messages, &mut self.delayed, &mut self.egress] {
            buffers::give_back(std::mem::take(buf));
        }
    }
}

/// The `IncompleteInvocationContext` listing `missing`, each with its type
/// and expiration.
pub(crate) fn incomplete<'a>(missing: impl Iterator<Item = &'a StateSpec> + Clone) -> Bytes {
    let missing = missing.map(|spec| {
        let (mode, ttl) = match spec.expiration() {
            Expiration::Never => (0, None),
            Expiration::AfterWrite(d) => (1, Some(d)),
            Expiration::AfterCall(d) => (2, Some(d)),
        };
        MissingRef {
            name: spec.name().as_bytes(),
            type_name: spec.type_name().as_str().as_bytes(),
            mode,
            // Validated when the spec was declared; saturate rather than
            // panic should that ever be bypassed.
            expire_after_millis: ttl
                .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX)),
        }
    });
    Bytes::from(from_function::write_incomplete(missing))
}
