use std::rc::Rc;

use stateful_functions::{function, Context, FunctionError};

#[derive(Default)]
struct Cart;

async fn elsewhere() {}

#[function(typename = "com.example/cart")]
impl Cart {
    #[handler]
    async fn add(&self, ctx: &mut Context, item: String) -> Result<(), FunctionError> {
        // Held across an await: the handler's future is not `Send`.
        let shared = Rc::new(item);
        elsewhere().await;
        let _ = (ctx, shared);
        Ok(())
    }
}

fn main() {}
