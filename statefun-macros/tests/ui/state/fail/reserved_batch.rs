use statefun_sdk::State;

#[derive(State)]
struct Pending {
    batch: String,
}

fn main() {}
