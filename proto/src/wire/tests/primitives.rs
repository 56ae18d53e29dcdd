//! The primitives the message readers and writers share: varints, keys,
//! [`Span`], [`Reader`] and [`Writer`], against `prost::encoding`.

use proptest::prelude::*;
use prost::Message as _;
use prost::encoding::{self as pe, WireType};

use crate::reqreply::{FromFunction, ToFunction};
use crate::wire::{
    DecodeError, END_GROUP, FIXED32, FIXED64, LEN, Problem, RECURSION_LIMIT, Reader, START_GROUP,
    Span, VARINT, Writer, bytes_field_len, from_function, int64_bits, key_len, message_field_len,
    to_function, varint_field_len, varint_len,
};

/// prost's varint of `value`.
fn prost_varint(value: u64) -> Vec<u8> {
    let mut buf = Vec::new();
    pe::encode_varint(value, &mut buf);
    buf
}

/// prost's reading of a varint from `bytes`: its value and how many bytes
/// it took.
fn prost_read_varint(bytes: &[u8]) -> Option<(u64, usize)> {
    let mut buf = bytes;
    let value = pe::decode_varint(&mut buf).ok()?;
    Some((value, bytes.len() - buf.len()))
}

#[test]
fn varints_of_every_width() {
    for width in 1..=10_u32 {
        // The smallest and largest values of this width, and one between.
        let low = if width == 1 {
            0
        } else {
            1_u64 << (7 * (width - 1))
        };
        let high = if width == 10 {
            u64::MAX
        } else {
            (1_u64 << (7 * width)) - 1
        };
        for value in [low, high, low + (high - low) / 3] {
            let bytes = prost_varint(value);
            assert_eq!(bytes.len(), width as usize, "{value}");
            assert_eq!(varint_len(value), width as usize, "{value}");
            assert_eq!(varint_len(value), pe::encoded_len_varint(value), "{value}");
            // Read, and nothing left after it.
            let mut reader = Reader::new(&bytes, "Test");
            assert_eq!(reader.varint(), Ok(value), "{value}");
            assert_eq!(reader.key(), Ok(None), "{value}");
            // Written by our writer: the same bytes.
            let ours = Writer::exact(varint_len(value), |w| w.varint(value));
            assert_eq!(ours, bytes, "{value}");
            // Cut short by one byte: truncated, for prost too.
            let cut = &bytes[..bytes.len() - 1];
            assert_eq!(
                Reader::new(cut, "Test").varint().map_err(|e| e.problem()),
                Err(Problem::TruncatedVarint),
                "{value}"
            );
            assert!(prost_read_varint(cut).is_none(), "{value}");
        }
    }
}

#[test]
fn varints_past_64_bits_overflow() {
    let overflow = |bytes: &[u8]| {
        let error = Reader::new(bytes, "Test").varint().expect_err("refused");
        assert_eq!(error.problem(), Problem::VarintOverflow, "{bytes:02x?}");
        assert_eq!(error.to_string(), "varint longer than 64 bits in Test");
        assert!(prost_read_varint(bytes).is_none(), "{bytes:02x?}");
    };
    // u64::MAX, then one bit more in the tenth byte.
    let max = [[0xff; 9].as_slice(), &[0x01]].concat();
    assert_eq!(Reader::new(&max, "Test").varint(), Ok(u64::MAX));
    overflow(&[[0xff; 9].as_slice(), &[0x02]].concat());
    overflow(&[[0x80; 9].as_slice(), &[0x7f]].concat());
    overflow(&[[0xff; 9].as_slice(), &[0x81, 0x00]].concat());
    // Eleven bytes: a tenth byte that goes on.
    overflow(&[[0x80; 10].as_slice(), &[0x00]].concat());
    overflow(&[0xff; 11]);
    // Padded to ten bytes: still one.
    let padded = [[0x81].as_slice(), &[0x80; 8], &[0x00]].concat();
    assert_eq!(Reader::new(&padded, "Test").varint(), Ok(1));
    assert_eq!(prost_read_varint(&padded), Some((1, 10)));
}

