use statefun_sdk::State;

#[derive(State)]
enum Items {
    One(i32),
}

fn main() {}
