//! The greeter: its registration, and its behaviour on the harness,
//! including the count that expires an hour after the last greeting.

// A failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use greeter::{GREETINGS, Greeter, GreeterState};
use stateful_functions::{Address, FunctionType};
use statefun_harness::Harness;

#[test]
fn registers_the_greeter_with_its_state() {
    let functions = greeter::functions().unwrap();
    let spec = functions
        .get(&greeter::Greeter::TYPE_NAME)
        .expect("registered");
    let names: Vec<_> = spec.states().iter().map(|s| s.name()).collect();
    assert_eq!(names, ["seen"]);
    assert_eq!(
        stateful_functions::registered_functions()
            .iter()
            .map(|r| r.type_name)
            .collect::<Vec<_>>(),
        ["example/greeter"]
    );
}

#[tokio::test]
async fn greetings_count_up_and_the_count_expires_an_hour_after_the_last_one() {
    let mut h = Harness::builder()
        .seed(1)
        .functions(greeter::functions().unwrap())
        .kafka_egress(&GREETINGS)
        .build()
        .unwrap();
    let kim = Address::new(Greeter::TYPE_NAME, "Kim");
    let greet = async |h: &mut Harness| {
        h.send(kim.clone(), &"Kim".to_owned()).unwrap();
        h.run().await.unwrap();
    };
    greet(&mut h).await;
    h.advance(Duration::from_secs(50 * 60)).await.unwrap();
    greet(&mut h).await; // 50 min: still counted, and the hour restarts
    assert_eq!(h.state(&kim, &GreeterState::SEEN).unwrap(), Some(2));
    h.advance(Duration::from_secs(59 * 60)).await.unwrap();
    assert_eq!(
        h.state(&kim, &GreeterState::SEEN).unwrap(),
        Some(2),
        "59 min after the last call"
    );
    h.advance(Duration::from_secs(2 * 60)).await.unwrap();
    assert_eq!(
        h.state(&kim, &GreeterState::SEEN).unwrap(),
        None,
        "expired after an hour"
    );
    greet(&mut h).await;
    let greetings: Vec<String> = h
        .kafka_records(&GREETINGS)
        .unwrap()
        .into_iter()
        .map(|r| String::from_utf8(r.value().to_vec()).unwrap())
        .collect();
    assert_eq!(
        greetings,
        [
            "Hello Kim!",
            "Hello again Kim, visit number 2.",
            "Hello Kim!"
        ]
    );
}
