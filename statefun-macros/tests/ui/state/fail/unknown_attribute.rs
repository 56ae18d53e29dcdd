use stateful_functions::State;

#[derive(State)]
struct Items {
    #[state(expires = "1m")]
    count: i32,
}

fn main() {}
