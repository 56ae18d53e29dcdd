//! Compile-time behaviour of the macros: what compiles, and the exact
//! diagnostics for what does not. Bless new output with
//! `TRYBUILD=overwrite cargo test -p statefun-macros --test ui` and review
//! the `.stderr` diff.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.pass("tests/ui/*/pass/*.rs");
    t.compile_fail("tests/ui/*/fail/*.rs");
}
