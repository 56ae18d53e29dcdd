//! The hand-written codec against prost's generated code.

use std::time::Duration;

use bytes::Bytes;
use proptest::prelude::*;
use prost::Message as _;
use statefun_proto::reqreply::{
    self as wire, FromFunction, ToFunction, from_function, to_function,
};

use super::{Batch, Span, WireAddress, WireValue, decode_batch, decode_canonical, decode_general};
use crate::context::Effects;
use crate::value::TypedBytes;
use crate::{
    Address, CancellationToken, EgressIdentifier, Expiration, Storage, TypeName, ValueSpec,
};

type OwnedAddress = (String, String, String);
type OwnedValue = (String, bool, Bytes);

/// A decoded batch with its strings and bytes copied out, to compare.
#[derive(Debug, PartialEq)]
struct Owned {
    target: Option<OwnedAddress>,
    states: Vec<(String, Option<OwnedValue>)>,
    invocations: Vec<(Option<OwnedAddress>, Option<OwnedValue>)>,
}

fn owned(batch: &Batch, buf: &Bytes) -> Owned {
    let s = |span: Span| String::from_utf8(span.raw(buf).to_vec()).expect("checked UTF-8");
    let address = |a: &WireAddress| (s(a.namespace), s(a.name), s(a.id));
    let value = |v: &WireValue| (s(v.type_name), v.has_value, v.bytes.slice(buf));
    Owned {
        target: batch.target.as_ref().map(address),
        states: batch
            .states
            .iter()
            .map(|st| (s(st.name), st.value.as_ref().map(value)))
            .collect(),
        invocations: batch
            .invocations
            .iter()
            .map(|i| {
                (
                    i.caller.as_ref().map(address),
                    i.argument.as_ref().map(value),
                )
            })
            .collect(),
    }
}

