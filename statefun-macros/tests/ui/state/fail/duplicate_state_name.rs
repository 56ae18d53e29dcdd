use stateful_functions::State;

#[derive(State)]
struct Counters {
    seen: i32,
    #[state(name = "seen")]
    also_seen: i64,
}

fn main() {}
