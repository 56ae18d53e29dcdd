//! The generated module.yaml parses as YAML and has the runtime's formats
//! (spec §2.4).

use std::time::Duration;

use serde_norway::Value;
use stateful_functions::{
    EgressIdentifier, FunctionSpec, Functions, KafkaTopic, ModuleYaml, TypeName,
};

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
            TypeName::from_static("com.example/requests"),
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
    use stateful_functions::module_yaml::{
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
        pool_size: Some(16),
        payload_max_bytes: Some(0),
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
            TypeName::from_static("com.example/requests"),
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
    use stateful_functions::module_yaml::{Component, Module, ReadOptions, render};

    let text = include_str!("../../../examples/shopping-cart/deploy/module.yaml");
    let components = |m: &Module| -> Vec<Component> {
        m.documents().iter().map(|d| d.component.clone()).collect()
    };
    let first = Module::parse(text, ReadOptions::new()).unwrap();
    let again = Module::parse(&render(&components(&first)), ReadOptions::new()).unwrap();
    assert_eq!(components(&first), components(&again));
}

/// The reader agrees with the runtime's loader (#20, item 9): what it
/// refuses at startup is an error, what it loads is read (with a warning
/// where it is likely a mistake). The runtime's files are under
/// `statefun-flink/statefun-flink-io-bundle/.../io/` (release-3.3.0).
#[cfg(feature = "module-yaml")]
mod runtime_rules {
    use std::time::Duration;

    use stateful_functions::module_yaml::{
        Component, DeliverySemantic, Module, ReadOptions, Transport,
    };

    const ENDPOINT: &str = "kind: io.statefun.endpoints.v2/http\nspec:\n  functions: a/*\n  urlPathTemplate: http://h\n---\n";

    fn read(yaml: &str) -> Result<Module, String> {
        Module::parse(&format!("{ENDPOINT}{yaml}"), ReadOptions::new()).map_err(|e| e.to_string())
    }

    fn kafka_ingress(extra: &str, topics: &str) -> String {
        format!("kind: io.statefun.kafka.v1/ingress\nspec:\n  id: a/in\n{extra}  topics:\n{topics}")
    }

    const TOPIC: &str = "    - topic: t\n      valueType: a/T\n      targets: [a/f]\n";

    fn refused(yaml: &str, expected: &str) {
        let error = read(yaml).unwrap_err();
        assert!(error.contains(expected), "{error}\n  expected: {expected}");
    }

    fn warnings(module: &Module) -> Vec<String> {
        module.warnings().iter().map(ToString::to_string).collect()
    }

    /// `nettyclient/NettyRequestReplySpec.java`: `pool_size` and
    /// `payload_max_bytes` are Java `Integer`s; the pool is a Netty
    /// `FixedChannelPool`, which refuses fewer than one connection, and the
    /// answer limit is its `HttpObjectAggregator`'s, zero or more. The
    /// connect timeout is `connect` (20 s), or `timeouts.connect` (10 s)
    /// when the `timeouts` aliases are there. The reader used to skip both
    /// keys.
    #[test]
    fn the_netty_pool_and_payload_limit_are_read() {
        let endpoint = |transport: &str| {
            let text = format!(
                "kind: io.statefun.endpoints.v2/http\nspec:\n  functions: b/*\n  urlPathTemplate: http://h\n  transport:\n{transport}"
            );
            let module = read(&text)?;
            let Some(Component::HttpEndpoint(e)) = module.documents().last().map(|d| &d.component)
            else {
                panic!("not an endpoint");
            };
            Ok::<_, String>(e.transport.clone())
        };
        let Transport::Async(netty) =
            endpoint("    pool_size: 16\n    payload_max_bytes: 0\n    connect: 3s\n").unwrap()
        else {
            panic!("not the async transport");
        };
        assert_eq!(netty.pool_size, Some(16));
        assert_eq!(netty.payload_max_bytes, Some(0));
        assert_eq!(
            Transport::Async(netty).connect_timeout(),
            Duration::from_secs(3)
        );
        let aliases = endpoint("    connect: 3s\n    timeouts:\n      call: 1m\n").unwrap();
        assert_eq!(aliases.connect_timeout(), Duration::from_secs(10));
        for (bad, expected) in [
            (
                "    pool_size: 0\n",
                "spec.transport.pool_size: 0 is out of range (1 to 2147483647)",
            ),
            (
                "    pool_size: 2147483648\n",
                "spec.transport.pool_size: 2147483648 is out of range",
            ),
            (
                "    pool_size: many\n",
                "spec.transport.pool_size: expected a whole number, found a string",
            ),
            (
                "    pool_size: 1.5\n",
                "spec.transport.pool_size: 1.5 is not a whole number",
            ),
            (
                "    payload_max_bytes: -1\n",
                "spec.transport.payload_max_bytes: -1 is out of range (0 to 2147483647)",
            ),
        ] {
            let error = endpoint(bad).unwrap_err();
            assert!(error.contains(expected), "{error}\n  expected: {expected}");
        }
    }

