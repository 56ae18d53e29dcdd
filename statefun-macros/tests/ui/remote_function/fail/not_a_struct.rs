use stateful_functions::remote_function;

#[remote_function(typename = "example/greeter", handles(String))]
fn greeter() {}

fn main() {}