proptest! {
    /// Any bytes: the same value, or an error, as prost.
    #[test]
    fn varints_read_as_prost_reads_them(
        bytes in prop_oneof![
            prop::collection::vec(any::<u8>(), 0..12),
            prop::collection::vec(0x80_u8.., 0..12).prop_map(|mut b| { b.push(0); b }),
            prop::collection::vec(0x80_u8.., 9).prop_map(|mut b| { b.push(1); b }),
        ],
    ) {
        // Varint after varint until the first that does not read: the same
        // values, so the same bytes taken by each.
        let mut reader = Reader::new(&bytes, "Test");
        let mut theirs = &bytes[..];
        let (mut ours_all, mut theirs_all) = (Vec::new(), Vec::new());
        while let Ok(v) = reader.varint() {
            ours_all.push(v);
        }
        while let Ok(v) = pe::decode_varint(&mut theirs) {
            theirs_all.push(v);
        }
        prop_assert_eq!(ours_all, theirs_all, "{:02x?}", bytes);
        prop_assert_eq!(Reader::new(&bytes, "Test").varint().ok(), prost_read_varint(&bytes).map(|(v, _)| v));
    }

    #[test]
    fn varints_write_as_prost_writes_them(value in prop_oneof![
        any::<u64>(),
        (0_u32..64).prop_map(|shift| 1_u64 << shift),
        (1_u32..64).prop_map(|shift| (1_u64 << shift) - 1),
    ]) {
        let ours = Writer::exact(varint_len(value), |w| w.varint(value));
        prop_assert_eq!(&ours, &prost_varint(value));
        prop_assert_eq!(varint_len(value), pe::encoded_len_varint(value));
        prop_assert_eq!(Reader::new(&ours, "Test").varint(), Ok(value));
    }

    /// Keys of every field number and wire type, as prost writes and reads
    /// them.
    #[test]
    fn keys_read_and_write_as_prost_does(
        field in prop_oneof![1_u32..16, 16_u32..2048, 1_u32..(1 << 29)],
        wire_type in 0_u8..6,
    ) {
        let wire = WireType::try_from(u64::from(wire_type)).unwrap();
        let mut theirs = Vec::new();
        pe::encode_key(field, wire, &mut theirs);
        let ours = Writer::exact(key_len(field), |w| w.key(field, wire_type));
        prop_assert_eq!(&ours, &theirs);
        prop_assert_eq!(key_len(field), pe::key_len(field));
        let mut reader = Reader::new(&ours, "Test");
        prop_assert_eq!(reader.key(), Ok(Some((field, wire_type))));
        prop_assert_eq!(reader.key(), Ok(None));
    }
}

#[test]
fn keys_past_32_bits_and_of_field_0_are_refused() {
    let key = |bytes: &[u8]| Reader::new(bytes, "Test").key().map_err(|e| e.problem());
    let prost_key = |bytes: &[u8]| {
        let mut buf = bytes;
        pe::decode_key(&mut buf).ok()
    };
    // 2^32 and u64::MAX: more than 32 bits.
    for bytes in [
        &b"\x80\x80\x80\x80\x10"[..],
        b"\xf8\xff\xff\xff\x1f",
        b"\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01",
    ] {
        assert_eq!(key(bytes), Err(Problem::InvalidKey), "{bytes:02x?}");
        assert!(prost_key(bytes).is_none(), "{bytes:02x?}");
    }
    assert_eq!(
        Reader::new(b"\x80\x80\x80\x80\x10", "Test")
            .key()
            .unwrap_err()
            .to_string(),
        "field key larger than 32 bits in Test"
    );
    // The largest key: field 2^29 - 1, wire type 7 (refused when skipped).
    assert_eq!(key(b"\xff\xff\xff\xff\x0f"), Ok(Some(((1 << 29) - 1, 7))));
    // The largest field number with a valid wire type.
    assert_eq!(
        key(b"\xf8\xff\xff\xff\x0f"),
        Ok(Some(((1 << 29) - 1, VARINT)))
    );
    assert_eq!(
        prost_key(b"\xf8\xff\xff\xff\x0f"),
        Some(((1 << 29) - 1, WireType::Varint))
    );
    // Field 0, in one byte and padded.
    for bytes in [&b"\x00"[..], b"\x02", b"\x07", b"\x80\x00", b"\x87\x00"] {
        assert_eq!(key(bytes), Err(Problem::FieldNumberZero), "{bytes:02x?}");
        assert!(prost_key(bytes).is_none(), "{bytes:02x?}");
    }
    // A key cut short.
    assert_eq!(key(b"\x88"), Err(Problem::TruncatedVarint));
    // A padded key of field 1.
    assert_eq!(key(b"\x88\x00"), Ok(Some((1, VARINT))));
    assert_eq!(prost_key(b"\x88\x00"), Some((1, WireType::Varint)));
}

