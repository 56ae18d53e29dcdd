//! The greeter's registration, as a server would load it.

use statefun_sdk::FunctionType;

#[test]
fn registers_the_greeter_with_its_state() {
    let functions = greeter::functions().unwrap();
    let spec = functions
        .get(&greeter::Greeter::TYPE_NAME)
        .expect("registered");
    let names: Vec<_> = spec.states().iter().map(|s| s.name()).collect();
    assert_eq!(names, ["seen"]);
    assert_eq!(
        statefun_sdk::registered_functions()
            .iter()
            .map(|r| r.type_name)
            .collect::<Vec<_>>(),
        ["example/greeter"]
    );
}
