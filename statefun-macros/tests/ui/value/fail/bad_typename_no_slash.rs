use stateful_functions::Value;

#[derive(serde::Serialize, serde::Deserialize, Value)]
#[statefun(typename = "AddToCart")]
struct AddToCart {
    quantity: u32,
}

fn main() {}