    /// `RoutableKafkaIngressSpec.java`: `autoOffsetResetPosition` is
    /// upper-cased into `KafkaIngressAutoResetPosition` (EARLIEST, LATEST);
    /// anything else fails startup ("Invalid autoOffsetResetPosition").
    /// The reader used to take any value.
    #[test]
    fn an_invalid_auto_offset_reset_position_is_refused() {
        refused(
            &kafka_ingress("  autoOffsetResetPosition: beginning\n", TOPIC),
            "document 2 (io.statefun.kafka.v1/ingress), spec.autoOffsetResetPosition: \"beginning\" is not earliest or latest",
        );
        for ok in ["earliest", "LATEST", "Earliest"] {
            read(&kafka_ingress(
                &format!("  autoOffsetResetPosition: {ok}\n"),
                TOPIC,
            ))
            .unwrap();
        }
    }

    /// `RoutableKafkaIngressSpec.java` and `RoutableKinesisIngressSpec.java`:
    /// `startupPosition.type` is matched exactly against the ingress's
    /// types, else "Invalid startup position type"; a `date` must parse
    /// with `yyyy-MM-dd HH:mm:ss.SSS Z`; specific offsets must not be
    /// empty (`KafkaIngressStartupPosition.java`) and each key is
    /// `<topic>/<partition>` (`KafkaTopicPartition.java`). The reader used
    /// to ignore a startup position it did not understand.
    #[test]
    fn an_invalid_startup_position_is_refused() {
        let position = |p: &str| kafka_ingress(&format!("  startupPosition:\n{p}"), TOPIC);
        refused(
            &position("    type: beginning\n"),
            "spec.startupPosition.type: \"beginning\" is not one of group-offsets, earliest, latest, specific-offsets, date",
        );
        refused(
            &position("    type: Earliest\n"),
            "spec.startupPosition.type",
        );
        refused(
            &position("    offsets: []\n"),
            "spec.startupPosition.type: missing",
        );
        refused(
            &position("    type: date\n    date: 2020-02-01\n"),
            "spec.startupPosition.date: \"2020-02-01\" is not a date",
        );
        refused(
            &position("    type: specific-offsets\n    offsets: []\n"),
            "spec.startupPosition.offsets: lists no offset",
        );
        refused(
            &position("    type: specific-offsets\n    offsets:\n      - t-0: 5\n"),
            "spec.startupPosition.offsets[0]: \"t-0\" is not <topic>/<partition>",
        );
        for ok in [
            "    type: group-offsets\n",
            "    type: date\n    date: 2020-02-01 04:15:00.000 +0000\n",
            "    type: specific-offsets\n    offsets:\n      - t/0: 5\n      - my/topic/1: 7\n",
        ] {
            read(&position(ok)).unwrap();
        }
        // Kinesis has no group offsets.
        refused(
            "kind: io.statefun.kinesis.v1/ingress\nspec:\n  id: a/in\n  startupPosition:\n    type: group-offsets\n  streams:\n    - stream: s\n      valueType: a/T\n      targets: [a/f]\n",
            "spec.startupPosition.type: \"group-offsets\" is not one of earliest, latest, date",
        );
    }

