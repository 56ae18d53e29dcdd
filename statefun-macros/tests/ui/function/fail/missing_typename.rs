use stateful_functions::{function, Context, FunctionError};

#[derive(Default)]
struct Cart;

#[function(state = ())]
impl Cart {
    #[handler]
    async fn add(&self, ctx: &mut Context, item: String) -> Result<(), FunctionError> {
        let _ = (ctx, item);
        Ok(())
    }
}

fn main() {}
