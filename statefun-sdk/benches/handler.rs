//! Handler benchmarks (filled in below).
fn main() {}
