//! The greeter's registration, as a server would load it.

#[test]
fn registers_the_greeter_with_its_state() {
    let functions = greeter::functions().unwrap();
    let spec = functions.get(&greeter::GREETER).expect("registered");
    let names: Vec<_> = spec.states().iter().map(|s| s.name()).collect();
    assert_eq!(names, ["seen"]);
}
