//! A deterministic in-process miniature StateFun runtime for `cargo test`.
//!
//! Not yet implemented: the harness is planned (see the project's issue
//! tracker, "statefun-harness"). This crate is a placeholder in the
//! workspace so the layout is final.
