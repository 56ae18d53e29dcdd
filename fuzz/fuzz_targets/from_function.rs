//! `statefun_protocol::wire::from_function::read`, the runtimes' (harness,
//! statefun-local) reader of a function's answer, on arbitrary bytes: it
//! never panics, and accepts exactly what prost's `FromFunction::decode`
//! accepts, with the same response kind and the same number of each kind
//! of effect (or of missing values).
#![no_main]

use libfuzzer_sys::fuzz_target;
use prost::Message as _;
use statefun_protocol::reqreply::{FromFunction, from_function as pbf};
use statefun_protocol::wire::from_function::{self, Response};

fuzz_target!(|data: &[u8]| {
    match (from_function::read(data), FromFunction::decode(data)) {
        (Ok(None), Ok(FromFunction { response: None })) | (Err(_), Err(_)) => {}
        (
            Ok(Some(Response::Result(ours))),
            Ok(FromFunction {
                response: Some(pbf::Response::InvocationResult(theirs)),
            }),
        ) => {
            let counts = (
                ours.state_mutations().count(),
                ours.outgoing_messages().count(),
                ours.delayed_invocations().count(),
                ours.outgoing_egresses().count(),
            );
            let prost = (
                theirs.state_mutations.len(),
                theirs.outgoing_messages.len(),
                theirs.delayed_invocations.len(),
                theirs.outgoing_egresses.len(),
            );
            assert_eq!(counts, prost, "a different number of effects than prost");
        }
        (
            Ok(Some(Response::Incomplete(ours))),
            Ok(FromFunction {
                response: Some(pbf::Response::IncompleteInvocationContext(theirs)),
            }),
        ) => {
            assert_eq!(
                ours.len(),
                theirs.missing_values.len(),
                "a different number of missing values than prost"
            );
        }
        (Ok(ours), Ok(theirs)) => panic!("read {ours:?}, prost {theirs:?}"),
        (Ok(ours), Err(e)) => panic!("accepted what prost refuses ({e}): {ours:?}"),
        (Err(e), Ok(theirs)) => panic!("refused ({e}) what prost decodes: {theirs:?}"),
    }
});
