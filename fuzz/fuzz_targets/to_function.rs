//! `statefun_protocol::wire::to_function::read`, the SDK's request reader, on
//! arbitrary bytes:
//! * it never panics;
//! * its fast path (`read_canonical`), whenever it answers, answers what
//!   the general path (`read_general`) answers;
//! * it accepts exactly what prost's `ToFunction::decode` accepts with an
//!   invocation batch (`NoInvocationBatch` when prost decodes a message
//!   without one), and then reads the same batch.
#![no_main]

use libfuzzer_sys::fuzz_target;
use prost::Message as _;
use statefun_protocol::reqreply::{self as pb, ToFunction, to_function as pbt};
use statefun_protocol::wire::to_function::{self, Batch};
use statefun_protocol::wire::{Address, Problem, Span, TypedValue};

type OwnedAddress = (String, String, String);
type OwnedValue = (String, bool, Vec<u8>);

/// A batch with its strings and bytes copied out, to compare with prost's.
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

fn expected(b: &pbt::InvocationBatchRequest) -> Owned {
    let address = |a: &pb::Address| (a.namespace.clone(), a.r#type.clone(), a.id.clone());
    let value = |v: &pb::TypedValue| (v.typename.clone(), v.has_value, v.value.to_vec());
    Owned {
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
    }
}

fuzz_target!(|data: &[u8]| {
    let ours = to_function::read(data);

    // The two paths.
    let mut fast = Batch::default();
    if to_function::read_canonical(data, &mut fast).is_some() {
        let mut general = Batch::default();
        match to_function::read_general(data, &mut general) {
            Ok(()) => assert_eq!(
                fast, general,
                "the fast path disagrees with the general path"
            ),
            Err(e) => panic!("the fast path accepts what the general path refuses ({e})"),
        }
        assert_eq!(
            ours.as_ref().ok(),
            Some(&fast),
            "read does not answer the fast path's batch"
        );
    }

    // Against prost.
    match (ours, ToFunction::decode(data)) {
        (
            Ok(batch),
            Ok(ToFunction {
                request: Some(pbt::Request::Invocation(b)),
            }),
        ) => {
            assert_eq!(
                owned(&batch, data),
                expected(&b),
                "read a different batch than prost"
            );
        }
        (Ok(_), Ok(ToFunction { request: None })) => {
            panic!("accepted a ToFunction without a batch");
        }
        (Ok(_), Err(e)) => panic!("accepted what prost refuses ({e})"),
        (Err(e), Ok(ToFunction { request: None })) => {
            assert_eq!(
                e.problem(),
                Problem::NoInvocationBatch,
                "prost decodes it without a batch: {e}"
            );
        }
        (Err(e), Ok(theirs)) => panic!("refused ({e}) what prost decodes: {theirs:?}"),
        (Err(e), Err(_)) => {
            assert_ne!(
                e.problem(),
                Problem::NoInvocationBatch,
                "prost refuses it: not merely without a batch"
            );
        }
    }
});
