use stateful_functions::{function, Context, FunctionError};

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
