//! `statefun_harness::Checkpoint::from_bytes` on arbitrary bytes: it
//! never panics nor aborts (no allocation sized by an unchecked length);
//! errors are fine. What it accepts writes back (`to_bytes`) to bytes it
//! reads again, to the same bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use statefun_harness::Checkpoint;

fuzz_target!(|data: &[u8]| {
    if let Ok(checkpoint) = Checkpoint::from_bytes(data) {
        let bytes = checkpoint.to_bytes();
        let again = match Checkpoint::from_bytes(&bytes) {
            Ok(again) => again,
            Err(e) => panic!("a checkpoint it read writes bytes it cannot read ({e})"),
        };
        assert_eq!(
            again.to_bytes(),
            bytes,
            "writing is not stable after one round trip"
        );
    }
});
