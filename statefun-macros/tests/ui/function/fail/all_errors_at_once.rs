use stateful_functions::{function, Context, FunctionError};

#[derive(Default)]
struct Cart;

#[function(typename = "cart")]
impl Cart {
    #[handler]
    fn add(&mut self, ctx: &Context, item: &str) {
        let _ = (ctx, item);
    }
}

fn main() {}
