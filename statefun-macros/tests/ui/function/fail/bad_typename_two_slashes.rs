use stateful_functions::{function, Context, FunctionError};

#[derive(Default)]
struct Cart;

#[function(typename = "com.example/shop/cart")]
impl Cart {
    #[handler]
    async fn add(&self, ctx: &mut Context, item: String) -> Result<(), FunctionError> {
        let _ = (ctx, item);
        Ok(())
    }
}

fn main() {}
