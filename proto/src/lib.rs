//! Wire types of the Apache Flink Stateful Functions (StateFun) v3 remote
//! request-reply protocol, generated with [prost](https://docs.rs/prost).
//!
//! This crate holds the protocol and nothing else: the SDK (`stateful-functions`)
//! and the test harness (`statefun-harness`) build on it, and users of the
//! SDK never need it directly. The schema matches StateFun 3.1 to 3.3 (the
//! cancellation-token fields of `DelayedInvocation` were added in 3.1; 3.2
//! and 3.3 changed nothing on the wire).
//!
//! * [`reqreply`]: `ToFunction` (runtime → function) and `FromFunction`
//!   (function → runtime).
//! * [`types`]: the wrappers that carry the built-in `io.statefun.types/*`
//!   values.
//! * [`egress`]: the Kafka and Kinesis records accepted by the generic
//!   egresses.
//! * [`wire`]: the one hand-written codec of those messages, zero-copy
//!   readers and exact-size writers that the SDK, the harness and
//!   statefun-local read and write the protocol with (checked against the
//!   generated types).
//!
//! Every `bytes` field is a [`bytes::Bytes`], so decoding from a `Bytes`
//! buffer slices payloads and state values out of the request instead of
//! copying them.
//!
//! ```
//! use prost::Message;
//! use statefun_protocol::reqreply::{Address, ToFunction, to_function};
//!
//! let request = ToFunction {
//!     request: Some(to_function::Request::Invocation(
//!         to_function::InvocationBatchRequest {
//!             target: Some(Address {
//!                 namespace: "ns".into(),
//!                 r#type: "fn".into(),
//!                 id: "1".into(),
//!             }),
//!             ..Default::default()
//!         },
//!     )),
//! };
//! // The worked example of the protocol reference, byte for byte.
//! assert_eq!(
//!     request.encode_to_vec(),
//!     b"\xa2\x06\x0d\x0a\x0b\x0a\x02ns\x12\x02fn\x1a\x011".to_vec()
//! );
//! ```
//!
//! The code under `src/generated/` is checked in and regenerated in pure
//! Rust (protox and prost-build, no `protoc`); the `codegen` test fails when
//! it is stale.
#![doc(test(attr(deny(warnings))))]

pub use prost;

#[allow(missing_docs, unreachable_pub, clippy::all, clippy::pedantic)]
#[rustfmt::skip]
mod generated {
    pub(crate) mod reqreply {
        include!("generated/reqreply.rs");
    }
    pub(crate) mod types {
        include!("generated/types.rs");
    }
    pub(crate) mod egress {
        include!("generated/egress.rs");
    }
}

/// Package `io.statefun.sdk.reqreply`: the request and response messages.
pub mod reqreply {
    pub use crate::generated::reqreply::*;
}

/// Package `io.statefun.sdk.types`: wrappers for the built-in types.
pub mod types {
    pub use crate::generated::types::*;
}

/// Package `io.statefun.sdk.egress`: Kafka and Kinesis egress records.
pub mod egress {
    pub use crate::generated::egress::*;
}

pub mod wire;
