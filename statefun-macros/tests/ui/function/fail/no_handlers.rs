use stateful_functions::{function, Context, FunctionError};

#[derive(Default)]
struct Cart;

#[function(typename = "com.example/cart")]
impl Cart {
    fn helper(&self) {}
}

fn main() {}