/// What our decoder should produce for a prost-decoded request.
fn expected(request: &ToFunction) -> Option<Owned> {
    let to_function::Request::Invocation(b) = request.request.as_ref()?;
    let address = |a: &wire::Address| (a.namespace.clone(), a.r#type.clone(), a.id.clone());
    let value = |v: &wire::TypedValue| (v.typename.clone(), v.has_value, v.value.clone());
    Some(Owned {
        target: b.target.as_ref().map(address),
        states: b
            .state
            .iter()
            .map(|st| (st.state_name.clone(), st.state_value.as_ref().map(value)))
            .collect(),
        invocations: b
            .invocations
            .iter()
            .map(|i| {
                (
                    i.caller.as_ref().map(address),
                    i.argument.as_ref().map(value),
                )
            })
            .collect(),
    })
}

fn any_address() -> impl Strategy<Value = wire::Address> {
    ("\\PC{0,8}", "\\PC{0,8}", "\\PC{0,12}").prop_map(|(namespace, r#type, id)| wire::Address {
        namespace,
        r#type,
        id,
    })
}

fn any_value() -> impl Strategy<Value = wire::TypedValue> {
    (
        "\\PC{0,20}",
        any::<bool>(),
        proptest::collection::vec(any::<u8>(), 0..40),
    )
        .prop_map(|(typename, has_value, value)| wire::TypedValue {
            typename,
            has_value,
            value: value.into(),
        })
}

fn any_request() -> impl Strategy<Value = ToFunction> {
    requests_of(
        any_address().boxed(),
        any_value().boxed(),
        "\\PC{0,10}".boxed(),
        0..5,
    )
}

/// Requests built from the given addresses, values and state names, with
/// `count` states and `count` invocations.
fn requests_of(
    address: BoxedStrategy<wire::Address>,
    value: BoxedStrategy<wire::TypedValue>,
    state_name: BoxedStrategy<String>,
    count: std::ops::Range<usize>,
) -> impl Strategy<Value = ToFunction> {
    let state =
        (state_name, proptest::option::of(value.clone())).prop_map(|(state_name, state_value)| {
            to_function::PersistedValue {
                state_name,
                state_value,
            }
        });
    let invocation = (
        proptest::option::of(address.clone()),
        proptest::option::of(value),
    )
        .prop_map(|(caller, argument)| to_function::Invocation { caller, argument });
    (
        proptest::option::of(address),
        proptest::collection::vec(state, count.clone()),
        proptest::collection::vec(invocation, count),
    )
        .prop_map(|(target, state, invocations)| ToFunction {
            request: Some(to_function::Request::Invocation(
                to_function::InvocationBatchRequest {
                    target,
                    state,
                    invocations,
                },
            )),
        })
}

proptest! {
    #[test]
    fn decodes_what_prost_encodes(request in any_request()) {
        let bytes = Bytes::from(request.encode_to_vec());
        let ours = decode_batch(&bytes).expect("valid request");
        prop_assert_eq!(Some(owned(&ours, &bytes)), expected(&request));
    }

    #[test]
    fn unknown_fields_are_skipped(request in any_request(), junk in 0_u8..4) {
        // Append an unknown field of each wire type at the top level and
        // inside the batch: field 7 (varint, fixed64, bytes, fixed32).
        let unknown: &[u8] = match junk {
            0 => &[0x38, 0x96, 0x01],
            1 => &[0x39, 1, 2, 3, 4, 5, 6, 7, 8],
            2 => &[0x3a, 0x02, 0xaa, 0xbb],
            _ => &[0x3d, 1, 2, 3, 4],
        };
        let mut bytes = request.encode_to_vec();
        bytes.extend_from_slice(unknown);
        let bytes = Bytes::from(bytes);
        let ours = decode_batch(&bytes).expect("valid request");
        prop_assert_eq!(Some(owned(&ours, &bytes)), expected(&request));
    }

    /// Flips, inserts or removes one byte of a valid request: the decoder
    /// must agree with prost on whether it is valid and on what it holds.
    /// For a long run: `PROPTEST_CASES=200000 cargo test --release -p
    /// statefun-sdk --lib mutated_requests`.
    #[test]
    fn mutated_requests_decode_as_prost_decodes_them(
        request in any_request(),
        position in any::<proptest::sample::Index>(),
        byte in any::<u8>(),
        mode in 0_u8..3,
    ) {
        let bytes = mutated(request.encode_to_vec(), position, byte, mode);
        agrees_with_prost(&bytes, &format!("{:02x?}", &bytes[..]))?;
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
        let bytes = Bytes::from(bytes);
        if let Ok(ours) = decode_batch(&bytes) {
            let theirs = ToFunction::decode(bytes.clone()).expect("prost accepts it too");
            prop_assert_eq!(Some(owned(&ours, &bytes)), expected(&theirs));
        }
    }
}

/// Checks that our decoder accepts what prost accepts, with the same
/// result, and rejects what it rejects; `what` describes `bytes`.
fn agrees_with_prost(bytes: &Bytes, what: &str) -> Result<(), TestCaseError> {
    let ours = decode_batch(bytes)
        .map(|b| owned(&b, bytes))
        .map_err(super::Malformed::reason);
    let theirs = ToFunction::decode(bytes.clone()).map(|t| expected(&t));
    match (&ours, &theirs) {
        (Ok(o), Ok(Some(t))) => prop_assert_eq!(o, t),
        (Err(_), Err(_)) => {}
        // prost leaves the oneof empty; we reject a request without a batch.
        (Err(e), Ok(None)) if e.contains("no invocation batch") => {}
        _ => prop_assert!(
            false,
            "disagree on {}: ours {:?}, prost {:?}",
            what,
            ours.as_ref().map(drop),
            theirs.as_ref().map(drop),
        ),
    }
    Ok(())
}

/// `bytes` with one byte flipped to `byte` (mode 0), `byte` inserted (1) or
/// one byte removed (2), at `position`.
fn mutated(bytes: Vec<u8>, position: proptest::sample::Index, byte: u8, mode: u8) -> Bytes {
    let i = position.index(bytes.len());
    mutated_at(bytes, i, byte, mode)
}

/// As [`mutated`], at index `i`.
fn mutated_at(mut bytes: Vec<u8>, i: usize, byte: u8, mode: u8) -> Bytes {
    match mode {
        0 => bytes[i] = byte,
        1 => bytes.insert(i, byte),
        _ => {
            bytes.remove(i);
        }
    }
    Bytes::from(bytes)
}

/// The batch each path decodes from `bytes`: the fast path's (`None` when
/// it declines) and the general path's.
fn both_paths(bytes: &Bytes) -> (Option<Owned>, Result<Owned, String>) {
    let mut fast = Batch::default();
    let fast = decode_canonical(bytes, &mut fast).map(|()| owned(&fast, bytes));
    let mut general = Batch::default();
    let general = decode_general(bytes, &mut general)
        .map(|()| owned(&general, bytes))
        .map_err(super::Malformed::reason);
    (fast, general)
}

proptest! {
    /// Everything prost writes (as the runtime's protobuf-java does) takes
    /// the fast path, which decodes it as the general path does.
    #[test]
    fn the_fast_path_takes_what_prost_writes(request in any_request()) {
        let bytes = Bytes::from(request.encode_to_vec());
        let (fast, general) = both_paths(&bytes);
        prop_assert!(fast.is_some(), "declined {:02x?}", &bytes[..]);
        prop_assert_eq!(fast.as_ref(), general.as_ref().ok());
    }

    /// Whatever the fast path accepts, the general path decodes the same.
    #[test]
    fn the_fast_path_agrees_with_the_general_path(
        request in any_request(),
        position in any::<proptest::sample::Index>(),
        byte in any::<u8>(),
        mode in 0_u8..3,
    ) {
        let bytes = mutated(request.encode_to_vec(), position, byte, mode);
        if let (Some(fast), general) = both_paths(&bytes) {
            prop_assert_eq!(Ok(fast), general, "on {:02x?}", &bytes[..]);
        }
    }

    #[test]
    fn the_fast_path_agrees_on_arbitrary_bytes(
        bytes in proptest::collection::vec(any::<u8>(), 0..64),
    ) {
        let mut bytes = bytes;
        // Mostly a batch, so that the fast path gets past the first key.
        bytes.splice(0..0, [0xa2, 0x06]);
        let bytes = Bytes::from(bytes);
        if let (Some(fast), general) = both_paths(&bytes) {
            prop_assert_eq!(Ok(fast), general, "on {:02x?}", &bytes[..]);
        }
    }
}

#[test]
fn the_fast_path_declines_what_it_does_not_expect() {
    // Each is a valid request the general path decodes; none has the
    // runtime's layout.
    let cases: [&[u8]; 5] = [
        // The batch's fields out of order: an invocation, then the target.
        b"\xa2\x06\x09\x1a\x00\x0a\x05\x0a\x01a\x12\x00",
        // The target twice (merged).
        b"\xa2\x06\x0a\x0a\x03\x0a\x01a\x0a\x03\x1a\x01x",
        // An unknown field in an address.
        b"\xa2\x06\x07\x0a\x05\x0a\x01a\x38\x01",
        // has_value written as false.
        b"\xa2\x06\x06\x1a\x04\x12\x02\x10\x00",
        // has_value as a padded varint.
        b"\xa2\x06\x07\x1a\x05\x12\x03\x10\x81\x00",
    ];
    for bytes in cases {
        let bytes = Bytes::from_static(bytes);
        let (fast, general) = both_paths(&bytes);
        assert_eq!(fast, None, "{bytes:02x?}");
        assert!(general.is_ok(), "{bytes:02x?}: {general:?}");
        assert_eq!(
            owned(&decode_batch(&bytes).unwrap(), &bytes),
            general.unwrap(),
            "{bytes:02x?}"
        );
    }
}

#[test]
fn nested_unknown_fields_of_every_wire_type_are_skipped() {
    // Address{namespace:"ns", <unknown>, type:"fn", id:"1"} with each kind
    // of unknown field 9 inside it, including a (proto2) group holding a
    // nested group.
    let unknowns: [&[u8]; 5] = [
        b"\x48\x96\x01",
        b"\x49\x01\x02\x03\x04\x05\x06\x07\x08",
        b"\x4a\x02\xaa\xbb",
        b"\x4d\x01\x02\x03\x04",
        b"\x4b\x08\x01\x53\x10\x02\x54\x4c",
    ];
    for unknown in unknowns {
        let mut address = b"\x0a\x02ns".to_vec();
        address.extend_from_slice(unknown);
        address.extend_from_slice(b"\x12\x02fn\x1a\x011");
        let mut batch = vec![0x0a, u8::try_from(address.len()).unwrap()];
        batch.extend_from_slice(&address);
        let mut request = vec![0xa2, 0x06, u8::try_from(batch.len()).unwrap()];
        request.extend_from_slice(&batch);
        let bytes = Bytes::from(request);
        let ours = owned(&decode_batch(&bytes).unwrap(), &bytes);
        let theirs = expected(&ToFunction::decode(bytes).unwrap()).unwrap();
        assert_eq!(ours, theirs, "{unknown:02x?}");
        assert_eq!(ours.target, Some(("ns".into(), "fn".into(), "1".into())));
    }
}

#[test]
fn repeated_singular_messages_merge() {
    // target{namespace:"a"} then target{id:"x"}: one target a//x.
    let bytes = Bytes::from_static(b"\xa2\x06\x0c\x0a\x03\x0a\x01a\x0a\x03\x1a\x01x\x12\x00");
    let batch = owned(&decode_batch(&bytes).unwrap(), &bytes);
    assert_eq!(batch.target, Some(("a".into(), String::new(), "x".into())));
    assert_eq!(batch.states.len(), 1);
}

// --- Long fields: length prefixes of two to five bytes ----------------------

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

fn any_long_address() -> impl Strategy<Value = wire::Address> {
    (any_text(), any_text(), any_text()).prop_map(|(namespace, r#type, id)| wire::Address {
        namespace,
        r#type,
        id,
    })
}

fn any_long_value() -> impl Strategy<Value = wire::TypedValue> {
    (any_text(), any::<bool>(), long_bytes()).prop_map(|(typename, has_value, value)| {
        wire::TypedValue {
            typename,
            has_value,
            value,
        }
    })
}

/// Requests with long ids, names and values, so that their fields and the
/// messages holding them have length prefixes of two or three bytes.
fn any_long_request() -> impl Strategy<Value = ToFunction> {
    requests_of(
        any_long_address().boxed(),
        any_long_value().boxed(),
        any_text(),
        0..3,
    )
}

/// As [`any_long_request`], with one more state or invocation holding a
/// value of over 16,383 bytes: the batch, that state or invocation and its
/// value all have length prefixes of three bytes.
fn any_large_request() -> impl Strategy<Value = ToFunction> {
    (
        any_long_request(),
        16_384_usize..=40_000,
        any::<u8>(),
        any::<bool>(),
    )
        .prop_map(|(mut request, len, seed, in_state)| {
            if let Some(to_function::Request::Invocation(batch)) = &mut request.request {
                add_value(batch, filler(len, seed), in_state);
            }
            request
        })
}

/// Adds a state holding `value` (when `in_state`) or an invocation whose
/// argument it is.
fn add_value(batch: &mut to_function::InvocationBatchRequest, value: Bytes, in_state: bool) {
    let value = Some(wire::TypedValue {
        typename: "com.example/v".into(),
        has_value: true,
        value,
    });
    if in_state {
        batch.state.push(to_function::PersistedValue {
            state_name: "s".into(),
            state_value: value,
        });
    } else {
        batch.invocations.push(to_function::Invocation {
            caller: Some(wire::Address {
                namespace: "com.example".into(),
                r#type: "caller".into(),
                id: "1".into(),
            }),
            argument: value,
        });
    }
}

/// How many bytes the length prefix at `at` takes.
fn prefix_width(bytes: &[u8], at: usize) -> usize {
    bytes[at..].iter().take_while(|&&b| b >= 0x80).count() + 1
}

/// Checks that prost's encoding of `request` takes the fast path, which
/// decodes it as prost wrote it and as the general path does.
fn check_fast_path(request: &ToFunction) -> Result<(), TestCaseError> {
    let bytes = Bytes::from(request.encode_to_vec());
    let (fast, general) = both_paths(&bytes);
    prop_assert!(
        fast.is_some(),
        "declined a request of {} bytes",
        bytes.len()
    );
    prop_assert_eq!(fast.as_ref(), general.as_ref().ok());
    prop_assert_eq!(fast, expected(request));
    let ours = decode_batch(&bytes).expect("valid request");
    prop_assert_eq!(Some(owned(&ours, &bytes)), expected(request));
    Ok(())
}

/// Few cases (each request is up to a few hundred kilobytes), unless
/// `PROPTEST_CASES` asks for more.
fn long_cases() -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|n| n.parse().ok());
    ProptestConfig::with_cases(cases.unwrap_or(48))
}

