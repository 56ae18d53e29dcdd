use stateful_functions::{function, Bytes, Context, FunctionError, TypeName, TypedBytes, Value};

#[derive(serde::Serialize, serde::Deserialize, Value)]
#[statefun(typename = "com.example.types/Debit")]
struct Debit {
    cents: i64,
}

#[derive(serde::Serialize, serde::Deserialize, Value)]
#[statefun(typename = "com.example.types/Refund")]
struct Refund {
    cents: i64,
}

#[derive(Default)]
struct Account;

#[function(typename = "com.example/account")]
impl Account {
    #[handler]
    async fn debit(&self, _ctx: &mut Context, _debit: Debit) -> Result<(), FunctionError> {
        Ok(())
    }
}

fn forward(ctx: &mut Context) -> Result<(), FunctionError> {
    let raw = TypedBytes::new(TypeName::from_static("com.example.types/Debit"), Bytes::new());
    ctx.send(Account::address("alice"), raw)?;
    Ok(())
}

fn main() {
    let _ = forward;
}
