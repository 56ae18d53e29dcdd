use stateful_functions::State;

#[derive(State)]
struct Pending {
    batch: String,
}

fn main() {}
