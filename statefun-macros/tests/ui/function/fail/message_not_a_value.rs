use stateful_functions::{function, Context, FunctionError};

#[derive(Default)]
struct Cart;

struct NotAValue;

#[function(typename = "com.example/cart")]
impl Cart {
    #[handler]
    async fn add(&self, ctx: &mut Context, item: NotAValue) -> Result<(), FunctionError> {
        let _ = (ctx, item);
        Ok(())
    }
}

fn main() {}
