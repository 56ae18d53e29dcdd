//! A binary without a single `#[function]`: what a server whose functions
//! live in a library it never names looks like after linking. Its own test
//! binary, so that no other test's declarations register.

#![cfg(feature = "macros")]
#![allow(clippy::unwrap_used)]

use stateful_functions::{Functions, RegistryError, registered_functions};

#[test]
fn auto_registration_of_nothing_is_an_error_that_says_why() {
    assert!(registered_functions().is_empty());
    let err = Functions::auto_registered().unwrap_err();
    assert_eq!(err, RegistryError::NoneRegistered);
    let text = err.to_string();
    assert!(text.contains("no #[function] is registered"), "{text}");
    assert!(text.contains("library"), "{text}");
    assert!(text.contains("pub fn functions()"), "{text}");
    assert!(text.contains("as _;"), "{text}");
}

#[test]
fn adding_nothing_to_explicit_registrations_is_fine() {
    let mut functions = Functions::new();
    assert_eq!(functions.register_auto(), Ok(()));
    assert!(functions.is_empty());
}
