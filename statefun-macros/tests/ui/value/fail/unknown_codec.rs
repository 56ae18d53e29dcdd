use stateful_functions::Value;

#[derive(serde::Serialize, serde::Deserialize, Value)]
#[statefun(typename = "com.example/AddToCart", codec = "yaml")]
struct AddToCart {
    quantity: u32,
}

fn main() {}
