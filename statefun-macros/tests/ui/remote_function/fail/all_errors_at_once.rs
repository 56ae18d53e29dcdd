use stateful_functions::remote_function;

#[remote_function(typename = "a/b/c", handles(String, i64, String))]
struct Greeter;

#[remote_function(handles())]
struct NoType;

#[remote_function(typename = "example/none")]
struct NoHandles;

#[remote_function(typename = "example/generic", handles(String))]
struct Generic<T>(T);

#[remote_function(typename = "example/x", handles(String), state = ())]
struct UnknownArgument;

fn main() {}
