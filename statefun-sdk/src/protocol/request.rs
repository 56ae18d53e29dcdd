//! [`Request`]: a `ToFunction` read in place, handed to the handler as the
//! SDK's own values (strings and payloads share the request buffer or are
//! short copies; no byte range leaves this module).

use bytes::Bytes;
use statefun_protocol::wire::{self, DecodeError, Span, to_function};

use crate::small_bytes::SmallBytes;
use crate::text::Text;

/// A request body and the batch read from it.
#[derive(Debug, Default)]
pub(crate) struct Request {
    body: Bytes,
    batch: to_function::Batch,
}

/// An address as the request carries it: the type's halves, not yet
/// checked to be a type name, and the id.
#[derive(Debug, Clone, Copy)]
pub(crate) struct AddressParts<'a> {
    pub(crate) namespace: &'a [u8],
    pub(crate) name: &'a [u8],
    id: Span,
}

/// One invocation of the batch.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Invocation<'a> {
    request: &'a Request,
    invocation: &'a to_function::Invocation,
}

/// A state value as received: its typename and bytes, or `None` when the
/// state has no value.
pub(crate) type Received<'a> = Option<(&'a [u8], SmallBytes)>;

impl Request {
    /// Reads `body`. The request is built where the handler's future keeps
    /// it and read in place, so the batch is never moved.
    pub(crate) fn read(&mut self, body: Bytes) -> Result<(), DecodeError> {
        self.body = body;
        to_function::read_into(&self.body, &mut self.batch)
    }

    /// The address the batch is for.
    pub(crate) fn target(&self) -> Option<AddressParts<'_>> {
        self.batch.target.map(|a| self.parts(a))
    }

    /// The id of an address of this request.
    pub(crate) fn id(&self, address: AddressParts<'_>) -> Text {
        Text::from_checked_range(&self.body, address.id.range())
    }

    /// The id, for messages about a request whose target is unknown.
    pub(crate) fn id_lossy(&self, address: AddressParts<'_>) -> String {
        String::from_utf8_lossy(address.id.raw(&self.body)).into_owned()
    }

    /// The state value named `name`: `None` when it was not sent at all.
    /// A name sent twice: the last one wins, as in the other SDKs.
    pub(crate) fn state(&self, name: &str) -> Option<Received<'_>> {
        let state = self
            .batch
            .states
            .iter()
            .rfind(|s| s.name.raw(&self.body) == name.as_bytes())?;
        Some(state.value.filter(|v| v.has_value).map(|v| {
            (
                v.type_name.raw(&self.body),
                SmallBytes::from_range(&self.body, v.bytes.range()),
            )
        }))
    }

    /// The invocations, in order.
    pub(crate) fn invocations(&self) -> impl ExactSizeIterator<Item = Invocation<'_>> {
        self.batch
            .invocations
            .iter()
            .map(move |invocation| Invocation {
                request: self,
                invocation,
            })
    }

    fn parts(&self, address: wire::Address) -> AddressParts<'_> {
        AddressParts {
            namespace: address.namespace.raw(&self.body),
            name: address.name.raw(&self.body),
            id: address.id,
        }
    }
}

impl<'a> Invocation<'a> {
    /// The caller; `None` when absent or empty (an ingress message).
    pub(crate) fn caller(&self) -> Option<AddressParts<'a>> {
        self.invocation
            .caller
            .filter(|caller| !caller.is_empty())
            .map(|caller| self.request.parts(caller))
    }

    /// The message: its typename and, when it has one, its value.
    pub(crate) fn message(&self) -> (Text, Option<SmallBytes>) {
        let body = &self.request.body;
        let argument = self.invocation.argument.unwrap_or_default();
        let value = argument
            .has_value
            .then(|| SmallBytes::from_range(body, argument.bytes.range()));
        (
            Text::from_checked_range(body, argument.type_name.range()),
            value,
        )
    }
}
