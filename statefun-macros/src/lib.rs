//! Procedural macros for the StateFun Rust SDK.
//!
//! Not yet implemented: the function, typed-state and message-type macros
//! are planned (see the project's issue tracker, "Macros"). Until then, use
//! the hand-written forms documented in `statefun-sdk`.