#[test]
fn spans() {
    let buf = b"abcdefg";
    let span = Span::new(2, 5);
    assert_eq!(span.raw(buf), b"cde");
    assert_eq!(span.str(buf), "cde");
    assert_eq!(span.len(), 3);
    assert!(!span.is_empty());
    assert_eq!(span.range(), 2..5);
    // Empty ones.
    assert!(Span::default().is_empty());
    assert_eq!(Span::default().raw(buf), b"");
    assert!(Span::new(4, 4).is_empty());
    // Backwards: empty, no bytes.
    let backwards = Span::new(5, 2);
    assert!(backwards.is_empty());
    assert_eq!(backwards.len(), 0);
    assert_eq!(backwards.raw(buf), b"");
    // Past the buffer (a span of another one): no bytes.
    assert_eq!(Span::new(5, 9).raw(buf), b"");
    assert_eq!(Span::new(5, 9).str(buf), "");
    // Not UTF-8: no text.
    assert_eq!(Span::new(0, 2).str(b"\xff\xfe"), "");
    assert_eq!(Span::new(0, 2).raw(b"\xff\xfe"), b"\xff\xfe");
    // Offsets past 32 bits saturate.
    let saturated = Span::new(2, usize::MAX);
    assert_eq!(saturated.len(), u32::MAX as usize - 2);
    assert_eq!(saturated.raw(buf), b"");
    assert!(Span::new(usize::MAX, usize::MAX).is_empty());
    assert_eq!(Span::new(5, 9), Span::new(5, 9));
    assert_ne!(Span::new(5, 9), Span::new(5, 8));
}

#[test]
fn readers_read_each_kind_of_field() {
    // 1: varint 150; 2: "hi"; 3: fixed64; 4: fixed32; 5: int64 -2;
    // 6: int32 of 2^32 + 5 (5, as prost reads it); 7: bool 2 (true);
    // 8: a message holding field 1 "x"; 9: bytes "\xff".
    let mut buf = b"\x08\x96\x01\x12\x02hi".to_vec();
    buf.extend_from_slice(b"\x19\x01\x02\x03\x04\x05\x06\x07\x08\x25\x01\x02\x03\x04");
    buf.push(0x28);
    pe::encode_varint(int64_bits(-2), &mut buf);
    buf.push(0x30);
    pe::encode_varint((1 << 32) + 5, &mut buf);
    buf.extend_from_slice(b"\x38\x02\x42\x03\x0a\x01x\x4a\x01\xff");
    let mut r = Reader::new(&buf, "Example");
    assert_eq!(r.buf(), &buf[..]);
    assert_eq!(r.key(), Ok(Some((1, VARINT))));
    assert_eq!(r.uint("a", VARINT), Ok(150));
    assert_eq!(r.key(), Ok(Some((2, LEN))));
    assert_eq!(r.text("b", LEN).map(|s| s.raw(&buf)), Ok(&b"hi"[..]));
    assert_eq!(r.key(), Ok(Some((3, FIXED64))));
    r.skip(3, FIXED64).unwrap();
    assert_eq!(r.key(), Ok(Some((4, FIXED32))));
    r.skip(4, FIXED32).unwrap();
    assert_eq!(r.key(), Ok(Some((5, VARINT))));
    assert_eq!(r.int64("e", VARINT), Ok(-2));
    assert_eq!(r.key(), Ok(Some((6, VARINT))));
    assert_eq!(r.int32("f", VARINT), Ok(5));
    assert_eq!(r.key(), Ok(Some((7, VARINT))));
    assert_eq!(r.bool("g", VARINT), Ok(true));
    assert_eq!(r.key(), Ok(Some((8, LEN))));
    let mut nested = r.nested("h", LEN, "Nested").unwrap();
    assert_eq!(nested.key(), Ok(Some((1, LEN))));
    // Spans of a nested message are of the whole buffer.
    assert_eq!(nested.text("x", LEN).map(|s| s.raw(&buf)), Ok(&b"x"[..]));
    assert_eq!(nested.key(), Ok(None));
    assert_eq!(r.key(), Ok(Some((9, LEN))));
    assert_eq!(r.bytes("i", LEN).map(|s| s.raw(&buf)), Ok(&b"\xff"[..]));
    assert_eq!(r.key(), Ok(None));
    assert_eq!(r.key(), Ok(None));

    // The same, in prost's reading: field 5 as int64, 6 as int32.
    let mut theirs = &buf[..];
    let mut found = Vec::new();
    while !theirs.is_empty() {
        let (field, wire) = pe::decode_key(&mut theirs).unwrap();
        if field == 5 {
            let mut v = 0_i64;
            pe::int64::merge(wire, &mut v, &mut theirs, pe::DecodeContext::default()).unwrap();
            found.push(v);
        } else if field == 6 {
            let mut v = 0_i32;
            pe::int32::merge(wire, &mut v, &mut theirs, pe::DecodeContext::default()).unwrap();
            found.push(i64::from(v));
        } else {
            pe::skip_field(wire, field, &mut theirs, pe::DecodeContext::default()).unwrap();
        }
    }
    assert_eq!(found, [-2, 5]);
}

