use stateful_functions::remote_function;

struct NotAValue;

#[remote_function(typename = "example/greeter", handles(String, NotAValue))]
struct Greeter;

fn main() {}
