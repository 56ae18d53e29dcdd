use stateful_functions::Value;

/// The typename comes from `prost::Name`.
#[derive(Clone, PartialEq, prost::Message, Value)]
#[statefun(codec = "protobuf")]
struct Greeting {
    #[prost(string, tag = "1")]
    text: String,
}

impl prost::Name for Greeting {
    const NAME: &'static str = "Greeting";
    const PACKAGE: &'static str = "example.v1";
}

/// An explicit typename wins.
#[derive(Clone, PartialEq, prost::Message, Value)]
#[statefun(codec = "protobuf", typename = "example/custom-greeting")]
struct Custom {
    #[prost(int32, tag = "1")]
    n: i32,
}

fn main() {
    assert_eq!(Greeting::type_name().as_str(), "type.googleapis.com/example.v1.Greeting");
    let g = Greeting { text: "hi".into() };
    assert_eq!(Greeting::from_bytes(&Value::to_bytes(&g).unwrap()).unwrap(), g);
    assert_eq!(Custom::type_name().as_str(), "example/custom-greeting");
    let c = Custom { n: 7 };
    assert_eq!(Custom::from_bytes(&Value::to_bytes(&c).unwrap()).unwrap(), c);
}
