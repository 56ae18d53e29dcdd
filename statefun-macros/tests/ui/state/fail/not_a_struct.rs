use stateful_functions::State;

#[derive(State)]
enum Items {
    One(i32),
}

fn main() {}
