use stateful_functions::{remote_function, Context, FunctionError, Value};

#[derive(serde::Serialize, serde::Deserialize, Value)]
#[statefun(typename = "example.types/Greet")]
struct Greet {
    name: String,
}

/// A Python function that handles `Greet` only.
#[remote_function(typename = "example/greeter", handles(Greet))]
struct PyGreeter;

fn greet(ctx: &mut Context) -> Result<(), FunctionError> {
    ctx.send(PyGreeter::address("Kim"), &"Kim".to_owned())?;
    Ok(())
}

fn main() {
    let _ = greet;
}