#[test]
fn readers_refuse_what_protobuf_refuses() {
    let problem = |bytes: &[u8], read: &dyn Fn(&mut Reader<'_>) -> Result<(), DecodeError>| {
        let mut reader = Reader::new(bytes, "Test");
        read(&mut reader).map_err(|e| e.problem())
    };
    // A wrong wire type names the field.
    let error = Reader::new(b"", "Test")
        .expect("name", VARINT, LEN)
        .unwrap_err();
    assert_eq!(
        error.problem(),
        Problem::WrongWireType {
            field: "name",
            wire_type: VARINT
        }
    );
    assert_eq!(error.message(), "Test");
    assert_eq!(
        error.to_string(),
        "wrong wire type 0 for field name in Test"
    );
    assert_eq!(Reader::new(b"", "Test").expect("name", LEN, LEN), Ok(()));
    assert_eq!(
        problem(b"\x05", &|r| r.uint("n", LEN).map(drop)),
        Err(Problem::WrongWireType {
            field: "n",
            wire_type: LEN
        })
    );
    // A length past the end.
    assert_eq!(
        problem(b"\x03ab", &|r| r.bytes("b", LEN).map(drop)),
        Err(Problem::LengthPastEnd)
    );
    // Text that is not UTF-8.
    assert_eq!(
        problem(b"\x02\xc3\x28", &|r| r.text("t", LEN).map(drop)),
        Err(Problem::InvalidUtf8 { field: "t" })
    );
    assert_eq!(
        DecodeError::new(Problem::InvalidUtf8 { field: "t" }, "Test").to_string(),
        "invalid UTF-8 in field t in Test"
    );
    // Fixed-width fields cut short.
    assert_eq!(
        problem(b"\x01\x02\x03", &|r| r.skip(1, FIXED32)),
        Err(Problem::TruncatedFixed)
    );
    assert_eq!(
        problem(b"\x01\x02\x03\x04\x05\x06\x07", &|r| r.skip(1, FIXED64)),
        Err(Problem::TruncatedFixed)
    );
    assert_eq!(
        problem(b"\x01\x02\x03\x04", &|r| r.skip(1, FIXED32)),
        Ok(())
    );
    // Wire types 6 and 7, and a stray end-group.
    for wire_type in [6, 7, END_GROUP] {
        assert_eq!(
            problem(b"\x00", &|r| r.skip(1, wire_type)),
            Err(Problem::UnsupportedWireType(wire_type))
        );
    }
    // Groups: skipped to their end; unterminated; closed by another.
    assert_eq!(
        problem(b"\x08\x01\x0c", &|r| r.skip(1, START_GROUP)),
        Ok(())
    );
    assert_eq!(
        problem(b"\x08\x01", &|r| r.skip(1, START_GROUP)),
        Err(Problem::UnterminatedGroup)
    );
    assert_eq!(
        problem(b"\x14", &|r| r.skip(1, START_GROUP)),
        Err(Problem::MismatchedEndGroup)
    );
    // Errors name the reader's message.
    let error = Reader::new(b"", "Somewhere").error(Problem::TooDeep);
    assert_eq!(error, DecodeError::new(Problem::TooDeep, "Somewhere"));
    assert_eq!(error.message(), "Somewhere");
}

/// Messages nested `depth` deep, each field 1 of the one around it.
fn nested_messages(depth: usize) -> Vec<u8> {
    let mut message = Vec::new();
    for _ in 0..depth {
        let mut outer = vec![0x0a];
        pe::encode_varint(message.len() as u64, &mut outer);
        outer.extend_from_slice(&message);
        message = outer;
    }
    message
}

