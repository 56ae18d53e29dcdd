use stateful_functions::State;

#[derive(State)]
struct Items(i32, String);

fn main() {}
