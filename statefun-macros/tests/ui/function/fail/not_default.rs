use stateful_functions::{function, Context, FunctionError};

struct Cart {
    warehouse: String,
}

#[function(typename = "com.example/cart")]
impl Cart {
    #[handler]
    async fn add(&self, ctx: &mut Context, item: String) -> Result<(), FunctionError> {
        let _ = (ctx, item, &self.warehouse);
        Ok(())
    }
}

fn main() {}
