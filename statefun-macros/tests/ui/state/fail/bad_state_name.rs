use stateful_functions::State;

#[derive(State)]
struct Counters {
    #[state(name = "2fast")]
    fast: i32,
    #[state(name = "with-dash")]
    dashed: i32,
}

fn main() {}
