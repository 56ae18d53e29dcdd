use std::time::Duration;

use stateful_functions::{function, Context, FunctionError, Value};

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

fn refund_later(ctx: &mut Context) -> Result<(), FunctionError> {
    let alice = Account::address("alice");
    ctx.send_after(Duration::from_secs(60), &alice, &Refund { cents: 250 })?;
    Ok(())
}

fn main() {
    let _ = refund_later;
}