#[test]
fn messages_nest_as_deep_as_the_limit() {
    let limit = RECURSION_LIMIT as usize;
    let buf = nested_messages(limit + 1);
    let mut reader = Reader::new(&buf, "Outer");
    for level in 0..limit {
        assert_eq!(reader.key(), Ok(Some((1, LEN))), "{level}");
        reader = reader
            .nested("inner", LEN, "Inner")
            .expect("within the limit");
    }
    // At the limit: neither a message nor an unknown field goes deeper.
    let mut skipping = reader.clone();
    assert_eq!(reader.key(), Ok(Some((1, LEN))));
    assert_eq!(
        reader
            .nested("inner", LEN, "Inner")
            .map(drop)
            .map_err(|e| e.problem()),
        Err(Problem::TooDeep)
    );
    assert_eq!(skipping.key(), Ok(Some((1, LEN))));
    assert_eq!(
        skipping.skip(1, LEN).map_err(|e| e.problem()),
        Err(Problem::TooDeep)
    );
}

/// `groups` unknown groups (field 9) nested in each other.
fn groups(depth: usize) -> Vec<u8> {
    [vec![0x4b; depth], vec![0x4c; depth]].concat()
}

/// `body` as field `key` (its key's bytes) of a message.
fn field(key: &[u8], body: &[u8]) -> Vec<u8> {
    let mut out = key.to_vec();
    pe::encode_varint(body.len() as u64, &mut out);
    out.extend_from_slice(body);
    out
}

/// Unknown groups inside known messages: each level of message counts
/// against the limit as in prost, so both readers take what prost takes.
#[test]
fn groups_in_messages_nest_as_deep_as_prost_allows() {
    for depth in 95..=101 {
        let inner = groups(depth);
        // FromFunction, invocation_result, outgoing_messages, target.
        let answers = [
            inner.clone(),
            field(b"\xa2\x06", &inner),
            field(b"\xa2\x06", &field(b"\x12", &inner)),
            field(b"\xa2\x06", &field(b"\x12", &field(b"\x0a", &inner))),
        ];
        for (level, bytes) in answers.iter().enumerate() {
            let ours = from_function::read(bytes);
            let theirs = FromFunction::decode(&bytes[..]);
            assert_eq!(
                ours.is_ok(),
                theirs.is_ok(),
                "{depth} groups at level {level}"
            );
            if let Err(e) = ours {
                assert_eq!(e.problem(), Problem::TooDeep, "{depth} at {level}");
            }
        }
        // ToFunction, invocation, invocations, caller.
        let requests = [
            field(b"\xa2\x06", &inner),
            field(b"\xa2\x06", &field(b"\x1a", &inner)),
            field(b"\xa2\x06", &field(b"\x1a", &field(b"\x0a", &inner))),
        ];
        for (level, bytes) in requests.iter().enumerate() {
            let ours = to_function::read(bytes);
            let theirs = ToFunction::decode(&bytes[..]);
            assert_eq!(
                ours.is_ok(),
                theirs.is_ok(),
                "{depth} groups at level {level}"
            );
            if let Err(e) = ours {
                assert_eq!(e.problem(), Problem::TooDeep, "{depth} at {level}");
            }
        }
    }
}

// --- Writing -----------------------------------------------------------------

#[test]
fn varint_fields() {
    for v in [
        1,
        127,
        128,
        300,
        16_383,
        16_384,
        u64::from(u32::MAX),
        u64::MAX,
    ] {
        let buf = Writer::exact(varint_field_len(5, v), |w| w.varint_field(5, v));
        assert_eq!(buf.len(), varint_field_len(5, v), "{v}");
        let mut read = &buf[..];
        assert_eq!(pe::decode_varint(&mut read).ok(), Some(5 << 3));
        assert_eq!(pe::decode_varint(&mut read).ok(), Some(v));
        assert!(read.is_empty());
    }
    // Zero is left out, as proto3 does.
    let buf = Writer::exact(varint_field_len(5, 0), |w| w.varint_field(5, 0));
    assert!(buf.is_empty());
    assert_eq!(varint_field_len(5, 0), 0);
    // int64 on the wire: negatives take ten bytes.
    assert_eq!(int64_bits(-1), u64::MAX);
    assert_eq!(varint_field_len(1, int64_bits(-1)), 11);
}