proptest! {
    #![proptest_config(long_cases())]

    /// Fields of over 127 bytes, and the messages holding them, have
    /// length prefixes of two or three bytes.
    #[test]
    fn the_fast_path_takes_long_fields(request in any_long_request()) {
        check_fast_path(&request)?;
    }

    /// A batch of over 16,383 bytes has a length prefix of three bytes.
    #[test]
    fn the_fast_path_takes_large_batches(request in any_large_request()) {
        let bytes = request.encode_to_vec();
        // After the two-byte key of field 100: at least three bytes, as a
        // check that the strategy makes what it means to.
        prop_assert!(prefix_width(&bytes, 2) >= 3, "{} bytes", bytes.len());
        check_fast_path(&request)?;
    }

    /// One byte of a request with long fields flipped, inserted or removed,
    /// mostly among the first 64 (where the keys and length prefixes are):
    /// the fast path agrees with the general path when it answers, and the
    /// decoder with prost.
    #[test]
    fn mutated_long_requests_decode_as_prost_decodes_them(
        request in any_long_request(),
        position in any::<proptest::sample::Index>(),
        early in proptest::bool::weighted(0.75),
        byte in any::<u8>(),
        mode in 0_u8..3,
    ) {
        let bytes = request.encode_to_vec();
        let at = position.index(if early { bytes.len().min(64) } else { bytes.len() });
        let bytes = mutated_at(bytes, at, byte, mode);
        if let (Some(fast), general) = both_paths(&bytes) {
            prop_assert_eq!(Ok(fast), general, "{} bytes, changed at {}", bytes.len(), at);
        }
        agrees_with_prost(&bytes, &format!("{} bytes changed at {}", bytes.len(), at))?;
    }
}

