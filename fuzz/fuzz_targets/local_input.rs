//! statefun-local's input-line parser (`Routes::parse_line`,
//! statefun-local/src/input.rs) on arbitrary UTF-8 lines, with the
//! shopping cart's module.yaml: it never panics; errors are fine.
//!
//! statefun-local is a binary crate. Its `input` module and the two it
//! uses (`module`, `values`) are compiled into this target as they are,
//! with `#[path]`: statefun-local keeps no library seam for the fuzzer,
//! and these three files name nothing else of it (`crate::module` and
//! `crate::values` resolve to the same modules here).
#![no_main]
#![allow(dead_code)]

#[path = "../../statefun-local/src/input.rs"]
mod input;
#[path = "../../statefun-local/src/module.rs"]
mod module;
#[path = "../../statefun-local/src/values.rs"]
mod values;

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;

static ROUTES: LazyLock<input::Routes> = LazyLock::new(|| {
    let text = include_str!("../../examples/shopping-cart/deploy/module.yaml");
    input::Routes::new(module::Module::parse("module.yaml", text, true).expect("the cart's module"))
});

fuzz_target!(|data: &[u8]| {
    if let Ok(line) = std::str::from_utf8(data) {
        let _ = ROUTES.parse_line(line);
    }
});
