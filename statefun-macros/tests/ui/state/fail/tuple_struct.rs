use statefun_sdk::State;

#[derive(State)]
struct Items(i32, String);

fn main() {}