/// Checks every value length in `lengths`, as a state's value and as an
/// invocation's argument, and that for each of the value, the typed value,
/// the state or invocation and the batch, some length made it exactly each
/// of `sizes` bytes long.
fn check_sizes(lengths: std::ops::RangeInclusive<usize>, sizes: &[usize]) {
    let all = filler(*lengths.end(), 7);
    let mut seen = std::collections::BTreeSet::new();
    for in_state in [true, false] {
        for len in lengths.clone() {
            let mut batch = to_function::InvocationBatchRequest {
                target: Some(wire::Address {
                    namespace: "com.example".into(),
                    r#type: "fn".into(),
                    id: "42".into(),
                }),
                ..Default::default()
            };
            add_value(&mut batch, all.slice(..len), in_state);
            let holder = if in_state {
                batch.state[0].encoded_len()
            } else {
                batch.invocations[0].encoded_len()
            };
            let value = if in_state {
                batch.state[0].state_value.as_ref()
            } else {
                batch.invocations[0].argument.as_ref()
            };
            let value = value.map(prost::Message::encoded_len).unwrap_or_default();
            let layers = [len, value, holder, batch.encoded_len()];
            let request = ToFunction {
                request: Some(to_function::Request::Invocation(batch)),
            };
            if let Err(e) = check_fast_path(&request) {
                panic!("value of {len} bytes (in a state: {in_state}): {e}");
            }
            for (layer, size) in layers.into_iter().enumerate() {
                if sizes.contains(&size) {
                    seen.insert((in_state, layer, size));
                }
            }
        }
    }
    let missing: Vec<_> = [true, false]
        .into_iter()
        .flat_map(|s| (0..4).flat_map(move |l| sizes.iter().map(move |&n| (s, l, n))))
        .filter(|k| !seen.contains(k))
        .collect();
    assert!(
        missing.is_empty(),
        "never reached (in a state, layer, size): {missing:?}"
    );
}

