//! [`ModuleYaml`]: the StateFun `module.yaml` for a set of functions, in the
//! formats of the runtime's module loader (spec §2.4).

use std::fmt::Write as _;
use std::time::Duration;

use crate::module_yaml::format_duration;
use crate::{EgressIdentifier, Functions, TypeName};

/// Builds a StateFun `module.yaml`: one YAML document per component,
/// separated by `---`, each `{kind, spec}`.
///
/// ```
/// use statefun_sdk::{EgressIdentifier, KafkaTopic, ModuleYaml, TypeName};
///
/// let yaml = ModuleYaml::new()
///     .kafka_ingress(
///         "com.example/orders",
///         "kafka:9092",
///         "shop",
///         [KafkaTopic::new("orders", TypeName::from_static("com.example.types/Order"))
///             .target(TypeName::from_static("com.example/cart"))],
///     )
///     .kafka_egress(&EgressIdentifier::from_static("com.example/results"), "kafka:9092", None)
///     .to_string();
/// assert!(yaml.contains("kind: io.statefun.kafka.v1/ingress"));
/// assert!(yaml.contains("deliverySemantic:\n    type: at-least-once"));
/// ```
#[derive(Debug, Clone, Default)]
#[must_use]
pub struct ModuleYaml {
    documents: Vec<String>,
}

/// A topic of a Kafka ingress: its records' value type and the function
/// types they are sent to (each at the id given by the record key).
#[derive(Debug, Clone)]
#[must_use]
pub struct KafkaTopic {
    topic: String,
    value_type: TypeName,
    targets: Vec<TypeName>,
}

impl KafkaTopic {
    /// A topic whose values carry `value_type`.
    pub fn new(topic: impl Into<String>, value_type: TypeName) -> Self {
        Self {
            topic: topic.into(),
            value_type,
            targets: Vec::new(),
        }
    }

    /// Sends the topic's records to `function_type` too.
    pub fn target(mut self, function_type: TypeName) -> Self {
        self.targets.push(function_type);
        self
    }
}

/// A YAML double-quoted scalar.
fn quoted(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

impl ModuleYaml {
    /// An empty module.
    pub fn new() -> Self {
        Self::default()
    }

    /// One `io.statefun.endpoints.v2/http` endpoint per registered function
    /// type, at `url_path_template` (`{function.name}` is replaced by the
    /// runtime), with the default async transport.
    pub fn http_endpoints(self, functions: &Functions, url_path_template: &str) -> Self {
        self.http_endpoints_with(functions, url_path_template, None, None)
    }

    /// As [`ModuleYaml::http_endpoints`], with the endpoint's
    /// `maxNumBatchRequests` and the transport's total `call` timeout.
    pub fn http_endpoints_with(
        mut self,
        functions: &Functions,
        url_path_template: &str,
        max_batch_requests: Option<u32>,
        call_timeout: Option<Duration>,
    ) -> Self {
        for type_name in functions.type_names() {
            let mut doc = String::from("kind: io.statefun.endpoints.v2/http\nspec:\n");
            let _ = writeln!(doc, "  functions: {}", quoted(type_name.as_str()));
            let _ = writeln!(doc, "  urlPathTemplate: {}", quoted(url_path_template));
            if let Some(max) = max_batch_requests {
                let _ = writeln!(doc, "  maxNumBatchRequests: {max}");
            }
            doc.push_str("  transport:\n    type: io.statefun.transports.v1/async\n");
            if let Some(call) = call_timeout {
                let _ = writeln!(doc, "    call: {}", format_duration(call));
            }
            self.documents.push(doc);
        }
        self
    }

    /// An `io.statefun.kafka.v1/ingress`: records of each topic are routed
    /// to its targets at the id given by the record key, starting from the
    /// earliest offset.
    pub fn kafka_ingress(
        mut self,
        id: &str,
        address: &str,
        consumer_group_id: &str,
        topics: impl IntoIterator<Item = KafkaTopic>,
    ) -> Self {
        let mut doc = String::from("kind: io.statefun.kafka.v1/ingress\nspec:\n");
        let _ = writeln!(doc, "  id: {}", quoted(id));
        let _ = writeln!(doc, "  address: {}", quoted(address));
        let _ = writeln!(doc, "  consumerGroupId: {}", quoted(consumer_group_id));
        doc.push_str("  startupPosition:\n    type: earliest\n  topics:\n");
        for topic in topics {
            let _ = writeln!(doc, "    - topic: {}", quoted(&topic.topic));
            let _ = writeln!(
                doc,
                "      valueType: {}",
                quoted(topic.value_type.as_str())
            );
            doc.push_str("      targets:\n");
            for target in &topic.targets {
                let _ = writeln!(doc, "        - {}", quoted(target.as_str()));
            }
        }
        self.documents.push(doc);
        self
    }

    /// An `io.statefun.kafka.v1/egress`: exactly-once with the given
    /// transaction timeout, or at-least-once (the runtime's default) for
    /// `None`.
    pub fn kafka_egress(
        mut self,
        id: &EgressIdentifier,
        address: &str,
        exactly_once_transaction_timeout: Option<Duration>,
    ) -> Self {
        let mut doc = String::from("kind: io.statefun.kafka.v1/egress\nspec:\n");
        let _ = writeln!(doc, "  id: {}", quoted(id.type_name().as_str()));
        let _ = writeln!(doc, "  address: {}", quoted(address));
        match exactly_once_transaction_timeout {
            Some(timeout) => {
                let _ = write!(
                    doc,
                    "  deliverySemantic:\n    type: exactly-once\n    transactionTimeout: {}\n",
                    format_duration(timeout)
                );
            }
            None => doc.push_str("  deliverySemantic:\n    type: at-least-once\n"),
        }
        self.documents.push(doc);
        self
    }
}

impl std::fmt::Display for ModuleYaml {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.documents.join("---\n"))
    }
}