    /// `GenericKafkaEgressSpec.java`: exactly-once reads
    /// `transactionTimeoutMillis` if present, else parses
    /// `transactionTimeout`, which fails startup when absent ("Error
    /// parsing a GenericKafkaEgressSpec."); `KafkaProducerSemantic.java`
    /// refuses a zero timeout. The reader used to accept exactly-once
    /// without a timeout.
    #[test]
    fn exactly_once_needs_a_transaction_timeout() {
        let egress = |semantic: &str| {
            format!(
                "kind: io.statefun.kafka.v1/egress\nspec:\n  id: a/out\n  deliverySemantic:\n{semantic}"
            )
        };
        refused(
            &egress("    type: exactly-once\n"),
            "document 2 (io.statefun.kafka.v1/egress), spec.deliverySemantic.transactionTimeout: missing: exactly-once needs a transaction timeout",
        );
        refused(
            &egress("    type: exactly-once\n    transactionTimeout: 0ms\n"),
            "spec.deliverySemantic.transactionTimeout: must be longer than zero",
        );
        let semantic = |module: &Module| match &module.documents()[1].component {
            Component::KafkaEgress(e) => e.delivery_semantic,
            other => panic!("{other:?}"),
        };
        let module = read(&egress(
            "    type: exactly-once\n    transactionTimeout: 15min\n",
        ))
        .unwrap();
        assert_eq!(
            semantic(&module),
            Some(DeliverySemantic::ExactlyOnce(Some(Duration::from_secs(
                900
            ))))
        );
        // The deprecated millis win.
        let module = read(&egress(
            "    type: exactly-once\n    transactionTimeoutMillis: 60000\n    transactionTimeout: 15min\n",
        ))
        .unwrap();
        assert_eq!(
            semantic(&module),
            Some(DeliverySemantic::ExactlyOnce(Some(Duration::from_secs(60))))
        );
        // At least once ignores a timeout, with a warning.
        let module = read(&egress(
            "    type: at-least-once\n    transactionTimeout: soon\n",
        ))
        .unwrap();
        assert_eq!(semantic(&module), Some(DeliverySemantic::AtLeastOnce));
        assert!(
            warnings(&module)[0].starts_with("document 2 (io.statefun.kafka.v1/egress), spec.deliverySemantic.transactionTimeout: the runtime ignores it"),
            "{:?}",
            warnings(&module)
        );
    }

    /// `StatefulFunctionsUniverse.java` binds ingresses and egresses in two
    /// maps, each refusing a key bound twice: an ingress and an egress may
    /// share an id, two ingresses (or two egresses) may not. The reader
    /// used to refuse the shared id.
    #[test]
    fn an_ingress_and_an_egress_may_share_an_id() {
        let egress = "---\nkind: io.statefun.kafka.v1/egress\nspec:\n  id: a/in\n";
        let module = read(&format!("{}{egress}", kafka_ingress("", TOPIC))).unwrap();
        assert_eq!(module.documents().len(), 3);
        assert!(module.warnings().is_empty());
        refused(
            &format!(
                "{}---\n{}",
                kafka_ingress("", TOPIC),
                "kind: io.statefun.kinesis.v1/ingress\nspec:\n  id: a/in\n  streams:\n    - stream: s\n      valueType: a/T\n      targets: [a/f]\n"
            ),
            "document 3 (io.statefun.kinesis.v1/ingress), spec.id: a/in is already declared as an ingress by document 2",
        );
        refused(
            &format!("{}{egress}", egress.trim_start_matches("---\n")),
            "document 3 (io.statefun.kafka.v1/egress), spec.id: a/in is already declared as an egress by document 2",
        );
    }

    /// `RoutableKafkaIngressSpec.java` (and the Kinesis one) reads
    /// `valueType` with `textValue()` and passes it on verbatim: a
    /// `valueType` without `/` loads. The reader used to refuse it; now it
    /// reads it and warns.
    #[test]
    fn a_value_type_without_a_slash_is_read_with_a_warning() {
        let module = read(&kafka_ingress(
            "",
            "    - topic: t\n      valueType: PlainText\n      targets: [a/f]\n",
        ))
        .unwrap();
        let Component::KafkaIngress(ingress) = &module.documents()[1].component else {
            panic!()
        };
        assert_eq!(ingress.topics[0].value_type, "PlainText");
        assert_eq!(
            warnings(&module),
            [
                "document 2 (io.statefun.kafka.v1/ingress), spec.topics[0].valueType: \"PlainText\" is not a typename namespace/name: the runtime passes it to the functions as it is, where SDKs expect one"
            ]
        );
        // Not a string at all: `textValue()` is null, and startup fails.
        refused(
            &kafka_ingress(
                "",
                "    - topic: t\n      valueType: [a]\n      targets: [a/f]\n",
            ),
            "spec.topics[0].valueType: expected a string, found a list",
        );
    }