#[test]
fn length_prefixes_at_their_boundaries() {
    // One byte up to 127, two up to 16,383, then three: each layer of
    // nesting crosses both boundaries.
    check_sizes(0..=200, &[127, 128]);
    check_sizes(16_250..=16_400, &[16_383, 16_384]);
}

#[test]
fn four_byte_length_prefixes() {
    // Two bytes short of 2 MiB: three bytes of length up to 2,097,151,
    // then four.
    check_sizes(2_097_050..=2_097_152, &[2_097_151, 2_097_152]);
}

#[test]
fn padded_and_overlong_length_prefixes() {
    // A batch {target {id "x"}} (5 bytes) after a length prefix as given:
    // whether the fast path takes it, and whether it is valid.
    let cases: [(&[u8], bool, bool); 7] = [
        (b"\x05", true, true),
        (b"\x85\x00", true, true),
        // Five bytes: the longest length the fast path reads.
        (b"\x85\x80\x80\x80\x00", true, true),
        // Six bytes: valid, but left to the general path.
        (b"\x85\x80\x80\x80\x80\x00", false, true),
        // 2^32 + 5 and 2^35 - 1: past the end.
        (b"\x85\x80\x80\x80\x10", false, false),
        (b"\xff\xff\xff\xff\x7f", false, false),
        // Six, one byte past the end.
        (b"\x86\x80\x00", false, false),
    ];
    for (prefix, takes, valid) in cases {
        let mut bytes = b"\xa2\x06".to_vec();
        bytes.extend_from_slice(prefix);
        bytes.extend_from_slice(b"\x0a\x03\x1a\x01x");
        let bytes = Bytes::from(bytes);
        let (fast, general) = both_paths(&bytes);
        assert_eq!(fast.is_some(), takes, "{prefix:02x?}");
        assert_eq!(general.is_ok(), valid, "{prefix:02x?}: {general:?}");
        let prost = ToFunction::decode(bytes.clone());
        assert_eq!(prost.is_ok(), valid, "{prefix:02x?}: {prost:?}");
        if let Ok(theirs) = prost {
            let theirs = expected(&theirs);
            assert_eq!(general.ok(), theirs, "{prefix:02x?}");
            let target = theirs.as_ref().and_then(|t| t.target.clone());
            assert_eq!(target, Some((String::new(), String::new(), "x".into())));
            if takes {
                assert_eq!(fast, theirs, "{prefix:02x?}");
            }
        }
    }
    // The address's own length padded to five bytes.
    let bytes = Bytes::from_static(b"\xa2\x06\x09\x0a\x83\x80\x80\x80\x00\x1a\x01x");
    let (fast, general) = both_paths(&bytes);
    assert!(fast.is_some());
    assert_eq!(fast.as_ref(), general.as_ref().ok());
    assert_eq!(fast, expected(&ToFunction::decode(bytes).unwrap()));
}

