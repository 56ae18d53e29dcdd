//! The generated module.yaml parses as YAML and has the runtime's formats
//! (spec §2.4).

use std::time::Duration;

use serde_norway::Value;
use statefun_sdk::{EgressIdentifier, FunctionSpec, Functions, KafkaTopic, ModuleYaml, TypeName};

fn functions() -> Functions {
    let noop = || {
        FunctionSpec::builder(TypeName::from_static("com.example/cart"))
            .build(crate::golden::noop())
            .unwrap()
    };
    Functions::new()
        .with(noop())
        .unwrap()
        .with(
            FunctionSpec::builder(TypeName::from_static("com.example/inventory"))
                .build(crate::golden::noop())
                .unwrap(),
        )
        .unwrap()
}

fn documents(yaml: &str) -> Vec<Value> {
    serde_norway::Deserializer::from_str(yaml)
        .map(|doc| serde::Deserialize::deserialize(doc).unwrap())
        .collect()
}

#[test]
fn endpoints_ingress_and_egress_in_the_runtime_formats() {
    let yaml = ModuleYaml::new()
        .http_endpoints_with(
            &functions(),
            "http://shop:8000/statefun",
            Some(500),
            Some(Duration::from_secs(30)),
        )
        .kafka_ingress(
            "com.example/requests",
            "kafka:9092",
            "shop",
            [KafkaTopic::new(
                "add-to-cart",
                TypeName::from_static("com.example.types/AddToCart"),
            )
            .target(TypeName::from_static("com.example/cart"))],
        )
        .kafka_egress(
            &EgressIdentifier::from_static("com.example/results"),
            "kafka:9092",
            Some(Duration::from_secs(15 * 60)),
        )
        .to_string();
    let docs = documents(&yaml);
    assert_eq!(docs.len(), 4, "{yaml}");

    let kinds: Vec<&str> = docs.iter().map(|d| d["kind"].as_str().unwrap()).collect();
    assert_eq!(
        kinds,
        [
            "io.statefun.endpoints.v2/http",
            "io.statefun.endpoints.v2/http",
            "io.statefun.kafka.v1/ingress",
            "io.statefun.kafka.v1/egress",
        ]
    );
    let endpoint = &docs[0]["spec"];
    assert_eq!(endpoint["functions"], "com.example/cart");
    assert_eq!(endpoint["urlPathTemplate"], "http://shop:8000/statefun");
    assert_eq!(endpoint["maxNumBatchRequests"], 500);
    assert_eq!(
        endpoint["transport"]["type"],
        "io.statefun.transports.v1/async"
    );
    assert_eq!(endpoint["transport"]["call"], "30000ms");
    assert_eq!(docs[1]["spec"]["functions"], "com.example/inventory");

    let ingress = &docs[2]["spec"];
    assert_eq!(ingress["id"], "com.example/requests");
    assert_eq!(ingress["consumerGroupId"], "shop");
    assert_eq!(ingress["startupPosition"]["type"], "earliest");
    let topic = &ingress["topics"][0];
    assert_eq!(topic["topic"], "add-to-cart");
    assert_eq!(topic["valueType"], "com.example.types/AddToCart");
    assert_eq!(topic["targets"][0], "com.example/cart");

    let egress = &docs[3]["spec"];
    assert_eq!(egress["id"], "com.example/results");
    assert_eq!(egress["deliverySemantic"]["type"], "exactly-once");
    assert_eq!(egress["deliverySemantic"]["transactionTimeout"], "900000ms");
}

#[test]
fn strings_are_quoted_safely() {
    let yaml = ModuleYaml::new()
        .http_endpoints(&functions(), "http://h/a \"b\": c # d")
        .to_string();
    let docs = documents(&yaml);
    assert_eq!(
        docs[0]["spec"]["urlPathTemplate"],
        "http://h/a \"b\": c # d"
    );
}
