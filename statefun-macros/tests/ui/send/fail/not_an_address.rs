use stateful_functions::{Context, FunctionError};

fn greet(ctx: &mut Context) -> Result<(), FunctionError> {
    ctx.send("example/greeter:Kim", &"Kim".to_owned())?;
    Ok(())
}

fn main() {
    let _ = greet;
}
