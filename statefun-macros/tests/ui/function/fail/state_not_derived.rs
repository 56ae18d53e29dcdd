use stateful_functions::{function, Context, FunctionError};

#[derive(Default)]
struct Cart;

struct NotState;

#[function(typename = "com.example/cart", state = NotState)]
impl Cart {
    #[handler]
    async fn add(&self, ctx: &mut Context, item: String) -> Result<(), FunctionError> {
        let _ = (ctx, item);
        Ok(())
    }
}

fn main() {}
