use stateful_functions::{function, Context, FunctionError};

#[derive(Default)]
struct Cart;

#[function(typename = "com.example/cart")]
impl Cart {
    #[handler]
    async fn add(&self, ctx: &mut Context) -> Result<(), FunctionError> {
        let _ = ctx;
        Ok(())
    }
}

fn main() {}