fn any_type_name() -> impl Strategy<Value = TypeName> {
    ("[a-z][a-z.]{0,8}", "[A-Za-z][A-Za-z0-9_]{0,8}")
        .prop_map(|(ns, name)| TypeName::new(&ns, &name).unwrap())
}

fn any_typed_bytes() -> impl Strategy<Value = TypedBytes> {
    (
        any_type_name(),
        proptest::collection::vec(any::<u8>(), 0..300),
    )
        .prop_map(|(t, v)| TypedBytes::new(t, v.into()))
}

fn any_our_address() -> impl Strategy<Value = Address> {
    (any_type_name(), "\\PC{0,10}").prop_map(|(t, id)| Address::new(t, id))
}

/// A delayed message or a cancellation.
#[derive(Debug, Clone)]
enum Delayed {
    Send {
        delay_ms: i64,
        target: Address,
        value: TypedBytes,
        token: Option<CancellationToken>,
    },
    Cancel(CancellationToken),
}

fn any_delayed() -> impl Strategy<Value = Delayed> {
    prop_oneof![
        (
            any::<i64>(),
            any_our_address(),
            any_typed_bytes(),
            proptest::option::of("\\PC{1,10}")
        )
            .prop_map(|(delay_ms, target, value, token)| Delayed::Send {
                delay_ms,
                target,
                value,
                token: token.map(|t| CancellationToken::new(t).unwrap()),
            }),
        "\\PC{1,10}".prop_map(|t| Delayed::Cancel(CancellationToken::new(t).unwrap())),
    ]
}

fn to_prost_address(a: &Address) -> wire::Address {
    wire::Address {
        namespace: a.function_type().namespace().into(),
        r#type: a.function_type().name().into(),
        id: a.id().into(),
    }
}

fn to_prost_value(v: &TypedBytes) -> wire::TypedValue {
    wire::TypedValue {
        typename: v.type_name().as_str().into(),
        has_value: true,
        value: v.bytes().clone(),
    }
}

/// Which state cells a test batch touches: set to a string, removed, or
/// left alone.
#[derive(Debug, Clone)]
enum Touch {
    Set(String),
    Remove,
    Keep,
}

/// The storage of `t/f:1` declaring `specs`, all received without a value.
fn empty_storage(specs: &[ValueSpec<String>]) -> Storage {
    let state_specs: Vec<_> = specs.iter().map(|s| s.to_state_spec().unwrap()).collect();
    let address = Address::new(TypeName::from_static("t/f"), "1");
    let mut storage = Storage::new(state_specs.into(), address, Bytes::new());
    storage.resolve(|_, _| Some(None)).expect("all present");
    storage
}

/// The mutation prost expects for `spec` set to `value`.
fn string_modified(
    spec: &ValueSpec<String>,
    value: &String,
) -> from_function::PersistedValueMutation {
    from_function::PersistedValueMutation {
        mutation_type: 1,
        state_name: spec.name().into(),
        state_value: Some(wire::TypedValue {
            typename: "io.statefun.types/string".into(),
            has_value: true,
            value: crate::Value::to_bytes(value).unwrap(),
        }),
    }
}

