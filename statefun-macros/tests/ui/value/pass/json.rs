use stateful_functions::Value;

#[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize, Value)]
#[statefun(typename = "com.example.types/AddToCart", codec = "json")]
struct AddToCart {
    user_id: String,
    quantity: u32,
}

/// JSON is the default codec.
#[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize, Value)]
#[statefun(typename = "com.example.types/Checkout")]
struct Checkout {
    user_id: String,
}

fn main() {
    let a = AddToCart { user_id: "Kim".into(), quantity: 2 };
    assert_eq!(AddToCart::from_bytes(&a.to_bytes().unwrap()).unwrap(), a);
    assert_eq!(&a.to_bytes().unwrap()[..], br#"{"user_id":"Kim","quantity":2}"#);
    let c = Checkout { user_id: "Kim".into() };
    assert_eq!(Checkout::type_name().as_str(), "com.example.types/Checkout");
    assert_eq!(Checkout::from_bytes(&c.to_bytes().unwrap()).unwrap(), c);
}
