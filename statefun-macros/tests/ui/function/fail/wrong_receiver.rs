use stateful_functions::{function, Context, FunctionError};

#[derive(Default)]
struct Cart;

#[function(typename = "com.example/cart")]
impl Cart {
    #[handler]
    async fn add(&mut self, ctx: &mut Context, item: String) -> Result<(), FunctionError> {
        let _ = (ctx, item);
        Ok(())
    }
}

fn main() {}