    /// `RoutableKafkaIngressSpec.java` streams over `targets` as given: an
    /// empty list loads (the records go nowhere). The reader used to refuse
    /// it; now it warns. Missing `targets` still fails (a null iterable).
    #[test]
    fn empty_targets_are_read_with_a_warning() {
        let module = read(&kafka_ingress(
            "",
            "    - topic: t\n      valueType: a/T\n      targets: []\n",
        ))
        .unwrap();
        assert_eq!(
            warnings(&module),
            [
                "document 2 (io.statefun.kafka.v1/ingress), spec.topics[0].targets: lists no function type: the records of topic \"t\" go nowhere"
            ]
        );
        refused(
            &kafka_ingress("", "    - topic: t\n      valueType: a/T\n"),
            "spec.topics[0].targets: missing",
        );
    }

    /// `RoutableKafkaIngressSpec.java` collects the topics into a map with
    /// `result.put(topic, ...)`: a topic listed again replaces the earlier
    /// entry. The reader used to refuse it; now it keeps the last and warns.
    #[test]
    fn a_repeated_topic_keeps_the_last_with_a_warning() {
        let module = read(&kafka_ingress(
            "",
            "    - topic: t\n      valueType: a/First\n      targets: [a/f]\n    - topic: u\n      valueType: a/U\n      targets: [a/f]\n    - topic: t\n      valueType: a/Last\n      targets: [a/g]\n",
        ))
        .unwrap();
        let Component::KafkaIngress(ingress) = &module.documents()[1].component else {
            panic!()
        };
        let topics: Vec<(&str, &str)> = ingress
            .topics
            .iter()
            .map(|t| (t.name.as_str(), t.value_type.as_str()))
            .collect();
        assert_eq!(topics, [("u", "a/U"), ("t", "a/Last")]);
        assert_eq!(
            warnings(&module),
            [
                "document 2 (io.statefun.kafka.v1/ingress), spec.topics[2].topic: \"t\" is listed twice; the runtime keeps this entry and drops topics[0]"
            ]
        );
    }

    /// `KafkaIngressSpec.java`: "Must define at least one Kafka topic to
    /// consume from."; `KinesisIngressSpec.java`: "Must have at least one
    /// stream to consume from specified." The reader used to accept an
    /// empty list.
    #[test]
    fn an_ingress_without_topics_is_refused() {
        refused(
            "kind: io.statefun.kafka.v1/ingress\nspec:\n  id: a/in\n  topics: []\n",
            "spec.topics: lists no topic: the runtime refuses an ingress with none",
        );
        refused(
            "kind: io.statefun.kinesis.v1/ingress\nspec:\n  id: a/in\n  streams: []\n",
            "spec.streams: lists no stream",
        );
    }

    /// `TypeName.parseFrom` (stateful-functions-embedded `TypeName.java`), which
    /// reads ingress ids (`IngressIdentifierJsonDeserializer.java`) and
    /// targets, wants exactly one `/`. The reader used to take `a/b/c`.
    #[test]
    fn ingress_ids_and_targets_have_one_slash() {
        refused(
            &kafka_ingress(
                "",
                "    - topic: t\n      valueType: a/T\n      targets: [a/b/f]\n",
            ),
            "spec.topics[0].targets[0]: \"a/b/f\" is not a typename: the runtime wants exactly one `/`",
        );
        refused(
            "kind: io.statefun.kafka.v1/ingress\nspec:\n  id: a/b/in\n  topics:\n    - topic: t\n      valueType: a/T\n      targets: [a/f]\n",
            "spec.id: \"a/b/in\" is not a typename",
        );
    }
}

/// Found by `fuzz/run.sh module_yaml`: a line separator (U+2028, written
/// `\L` in YAML) written raw is a line break to the reader, which then
/// drops the space after it.
#[cfg(feature = "module-yaml")]
#[test]
fn line_separators_round_trip() {
    use stateful_functions::module_yaml::{Component, Module, ReadOptions, render};

    let text = "kind: io.statefun.endpoints.v2/http\nspec:\n  functions: a/b\n  urlPathTemplate: \"http://x/\\L y\\P z\"\n";
    let components = |m: &Module| -> Vec<Component> {
        m.documents().iter().map(|d| d.component.clone()).collect()
    };
    let first = Module::parse(text, ReadOptions::new()).unwrap();
    let again = Module::parse(&render(&components(&first)), ReadOptions::new()).unwrap();
    assert_eq!(components(&first), components(&again));
}