/// More mutations than the encoder keeps sizes for (8), of lengths on
/// both sides of the one-byte length prefix, every one written.
#[test]
fn encodes_many_mutations_exactly_as_prost() {
    let lengths = [0, 5, 127, 128, 200, 1, 300, 3, 130, 2, 1000];
    let specs: Vec<ValueSpec<String>> = (0..lengths.len())
        .map(|i| ValueSpec::try_named(format!("s{i}")).unwrap())
        .collect();
    let mut storage = empty_storage(&specs);
    let mut mutations = Vec::new();
    for (spec, &len) in specs.iter().zip(&lengths) {
        let value = "x".repeat(len);
        storage.set(spec, &value).unwrap();
        mutations.push(string_modified(spec, &value));
    }
    let theirs = FromFunction {
        response: Some(from_function::Response::InvocationResult(
            from_function::InvocationResponse {
                state_mutations: mutations,
                ..Default::default()
            },
        )),
    };
    let ours = super::encode_result(&Effects::default(), &storage);
    assert_eq!(&ours[..], &theirs.encode_to_vec()[..]);
}

/// Addresses that are not all ASCII take the per-field UTF-8 check on the
/// fast path: valid ones decode as prost decodes them, invalid ones are
/// rejected by both.
#[test]
fn non_ascii_addresses_are_checked_field_by_field() {
    let request = |id: &[u8]| {
        let mut bytes = ToFunction {
            request: Some(to_function::Request::Invocation(
                to_function::InvocationBatchRequest {
                    target: Some(wire::Address {
                        namespace: "ns".into(),
                        r#type: "fn".into(),
                        id: "?".repeat(id.len()),
                    }),
                    ..Default::default()
                },
            )),
        }
        .encode_to_vec();
        // The id is the last field: replace its placeholder bytes.
        let at = bytes.len() - id.len();
        bytes[at..].copy_from_slice(id);
        Bytes::from(bytes)
    };
    for id in ["é".as_bytes(), "user-é-7".as_bytes(), "日本".as_bytes()] {
        let bytes = request(id);
        assert!(matches!(both_paths(&bytes), (Some(_), Ok(_))), "{id:?}");
        agrees_with_prost(&bytes, "a valid non-ASCII id").unwrap();
    }
    for id in [&b"\xc3"[..], b"ab\xff", b"\xe6\x97"] {
        let bytes = request(id);
        assert!(decode_batch(&bytes).is_err(), "{id:?}");
        assert!(ToFunction::decode(bytes.clone()).is_err(), "{id:?}");
        agrees_with_prost(&bytes, "an id that is not UTF-8").unwrap();
    }
}

