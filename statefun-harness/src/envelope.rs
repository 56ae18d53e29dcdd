//! The message: what travels between the ingress, functions, timers and
//! partition queues.

use bytes::Bytes;
use stateful_functions::Address;

/// A message on its way: from (`None` for ingress), to, and the value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Envelope {
    pub(crate) from: Option<Address>,
    pub(crate) to: Address,
    pub(crate) type_name: String,
    pub(crate) value: Option<Bytes>,
}
