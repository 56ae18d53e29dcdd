use statefun_sdk::{function, Context, FunctionError};

#[derive(Default)]
struct Cart;

#[function(typename = "com.example/cart")]
async fn add(ctx: &mut Context, item: String) -> Result<(), FunctionError> {
    let _ = (ctx, item);
    Ok(())
}

fn main() {
    let _ = Cart;
}