proptest! {
    #[test]
    fn encodes_results_exactly_as_prost(
        messages in proptest::collection::vec((any_our_address(), any_typed_bytes()), 0..4),
        delayed in proptest::collection::vec(any_delayed(), 0..4),
        egress in proptest::collection::vec((any_type_name(), any_typed_bytes()), 0..4),
        touches in proptest::collection::vec(
            prop_oneof![
                "\\PC{0,200}".prop_map(Touch::Set),
                Just(Touch::Remove),
                Just(Touch::Keep)
            ],
            // Past the eight mutations whose sizes the encoder keeps.
            0..12,
        ),
    ) {
        let specs: Vec<ValueSpec<String>> =
            (0..touches.len()).map(|i| ValueSpec::try_named(format!("s{i}")).unwrap()).collect();
        let mut storage = empty_storage(&specs);
        let mut mutations = Vec::new();
        for (spec, touch) in specs.iter().zip(&touches) {
            match touch {
                Touch::Set(v) => {
                    storage.set(spec, v).unwrap();
                    mutations.push(string_modified(spec, v));
                }
                Touch::Remove => {
                    storage.remove(spec).unwrap();
                    mutations.push(from_function::PersistedValueMutation {
                        mutation_type: 0,
                        state_name: spec.name().into(),
                        state_value: None,
                    });
                }
                Touch::Keep => {}
            }
        }
        let mut effects = Effects::default();
        for (target, value) in &messages {
            super::push_message(&mut effects.messages, target, value.type_name(), value.bytes());
        }
        for d in &delayed {
            match d {
                Delayed::Send { delay_ms, target, value, token } => super::push_delayed(
                    &mut effects.delayed,
                    *delay_ms,
                    target,
                    (value.type_name(), value.bytes()),
                    token.as_ref(),
                ),
                Delayed::Cancel(token) => super::push_cancellation(&mut effects.delayed, token),
            }
        }
        for (t, value) in &egress {
            let egress = EgressIdentifier::new(t.clone()).unwrap();
            super::push_egress(&mut effects.egress, &egress, value.type_name(), value.bytes());
        }
        let theirs = FromFunction {
            response: Some(from_function::Response::InvocationResult(
                from_function::InvocationResponse {
                    state_mutations: mutations,
                    outgoing_messages: messages
                        .iter()
                        .map(|(a, v)| from_function::Invocation {
                            target: Some(to_prost_address(a)),
                            argument: Some(to_prost_value(v)),
                        })
                        .collect(),
                    delayed_invocations: delayed
                        .iter()
                        .map(|d| match d {
                            Delayed::Send { delay_ms, target, value, token } => {
                                from_function::DelayedInvocation {
                                    delay_in_ms: *delay_ms,
                                    target: Some(to_prost_address(target)),
                                    argument: Some(to_prost_value(value)),
                                    is_cancellation_request: false,
                                    cancellation_token: token
                                        .as_ref()
                                        .map(|t| t.as_str().to_owned())
                                        .unwrap_or_default(),
                                }
                            }
                            Delayed::Cancel(t) => from_function::DelayedInvocation {
                                is_cancellation_request: true,
                                cancellation_token: t.as_str().into(),
                                ..Default::default()
                            },
                        })
                        .collect(),
                    outgoing_egresses: egress
                        .iter()
                        .map(|(t, v)| from_function::EgressMessage {
                            egress_namespace: t.namespace().into(),
                            egress_type: t.name().into(),
                            argument: Some(to_prost_value(v)),
                        })
                        .collect(),
                },
            )),
        };
        let ours = super::encode_result(&effects, &storage);
        prop_assert_eq!(&ours[..], &theirs.encode_to_vec()[..]);
    }

    #[test]
    fn encodes_handshakes_exactly_as_prost(
        specs in proptest::collection::vec((0_u8..3, 0_u64..100_000_000_000), 0..6),
    ) {
        let state_specs: Vec<_> = specs
            .iter()
            .enumerate()
            .map(|(i, (mode, millis))| {
                let d = Duration::from_millis(*millis);
                let expiration = match mode {
                    0 => Expiration::Never,
                    1 => Expiration::AfterWrite(d),
                    _ => Expiration::AfterCall(d),
                };
                ValueSpec::<i64>::try_named(format!("v{i}"))
                    .unwrap()
                    .with_expiration(expiration)
                    .to_state_spec()
                    .unwrap()
            })
            .collect();
        let theirs = FromFunction {
            response: Some(from_function::Response::IncompleteInvocationContext(
                from_function::IncompleteInvocationContext {
                    missing_values: state_specs
                        .iter()
                        .zip(&specs)
                        .map(|(s, (mode, millis))| from_function::PersistedValueSpec {
                            state_name: s.name().into(),
                            expiration_spec: Some(from_function::ExpirationSpec {
                                mode: i32::from(*mode),
                                expire_after_millis: if *mode == 0 {
                                    0
                                } else {
                                    i64::try_from(*millis).unwrap()
                                },
                            }),
                            type_typename: "io.statefun.types/long".into(),
                        })
                        .collect(),
                },
            )),
        };
        let ours = super::encode_incomplete(state_specs.iter());
        prop_assert_eq!(&ours[..], &theirs.encode_to_vec()[..]);
    }

    #[test]
    fn encodes_egress_records_exactly_as_prost(
        key in "\\PC{0,10}",
        value in proptest::collection::vec(any::<u8>(), 0..200),
        topic in "\\PC{0,10}",
        hash in "\\PC{0,10}",
    ) {
        let kafka = statefun_proto::egress::KafkaProducerRecord {
            key: key.clone(),
            value_bytes: value.clone().into(),
            topic: topic.clone(),
        };
        prop_assert_eq!(
            &super::encode_kafka_record(&key, &value, &topic)[..],
            &kafka.encode_to_vec()[..]
        );
        let kinesis = statefun_proto::egress::KinesisEgressRecord {
            partition_key: key.clone(),
            value_bytes: value.clone().into(),
            stream: topic.clone(),
            explicit_hash_key: hash.clone(),
        };
        prop_assert_eq!(
            &super::encode_kinesis_record(&key, &value, &topic, &hash)[..],
            &kinesis.encode_to_vec()[..]
        );
    }
}
