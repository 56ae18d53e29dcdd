use stateful_functions::{
    Context, FunctionError, FunctionType, Functions, State, Value, function, registered_functions,
};

#[derive(serde::Serialize, serde::Deserialize, Value)]
#[statefun(typename = "com.example.types/AddToCart")]
struct AddToCart {
    item_id: String,
}

#[derive(serde::Serialize, serde::Deserialize, Value)]
#[statefun(typename = "com.example.types/Checkout")]
struct Checkout {}

#[derive(State)]
struct CartState {
    items: String,
}

#[derive(Default)]
struct Cart;

#[derive(Debug)]
struct OutOfStock;

impl std::fmt::Display for OutOfStock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("out of stock")
    }
}

impl std::error::Error for OutOfStock {}

#[function(typename = "com.example/cart", state = CartState)]
impl Cart {
    #[handler]
    async fn add(&self, ctx: &mut Context, msg: AddToCart) -> Result<(), FunctionError> {
        let mut items = ctx.storage().get(&CartState::ITEMS)?.unwrap_or_default();
        items.push_str(&msg.item_id);
        ctx.storage().set(&CartState::ITEMS, &items)?;
        Ok(())
    }

    /// Any error type that converts into `FunctionError` works.
    #[handler]
    async fn checkout(&self, _ctx: &mut Context, _msg: Checkout) -> Result<(), OutOfStock> {
        Err(OutOfStock)
    }

    /// Methods without `#[handler]` are left alone.
    fn helper(&self) -> u8 {
        1
    }
}

/// No `Default`: registered explicitly.
struct Inventory {
    warehouse: String,
}

#[function(typename = "com.example/inventory", auto_register = false)]
impl Inventory {
    #[handler]
    async fn request(&self, _ctx: &mut Context, _quantity: i32) -> Result<(), FunctionError> {
        let _ = &self.warehouse;
        Ok(())
    }
}

mod renamed {
    extern crate stateful_functions as sdk;

    #[derive(Default)]
    pub struct Echo;

    #[sdk::function(typename = "com.example/echo", crate = "sdk")]
    impl Echo {
        #[handler]
        async fn echo(&self, _ctx: &mut sdk::Context, _text: String) -> Result<(), sdk::FunctionError> {
            Ok(())
        }
    }
}

fn main() {
    assert_eq!(Cart.helper(), 1);
    assert_eq!(Cart::TYPE_NAME.as_str(), "com.example/cart");
    let listed: Vec<_> = registered_functions().iter().map(|r| r.type_name).collect();
    assert_eq!(listed, ["com.example/cart", "com.example/echo"]);
    let functions = Functions::auto_registered()
        .unwrap()
        .with(Inventory { warehouse: "north".into() }.spec().unwrap())
        .unwrap();
    let names: Vec<_> = functions.type_names().map(|t| t.as_str()).collect();
    assert_eq!(names, ["com.example/cart", "com.example/echo", "com.example/inventory"]);
    let _ = CartState { items: String::new() };
    let _ = renamed::Echo;
}
