//! `to_function::read` (and its two paths, `read_canonical` and
//! `read_general`) against prost's `ToFunction::decode`.

use proptest::prelude::*;
use prost::Message as _;

use super::{any_text, filler, long_bytes, long_cases, mutated, mutated_at};
use crate::reqreply::{self as pb, ToFunction, to_function as pbt};
use crate::wire::to_function::{self, Batch};
use crate::wire::{Address, DecodeError, Problem, Span, TypedValue};

type OwnedAddress = (String, String, String);
type OwnedValue = (String, bool, Vec<u8>);

/// A decoded batch with its strings and bytes copied out, to compare.
#[derive(Debug, PartialEq)]
struct Owned {
    target: Option<OwnedAddress>,
    states: Vec<(String, Option<OwnedValue>)>,
    invocations: Vec<(Option<OwnedAddress>, Option<OwnedValue>)>,
}

fn owned(batch: &Batch, buf: &[u8]) -> Owned {
    let s = |span: Span| String::from_utf8(span.raw(buf).to_vec()).expect("checked UTF-8");
    let address = |a: &Address| (s(a.namespace), s(a.name), s(a.id));
    let value = |v: &TypedValue| (s(v.type_name), v.has_value, v.bytes.raw(buf).to_vec());
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

/// What our reader should produce for a prost-decoded request.
fn expected(request: &ToFunction) -> Option<Owned> {
    let pbt::Request::Invocation(b) = request.request.as_ref()?;
    let address = |a: &pb::Address| (a.namespace.clone(), a.r#type.clone(), a.id.clone());
    let value = |v: &pb::TypedValue| (v.typename.clone(), v.has_value, v.value.to_vec());
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

/// The whole reader's answer, copied out.
fn read(bytes: &[u8]) -> Result<Owned, DecodeError> {
    to_function::read(bytes).map(|b| owned(&b, bytes))
}

fn any_address() -> impl Strategy<Value = pb::Address> {
    ("\\PC{0,8}", "\\PC{0,8}", "\\PC{0,12}").prop_map(|(namespace, r#type, id)| pb::Address {
        namespace,
        r#type,
        id,
    })
}

fn any_value() -> impl Strategy<Value = pb::TypedValue> {
    (
        "\\PC{0,20}",
        any::<bool>(),
        proptest::collection::vec(any::<u8>(), 0..40),
    )
        .prop_map(|(typename, has_value, value)| pb::TypedValue {
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
    address: BoxedStrategy<pb::Address>,
    value: BoxedStrategy<pb::TypedValue>,
    state_name: BoxedStrategy<String>,
    count: std::ops::Range<usize>,
) -> impl Strategy<Value = ToFunction> {
    let state =
        (state_name, proptest::option::of(value.clone())).prop_map(|(state_name, state_value)| {
            pbt::PersistedValue {
                state_name,
                state_value,
            }
        });
    let invocation = (
        proptest::option::of(address.clone()),
        proptest::option::of(value),
    )
        .prop_map(|(caller, argument)| pbt::Invocation { caller, argument });
    (
        proptest::option::of(address),
        proptest::collection::vec(state, count.clone()),
        proptest::collection::vec(invocation, count),
    )
        .prop_map(|(target, state, invocations)| ToFunction {
            request: Some(pbt::Request::Invocation(pbt::InvocationBatchRequest {
                target,
                state,
                invocations,
            })),
        })
}

proptest! {
    #[test]
    fn decodes_what_prost_encodes(request in any_request()) {
        let bytes = request.encode_to_vec();
        let ours = read(&bytes).expect("valid request");
        prop_assert_eq!(Some(ours), expected(&request));
    }

    #[test]
    fn unknown_fields_are_skipped(request in any_request(), junk in 0_u8..4) {
        // Append an unknown field of each wire type at the top level:
        // field 7 (varint, fixed64, bytes, fixed32).
        let unknown: &[u8] = match junk {
            0 => &[0x38, 0x96, 0x01],
            1 => &[0x39, 1, 2, 3, 4, 5, 6, 7, 8],
            2 => &[0x3a, 0x02, 0xaa, 0xbb],
            _ => &[0x3d, 1, 2, 3, 4],
        };
        let mut bytes = request.encode_to_vec();
        bytes.extend_from_slice(unknown);
        let ours = read(&bytes).expect("valid request");
        prop_assert_eq!(Some(ours), expected(&request));
    }

    /// Flips, inserts or removes one byte of a valid request: the reader
    /// must agree with prost on whether it is valid and on what it holds.
    /// For a long run: `PROPTEST_CASES=200000 cargo test --release -p
    /// statefun-protocol --lib mutated_requests`.
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

    /// A request sent in two pieces: the batches merge (the target's
    /// fields, the states and invocations appended), as in prost.
    #[test]
    fn concatenated_requests_merge_as_prost_merges_them(
        first in any_request(),
        second in any_request(),
    ) {
        let mut bytes = first.encode_to_vec();
        bytes.extend(second.encode_to_vec());
        let mut fast = Batch::default();
        prop_assert!(to_function::read_canonical(&bytes, &mut fast).is_none());
        agrees_with_prost(&bytes, &format!("{:02x?}", &bytes[..]))?;
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
        if let Ok(ours) = read(&bytes) {
            let theirs = ToFunction::decode(&bytes[..]).expect("prost accepts it too");
            prop_assert_eq!(Some(ours), expected(&theirs));
        }
    }
}

/// Checks that our reader accepts what prost accepts, with the same
/// result, and rejects what it rejects; `what` describes `bytes`.
fn agrees_with_prost(bytes: &[u8], what: &str) -> Result<(), TestCaseError> {
    let ours = read(bytes);
    let theirs = ToFunction::decode(bytes).map(|t| expected(&t));
    match (&ours, &theirs) {
        (Ok(o), Ok(Some(t))) => prop_assert_eq!(o, t),
        (Err(_), Err(_)) => {}
        // prost leaves the oneof empty; we reject a request without a batch.
        (Err(e), Ok(None)) if e.problem() == Problem::NoInvocationBatch => {}
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

/// The batch each path decodes from `bytes`: the fast path's (`None` when
/// it declines) and the general path's.
fn both_paths(bytes: &[u8]) -> (Option<Owned>, Result<Owned, DecodeError>) {
    let mut fast = Batch::default();
    let fast = to_function::read_canonical(bytes, &mut fast).map(|()| owned(&fast, bytes));
    let mut general = Batch::default();
    let general = to_function::read_general(bytes, &mut general).map(|()| owned(&general, bytes));
    (fast, general)
}

proptest! {
    /// Everything prost writes (as the runtime's protobuf-java does) takes
    /// the fast path, which decodes it as the general path does.
    #[test]
    fn the_fast_path_takes_what_prost_writes(request in any_request()) {
        let bytes = request.encode_to_vec();
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
        let (fast, general) = both_paths(bytes);
        assert_eq!(fast, None, "{bytes:02x?}");
        assert!(general.is_ok(), "{bytes:02x?}: {general:?}");
        assert_eq!(read(bytes).unwrap(), general.unwrap(), "{bytes:02x?}");
        agrees_with_prost(bytes, "a request off the fast path").unwrap();
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
        let ours = read(&request).unwrap();
        let theirs = expected(&ToFunction::decode(&request[..]).unwrap()).unwrap();
        assert_eq!(ours, theirs, "{unknown:02x?}");
        assert_eq!(ours.target, Some(("ns".into(), "fn".into(), "1".into())));
    }
}

#[test]
fn repeated_singular_messages_merge() {
    // target{namespace:"a"} then target{id:"x"}: one target a//x.
    let bytes = b"\xa2\x06\x0c\x0a\x03\x0a\x01a\x0a\x03\x1a\x01x\x12\x00";
    let batch = read(bytes).unwrap();
    assert_eq!(batch.target, Some(("a".into(), String::new(), "x".into())));
    assert_eq!(batch.states.len(), 1);
    assert_eq!(
        Some(batch),
        expected(&ToFunction::decode(&bytes[..]).unwrap())
    );
}

// --- Long fields: length prefixes of two to five bytes ----------------------

fn any_long_address() -> impl Strategy<Value = pb::Address> {
    (any_text(), any_text(), any_text()).prop_map(|(namespace, r#type, id)| pb::Address {
        namespace,
        r#type,
        id,
    })
}

fn any_long_value() -> impl Strategy<Value = pb::TypedValue> {
    (any_text(), any::<bool>(), long_bytes()).prop_map(|(typename, has_value, value)| {
        pb::TypedValue {
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
            if let Some(pbt::Request::Invocation(batch)) = &mut request.request {
                add_value(batch, filler(len, seed), in_state);
            }
            request
        })
}

/// Adds a state holding `value` (when `in_state`) or an invocation whose
/// argument it is.
fn add_value(batch: &mut pbt::InvocationBatchRequest, value: bytes::Bytes, in_state: bool) {
    let value = Some(pb::TypedValue {
        typename: "com.example/v".into(),
        has_value: true,
        value,
    });
    if in_state {
        batch.state.push(pbt::PersistedValue {
            state_name: "s".into(),
            state_value: value,
        });
    } else {
        batch.invocations.push(pbt::Invocation {
            caller: Some(pb::Address {
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
    let bytes = request.encode_to_vec();
    let (fast, general) = both_paths(&bytes);
    prop_assert!(
        fast.is_some(),
        "declined a request of {} bytes",
        bytes.len()
    );
    prop_assert_eq!(fast.as_ref(), general.as_ref().ok());
    prop_assert_eq!(fast, expected(request));
    let ours = read(&bytes).expect("valid request");
    prop_assert_eq!(Some(ours), expected(request));
    Ok(())
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
    /// reader with prost.
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
            let mut batch = pbt::InvocationBatchRequest {
                target: Some(pb::Address {
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
                request: Some(pbt::Request::Invocation(batch)),
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
        let (fast, general) = both_paths(&bytes);
        assert_eq!(fast.is_some(), takes, "{prefix:02x?}");
        assert_eq!(general.is_ok(), valid, "{prefix:02x?}: {general:?}");
        if !valid {
            assert_eq!(
                general.as_ref().map_err(DecodeError::problem).err(),
                Some(Problem::LengthPastEnd),
                "{prefix:02x?}"
            );
        }
        let prost = ToFunction::decode(&bytes[..]);
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
    let bytes = b"\xa2\x06\x09\x0a\x83\x80\x80\x80\x00\x1a\x01x";
    let (fast, general) = both_paths(bytes);
    assert!(fast.is_some());
    assert_eq!(fast.as_ref(), general.as_ref().ok());
    assert_eq!(fast, expected(&ToFunction::decode(&bytes[..]).unwrap()));
}

/// Addresses that are not all ASCII take the per-field UTF-8 check on the
/// fast path: valid ones decode as prost decodes them, invalid ones are
/// rejected by both.
#[test]
fn non_ascii_addresses_are_checked_field_by_field() {
    let request = |id: &[u8]| {
        let mut bytes = ToFunction {
            request: Some(pbt::Request::Invocation(pbt::InvocationBatchRequest {
                target: Some(pb::Address {
                    namespace: "ns".into(),
                    r#type: "fn".into(),
                    id: "?".repeat(id.len()),
                }),
                ..Default::default()
            })),
        }
        .encode_to_vec();
        // The id is the last field: replace its placeholder bytes.
        let at = bytes.len() - id.len();
        bytes[at..].copy_from_slice(id);
        bytes
    };
    for id in ["é".as_bytes(), "user-é-7".as_bytes(), "日本".as_bytes()] {
        let bytes = request(id);
        assert!(matches!(both_paths(&bytes), (Some(_), Ok(_))), "{id:?}");
        agrees_with_prost(&bytes, "a valid non-ASCII id").unwrap();
    }
    for id in [&b"\xc3"[..], b"ab\xff", b"\xe6\x97"] {
        let bytes = request(id);
        let error = read(&bytes).expect_err("not UTF-8");
        assert_eq!(
            error.problem(),
            Problem::InvalidUtf8 { field: "id" },
            "{id:?}"
        );
        assert_eq!(error.to_string(), "invalid UTF-8 in field id in Address");
        assert!(ToFunction::decode(&bytes[..]).is_err(), "{id:?}");
        agrees_with_prost(&bytes, "an id that is not UTF-8").unwrap();
    }
}

/// `read_into` an empty batch answers what `read` does, on either path.
#[test]
fn read_into_reads_as_read_does() {
    let cases: [&[u8]; 4] = [
        b"\xa2\x06\x0d\x0a\x0b\x0a\x02ns\x12\x02fn\x1a\x011",
        b"\xa2\x06\x09\x1a\x00\x0a\x05\x0a\x01a\x12\x00",
        b"\x38\x01",
        b"\xa2\x06\x05\x0a",
    ];
    for bytes in cases {
        let mut batch = Batch::default();
        let into = to_function::read_into(bytes, &mut batch).map(|()| batch);
        assert_eq!(into, to_function::read(bytes), "{bytes:02x?}");
    }
    assert_eq!(
        read(b"\x38\x01").unwrap_err().to_string(),
        "the ToFunction carries no invocation batch"
    );
}
