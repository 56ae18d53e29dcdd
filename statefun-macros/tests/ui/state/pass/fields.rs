use std::time::Duration;

use stateful_functions::{Expiration, FunctionSpec, State, TypeName};

#[derive(State)]
pub struct CartState {
    /// Item id to quantity.
    items: String,
    #[state(name = "seen_at", expire_after_write = "15m")]
    last_seen: i64,
    #[state(expire_after_call = "1d")]
    visits: i32,
    /// A raw identifier keeps its bare name.
    r#type: String,
}

fn main() {
    assert_eq!(CartState::ITEMS.name(), "items");
    assert_eq!(CartState::LAST_SEEN.name(), "seen_at");
    assert_eq!(
        CartState::LAST_SEEN.expiration(),
        Expiration::AfterWrite(Duration::from_secs(900))
    );
    assert_eq!(
        CartState::VISITS.expiration(),
        Expiration::AfterCall(Duration::from_secs(86_400))
    );
    assert_eq!(CartState::TYPE.name(), "type");

    struct Noop;
    #[stateful_functions::async_trait]
    impl stateful_functions::StatefulFunction for Noop {
        async fn invoke(
            &self,
            _: &mut stateful_functions::Context,
            _: stateful_functions::Message,
        ) -> Result<(), stateful_functions::FunctionError> {
            Ok(())
        }
    }
    let spec = FunctionSpec::builder(TypeName::from_static("com.example/cart"))
        .with_states::<CartState>()
        .build(Noop)
        .unwrap();
    let names: Vec<_> = spec.states().iter().map(|s| s.name()).collect();
    assert_eq!(names, ["items", "seen_at", "visits", "type"]);
    let _ = CartState { items: String::new(), last_seen: 0, visits: 0, r#type: String::new() };
}
