//! Two `#[function]`s with one type: automatic registration refuses them at
//! startup and names both declarations.

use stateful_functions::{Context, FunctionError, Functions, RegistryError, function};

#[derive(Default)]
struct CartV1;

#[function(typename = "com.example/cart")]
impl CartV1 {
    #[handler]
    async fn add(&self, _ctx: &mut Context, _item: String) -> Result<(), FunctionError> {
        Ok(())
    }
}

#[derive(Default)]
struct CartV2;

#[function(typename = "com.example/cart")]
impl CartV2 {
    #[handler]
    async fn add(&self, _ctx: &mut Context, _item: String) -> Result<(), FunctionError> {
        Ok(())
    }
}

fn main() {
    let err = Functions::auto_registered().unwrap_err();
    assert!(matches!(err, RegistryError::DuplicateFunction { .. }), "{err:?}");
    let text = err.to_string();
    assert!(text.starts_with("function type com.example/cart is registered twice: by #[function] at "), "{text}");
    assert!(text.contains("duplicate_registration.rs:10"), "{text}");
    assert!(text.contains("duplicate_registration.rs:21"), "{text}");
}
