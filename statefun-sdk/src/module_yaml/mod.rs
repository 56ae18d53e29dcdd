//! `module.yaml`, the file that tells the StateFun runtime where functions
//! are served and which ingresses and egresses feed them (spec §2.4): one
//! typed model of its components, one writer and one reader.
//!
//! - The model: [`Component`] and the types of each kind's `spec`
//!   ([`HttpEndpoint`] with its [`Transport`], [`KafkaIngress`],
//!   [`KinesisIngress`], [`KafkaEgress`], [`KinesisEgress`]), with the SDK's
//!   [`TypeName`](crate::TypeName) and [`EgressIdentifier`](crate::EgressIdentifier)
//!   where the file names them.
//! - The writer: [`render`] (and each component's `Display`), which
//!   [`ModuleYaml`](crate::ModuleYaml) uses.
//! - The reader (feature `module-yaml`): `Module::parse`, which checks
//!   what the runtime's module loader checks and reports the first problem
//!   as a `ReadError` naming the document and the key. `statefun-local`
//!   reads module.yaml with it.
//!
//! The model and the writer are always built: they have no dependencies
//! and `ModuleYaml` needs them. The reader needs a YAML parser (`serde`,
//! `serde_norway`), which a function server never does, so it is behind a
//! non-default, additive feature rather than in a crate of its own (a
//! separate crate could not be used by `ModuleYaml` without a dependency
//! cycle, since the model names the SDK's types).
//!
//! ```
//! use stateful_functions::module_yaml::{Component, FunctionPattern, HttpEndpoint, render};
//! use stateful_functions::TypeName;
//!
//! let endpoint = HttpEndpoint::new(
//!     FunctionPattern::Type(TypeName::from_static("shop/cart")),
//!     "http://fns:8000/statefun",
//! );
//! let yaml = render(&[Component::HttpEndpoint(endpoint)]);
//! assert!(yaml.starts_with("kind: io.statefun.endpoints.v2/http\nspec:\n  functions: \"shop/cart\"\n"));
//! ```
//!
//! # Durations
//!
//! Every duration in `module.yaml` is a Flink duration string. This module
//! holds the one grammar for them: [`parse_duration`] reads it and
//! [`format_duration`] writes it.
//!
//! A whole number, optional whitespace, and an optional unit, case
//! insensitive; no unit means milliseconds:
//!
//! | unit | spellings |
//! |---|---|
//! | nanoseconds | `ns`, `nano`, `nanos`, `nanosecond`, `nanoseconds` |
//! | microseconds | `us`, `µs`, `micro`, `micros`, `microsecond`, `microseconds` |
//! | milliseconds | (none), `ms`, `milli`, `millis`, `millisecond`, `milliseconds` |
//! | seconds | `s`, `sec`, `secs`, `second`, `seconds` |
//! | minutes | `m`, `min`, `minute`, `minutes` |
//! | hours | `h`, `hour`, `hours` |
//! | days | `d`, `day`, `days` |

mod duration;
mod model;
#[cfg(feature = "module-yaml")]
mod read;
mod render;

pub use duration::{DurationError, format_duration, parse_duration};
pub use model::{
    ASYNC_TRANSPORT, AsyncTimeouts, AsyncTransport, Component, DeliverySemantic, ENDPOINT_V1,
    ENDPOINT_V2, EndpointVersion, FunctionPattern, FunctionPatternError, HttpEndpoint,
    IngressTopic, KAFKA_EGRESS, KAFKA_INGRESS, KINESIS_EGRESS, KINESIS_INGRESS, KafkaEgress,
    KafkaIngress, KafkaStartupPosition, KinesisEgress, KinesisIngress, OKHTTP_TRANSPORT,
    OkHttpTimeouts, Transport,
};
#[cfg(feature = "module-yaml")]
#[cfg_attr(docsrs, doc(cfg(feature = "module-yaml")))]
pub use read::{Document, EndpointCheck, Module, ReadError, ReadOptions, UnknownKeys};
pub use render::render;
