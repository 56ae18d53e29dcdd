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

/// The writer's output reads back, through the reader, as the same model.
#[cfg(feature = "module-yaml")]
#[test]
fn the_reader_reads_what_the_writer_writes() {
    use statefun_sdk::module_yaml::{
        AsyncTimeouts, AsyncTransport, Component, FunctionPattern, HttpEndpoint, IngressTopic,
        KafkaIngress, KafkaStartupPosition, KinesisEgress, KinesisIngress, Module, OkHttpTimeouts,
        ReadOptions, Transport,
    };

    let mut okhttp = HttpEndpoint::new(
        FunctionPattern::Namespace("other".to_owned()),
        "http://other/{function.name}",
    );
    okhttp.transport = Transport::OkHttp(OkHttpTimeouts {
        call: Some(Duration::from_secs(15)),
        connect: Some(Duration::from_millis(1500)),
        ..OkHttpTimeouts::default()
    });
    let mut aliases = HttpEndpoint::new(
        FunctionPattern::Type(TypeName::from_static("other/special")),
        "http://special",
    );
    aliases.transport = Transport::Async(AsyncTransport {
        connect: Some(Duration::from_micros(2500)),
        timeouts: Some(AsyncTimeouts {
            call: Some(Duration::from_secs(3)),
            connect: None,
        }),
        ..AsyncTransport::default()
    });
    let mut from_date = KafkaIngress::new(TypeName::from_static("other/in"));
    from_date.startup_position = Some(KafkaStartupPosition::SpecificOffsets(vec![(
        "t/0".to_owned(),
        42,
    )]));
    from_date.topics.push(
        IngressTopic::new("t", TypeName::from_static("other.types/T"))
            .target(TypeName::from_static("other/special")),
    );
    let mut kinesis = KinesisIngress::new(TypeName::from_static("other/clicks"));
    kinesis.streams.push(
        IngressTopic::new("clicks", TypeName::from_static("other.types/Click"))
            .target(TypeName::from_static("com.example/cart")),
    );
    let module = ModuleYaml::new()
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
            Some(Duration::from_secs(900)),
        )
        .component(Component::HttpEndpoint(okhttp))
        .component(Component::HttpEndpoint(aliases))
        .component(Component::KafkaIngress(from_date))
        .component(Component::KinesisIngress(kinesis))
        .component(Component::KinesisEgress(KinesisEgress::new(
            EgressIdentifier::from_static("other/out"),
        )));
    let yaml = module.to_string();
    let read = Module::parse(&yaml, ReadOptions::new()).unwrap_or_else(|e| panic!("{e}\n{yaml}"));
    let components: Vec<Component> = read
        .documents()
        .iter()
        .map(|d| d.component.clone())
        .collect();
    assert_eq!(components, module.components(), "{yaml}");
    assert_eq!(read.documents()[3].index, 4);
}

/// The shopping cart's deployed module reads, writes and reads back the
/// same.
#[cfg(feature = "module-yaml")]
#[test]
fn the_shopping_cart_module_round_trips() {
    use statefun_sdk::module_yaml::{Component, Module, ReadOptions, render};

    let text = include_str!("../../../examples/shopping-cart/deploy/module.yaml");
    let components = |m: &Module| -> Vec<Component> {
        m.documents().iter().map(|d| d.component.clone()).collect()
    };
    let first = Module::parse(text, ReadOptions::new()).unwrap();
    let again = Module::parse(&render(&components(&first)), ReadOptions::new()).unwrap();
    assert_eq!(components(&first), components(&again));
}

/// Found by `fuzz/run.sh module_yaml`: a line separator (U+2028, written
/// `\L` in YAML) written raw is a line break to the reader, which then
/// drops the space after it.
#[cfg(feature = "module-yaml")]
#[test]
fn line_separators_round_trip() {
    use statefun_sdk::module_yaml::{Component, Module, ReadOptions, render};

    let text = "kind: io.statefun.endpoints.v2/http\nspec:\n  functions: a/b\n  urlPathTemplate: \"http://x/\\L y\\P z\"\n";
    let components = |m: &Module| -> Vec<Component> {
        m.documents().iter().map(|d| d.component.clone()).collect()
    };
    let first = Module::parse(text, ReadOptions::new()).unwrap();
    let again = Module::parse(&render(&components(&first)), ReadOptions::new()).unwrap();
    assert_eq!(components(&first), components(&again));
}
