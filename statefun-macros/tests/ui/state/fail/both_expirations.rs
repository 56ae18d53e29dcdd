use stateful_functions::State;

#[derive(State)]
struct Timers {
    #[state(expire_after_write = "1m", expire_after_call = "1m")]
    both: i32,
}

fn main() {}
