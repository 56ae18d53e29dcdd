use stateful_functions::Value;

#[derive(serde::Serialize, serde::Deserialize, Value)]
struct AddToCart {
    quantity: u32,
}

fn main() {}