proptest! {
    /// Fields as prost writes them, and their sizes as prost counts them.
    #[test]
    fn fields_write_as_prost_writes_them(
        field in prop_oneof![1_u32..16, 16_u32..(1 << 29)],
        value in prop_oneof![Just(0_u64), any::<u64>()],
        bytes in prop_oneof![
            Just(Vec::new()),
            prop::collection::vec(any::<u8>(), 0..300),
            (16_380_usize..16_390).prop_map(|n| vec![7; n]),
        ],
    ) {
        let mut theirs = Vec::new();
        if value != 0 {
            pe::uint64::encode(field, &value, &mut theirs);
        }
        if !bytes.is_empty() {
            pe::bytes::encode(field, &bytes, &mut theirs);
        }
        // And a (present) message field whose body is `bytes`.
        pe::encode_key(field, WireType::LengthDelimited, &mut theirs);
        pe::encode_varint(bytes.len() as u64, &mut theirs);
        theirs.extend_from_slice(&bytes);
        let len = varint_field_len(field, value)
            + bytes_field_len(field, bytes.len())
            + message_field_len(field, bytes.len());
        prop_assert_eq!(len, theirs.len());
        let ours = Writer::exact(len, |w| {
            w.varint_field(field, value);
            w.bytes_field(field, &bytes);
            w.message_header(field, bytes.len());
            w.raw(&bytes);
        });
        prop_assert_eq!(ours, theirs);
        prop_assert_eq!(
            bytes_field_len(field, bytes.len()),
            if bytes.is_empty() { 0 } else { pe::bytes::encoded_len(field, &bytes) }
        );
        prop_assert_eq!(
            varint_field_len(field, value),
            if value == 0 { 0 } else { pe::uint64::encoded_len(field, &value) }
        );
    }

    /// `Writer::append` adds exactly the entry's bytes after what the
    /// buffer held, whether it has room for its 128-byte zero run or not,
    /// and never grows a buffer the entry fits in.
    #[test]
    fn appends_write_exactly_their_bytes(
        prefix in prop::collection::vec(any::<u8>(), 0..20),
        spare in prop_oneof![0_usize..128, 128_usize..=130, 130_usize..400],
        entry in prop_oneof![
            prop::collection::vec(any::<u8>(), 0..=128),
            prop::collection::vec(any::<u8>(), 129..400),
        ],
        byte_by_byte in any::<bool>(),
    ) {
        let mut out = Vec::with_capacity(prefix.len() + spare);
        out.extend_from_slice(&prefix);
        let capacity = out.capacity();
        Writer::append(&mut out, entry.len(), |w| {
            if byte_by_byte {
                for &b in &entry {
                    w.byte(b);
                }
            } else {
                w.raw(&entry);
            }
        });
        prop_assert_eq!(&out[..prefix.len()], &prefix[..]);
        prop_assert_eq!(&out[prefix.len()..], &entry[..]);
        if prefix.len() + entry.len() <= capacity {
            prop_assert_eq!(out.capacity(), capacity);
        }
        // And a second entry after it.
        let len = out.len();
        Writer::append(&mut out, bytes_field_len(1, 2), |w| w.bytes_field(1, b"hi"));
        prop_assert_eq!(&out[len..], b"\x0a\x02hi");
    }
}

#[test]
fn appends_at_the_zero_run_boundaries() {
    // Room for the zero run or one byte short of it, entries of up to it
    // and one past it: exactly the entry, after the prefix.
    for spare in [0, 1, 64, 127, 128, 129, 256] {
        for len in [0, 1, 127, 128, 129, 200] {
            let entry: Vec<u8> = (0..len)
                .map(|i| u8::try_from(i % 251).unwrap() + 1)
                .collect();
            let mut out = Vec::with_capacity(3 + spare);
            out.extend_from_slice(b"abc");
            let capacity = out.capacity();
            Writer::append(&mut out, len, |w| w.raw(&entry));
            assert_eq!(out, [&b"abc"[..], &entry].concat(), "{spare} {len}");
            if 3 + len <= capacity {
                assert_eq!(out.capacity(), capacity, "{spare} {len}");
            }
        }
    }
    // Into an empty buffer with no capacity at all.
    let mut out = Vec::new();
    Writer::append(&mut out, 0, |_| {});
    assert!(out.is_empty());
    let exact = Writer::exact(0, |_| {});
    assert!(exact.is_empty());
}
