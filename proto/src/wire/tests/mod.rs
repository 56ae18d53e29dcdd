//! The codec against prost's generated code for the same schema
//! (`crate::reqreply`, `crate::types`, `crate::egress`): every reader
//! decodes what prost decodes, on generated and on mangled messages, and
//! refuses what it refuses; every writer writes prost's bytes.
//!
//! * [`read_to_function`]: `ToFunction`, as functions read it (both paths).
//! * [`read_from_function`]: `FromFunction`, as runtimes read it.
//! * [`write_to_function`]: `ToFunction`, as runtimes write it.
//! * [`write_from_function`]: `FromFunction`, the egress records and the
//!   built-in wrappers, as functions write them.
//! * [`primitives`]: varints, keys, [`Span`](super::Span),
//!   [`Reader`](super::Reader) and [`Writer`](super::Writer).

#![allow(clippy::unwrap_used)]

mod primitives;
mod read_from_function;
mod read_to_function;
mod write_from_function;
mod write_to_function;

use bytes::Bytes;
use proptest::prelude::*;

/// `len` bytes that differ from their neighbours (so a range off by one
/// does not compare equal), built by copying rather than byte by byte: a
/// strategy per byte would make a 20,000-byte value slow to generate.
fn filler(len: usize, seed: u8) -> Bytes {
    let period: Vec<u8> = (0..=250).collect();
    let mut bytes = vec![seed];
    bytes.extend_from_slice(&period.repeat(len / period.len() + 1));
    bytes.truncate(len);
    Bytes::from(bytes)
}

/// A field length: mostly past 127 bytes (a length prefix of two bytes) or
/// 16,383 (three bytes), some at those boundaries, some short.
fn field_len() -> impl Strategy<Value = usize> {
    prop_oneof![
        1 => 0_usize..=40,
        1 => 120_usize..=136,
        3 => 128_usize..=20_000,
        1 => 16_370_usize..=16_400,
    ]
}

/// Bytes of [`field_len`] bytes.
fn long_bytes() -> impl Strategy<Value = Bytes> {
    (field_len(), any::<u8>()).prop_map(|(len, seed)| filler(len, seed))
}

/// A string of at least [`field_len`] bytes: a short random start, then
/// one random character repeated (of one to four bytes in UTF-8).
fn long_text() -> impl Strategy<Value = String> {
    ("\\PC{0,2}", any::<char>(), field_len()).prop_map(|(start, c, len)| {
        let mut text = start;
        text.push_str(&c.to_string().repeat(len / c.len_utf8() + 1));
        text
    })
}

/// A string, long in a third of the cases.
fn any_text() -> BoxedStrategy<String> {
    prop_oneof![2 => "\\PC{0,8}", 1 => long_text()].boxed()
}

/// Few cases (each message is up to a few hundred kilobytes), unless
/// `PROPTEST_CASES` asks for more.
fn long_cases() -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|n| n.parse().ok());
    ProptestConfig::with_cases(cases.unwrap_or(48))
}

/// `bytes` with one byte flipped to `byte` (mode 0), `byte` inserted (1) or
/// one byte removed (2), at `i`.
fn mutated_at(mut bytes: Vec<u8>, i: usize, byte: u8, mode: u8) -> Vec<u8> {
    match mode {
        0 => bytes[i] = byte,
        1 => bytes.insert(i, byte),
        _ => {
            bytes.remove(i);
        }
    }
    bytes
}

/// As [`mutated_at`], at `position` (of an empty buffer: inserts).
fn mutated(bytes: Vec<u8>, position: prop::sample::Index, byte: u8, mode: u8) -> Vec<u8> {
    if bytes.is_empty() {
        return vec![byte];
    }
    let i = position.index(bytes.len());
    mutated_at(bytes, i, byte, mode)
}
