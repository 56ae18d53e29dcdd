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

fn refund(ctx: &mut Context) -> Result<(), FunctionError> {
    ctx.send(Account::address("alice"), &Refund { cents: 250 })?;
    Ok(())
}

fn main() {
    let _ = refund;
}
