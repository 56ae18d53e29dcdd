//! `module.yaml`, the file that tells the StateFun runtime where functions
//! are served and which ingresses and egresses feed them (spec §2.4).
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

pub use duration::{DurationError, format_duration, parse_duration};
