//! The only module of the SDK that knows the protocol: it reads a request
//! into the SDK's own values ([`Request`]), and writes a batch's effects
//! and answers ([`ResponseWriter`], [`incomplete`]) and the generic
//! egresses' records.
//!
//! The bytes themselves are read and written by the workspace's one wire
//! codec, [`statefun_protocol::wire`]: a zero-copy reader (every string and
//! payload a range of the request buffer, short ones copied into the
//! values handed on) and an exact-size writer, both checked against
//! prost's generated code. This module turns its ranges into the SDK's
//! types, and the SDK's types into its borrowed views.

mod records;
mod request;
mod response;

pub(crate) use request::{AddressParts, Received, Request};
pub(crate) use response::{ResponseWriter, incomplete};

#[cfg(test)]
mod tests;
