use stateful_functions::State;

#[derive(State)]
struct Timers {
    #[state(expire_after_call = "15")]
    no_unit: i32,
    #[state(expire_after_write = "2 fortnights")]
    unknown_unit: i32,
    #[state(expire_after_write = "0s")]
    zero: i32,
}

fn main() {}
