//! [`ModuleYaml`]: the StateFun `module.yaml` for a set of functions, in the
//! formats of the runtime's module loader (spec §2.4). A builder over the
//! [`module_yaml`](crate::module_yaml) model, written by its writer.

use std::time::Duration;

use crate::module_yaml::{
    AsyncTransport, Component, DeliverySemantic, FunctionPattern, HttpEndpoint, IngressTopic,
    KafkaEgress, KafkaIngress, KafkaStartupPosition, Transport, render,
};
use crate::{EgressIdentifier, Functions, TypeName};

/// Builds a StateFun `module.yaml`: one YAML document per component,
/// separated by `---`, each `{kind, spec}`.
///
/// ```
/// use stateful_functions::{EgressIdentifier, KafkaTopic, ModuleYaml, TypeName};
///
/// let yaml = ModuleYaml::new()
///     .kafka_ingress(
///         TypeName::from_static("com.example/orders"),
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
    components: Vec<Component>,
}

/// A topic of a Kafka ingress: its records' value type and the function
/// types they are sent to (each at the id given by the record key).
#[derive(Debug, Clone)]
#[must_use]
pub struct KafkaTopic(IngressTopic);

impl KafkaTopic {
    /// A topic whose values carry `value_type`.
    pub fn new(topic: impl Into<String>, value_type: TypeName) -> Self {
        Self(IngressTopic::new(topic, value_type))
    }

    /// Sends the topic's records to `function_type` too.
    pub fn target(self, function_type: TypeName) -> Self {
        Self(self.0.target(function_type))
    }
}

impl ModuleYaml {
    /// An empty module.
    pub fn new() -> Self {
        Self::default()
    }

    /// The components so far, in order.
    ///
    /// ```
    /// use stateful_functions::module_yaml::Component;
    /// use stateful_functions::{EgressIdentifier, ModuleYaml};
    ///
    /// let module = ModuleYaml::new().kafka_egress(
    ///     &EgressIdentifier::from_static("shop/out"),
    ///     "kafka:9092",
    ///     None,
    /// );
    /// assert!(matches!(module.components(), [Component::KafkaEgress(_)]));
    /// ```
    pub fn components(&self) -> &[Component] {
        &self.components
    }

    /// Adds any component of the model.
    ///
    /// ```
    /// use stateful_functions::module_yaml::{Component, KinesisEgress};
    /// use stateful_functions::{EgressIdentifier, ModuleYaml};
    ///
    /// let yaml = ModuleYaml::new()
    ///     .component(Component::KinesisEgress(KinesisEgress::new(
    ///         EgressIdentifier::from_static("shop/out"),
    ///     )))
    ///     .to_string();
    /// assert!(yaml.starts_with("kind: io.statefun.kinesis.v1/egress\n"));
    /// ```
    pub fn component(mut self, component: Component) -> Self {
        self.components.push(component);
        self
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
            let mut endpoint =
                HttpEndpoint::new(FunctionPattern::Type(type_name.clone()), url_path_template);
            endpoint.max_num_batch_requests = max_batch_requests.map(i64::from);
            endpoint.transport = Transport::Async(AsyncTransport {
                call: call_timeout,
                ..AsyncTransport::default()
            });
            self.components.push(Component::HttpEndpoint(endpoint));
        }
        self
    }

    /// An `io.statefun.kafka.v1/ingress`: records of each topic are routed
    /// to its targets at the id given by the record key, starting from the
    /// earliest offset.
    pub fn kafka_ingress(
        mut self,
        id: TypeName,
        address: &str,
        consumer_group_id: &str,
        topics: impl IntoIterator<Item = KafkaTopic>,
    ) -> Self {
        let mut ingress = KafkaIngress::new(id);
        ingress.address = Some(address.to_owned());
        ingress.consumer_group_id = Some(consumer_group_id.to_owned());
        ingress.startup_position = Some(KafkaStartupPosition::Earliest);
        ingress.topics = topics.into_iter().map(|t| t.0).collect();
        self.components.push(Component::KafkaIngress(ingress));
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
        let mut egress = KafkaEgress::new(id.clone());
        egress.address = Some(address.to_owned());
        egress.delivery_semantic = Some(match exactly_once_transaction_timeout {
            Some(timeout) => DeliverySemantic::ExactlyOnce(Some(timeout)),
            None => DeliverySemantic::AtLeastOnce,
        });
        self.components.push(Component::KafkaEgress(egress));
        self
    }
}

impl std::fmt::Display for ModuleYaml {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&render(&self.components))
    }
}
