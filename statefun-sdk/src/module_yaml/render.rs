//! The writer: each component as one YAML document, in the formats of the
//! runtime's module loader.

use std::fmt::{self, Write as _};
use std::time::Duration;

use super::format_duration;
use super::model::{
    ASYNC_TRANSPORT, AsyncTransport, Component, DeliverySemantic, EndpointVersion, HttpEndpoint,
    IngressTopic, KafkaEgress, KafkaIngress, KafkaStartupPosition, OKHTTP_TRANSPORT,
    OkHttpTimeouts, Transport,
};

/// Writes `components` as a `module.yaml`: one document each, separated by
/// `---`.
///
/// ```
/// use stateful_functions::module_yaml::{Component, KinesisEgress, render};
/// use stateful_functions::EgressIdentifier;
///
/// let out = |id| Component::KinesisEgress(KinesisEgress::new(EgressIdentifier::from_static(id)));
/// let yaml = render(&[out("a/x"), out("a/y")]);
/// assert_eq!(yaml.matches("---\n").count(), 1);
/// ```
pub fn render(components: &[Component]) -> String {
    let documents: Vec<String> = components.iter().map(ToString::to_string).collect();
    documents.join("---\n")
}

impl fmt::Display for Component {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut doc = format!("kind: {}\nspec:\n", self.kind());
        match self {
            Self::HttpEndpoint(e) => endpoint(&mut doc, e),
            Self::KafkaIngress(i) => kafka_ingress(&mut doc, i),
            Self::KinesisIngress(i) => {
                line(&mut doc, 1, "id", &quoted(i.id.as_str()));
                topics(&mut doc, "streams", "stream", &i.streams);
            }
            Self::KafkaEgress(e) => kafka_egress(&mut doc, e),
            Self::KinesisEgress(e) => line(&mut doc, 1, "id", &quoted(e.id.type_name().as_str())),
        }
        f.write_str(&doc)
    }
}

fn line(doc: &mut String, depth: usize, key: &str, value: &str) {
    let _ = writeln!(doc, "{:width$}{key}: {value}", "", width = depth * 2);
}

/// `key:` opening a nested mapping or list.
fn open(doc: &mut String, depth: usize, key: &str) {
    let _ = writeln!(doc, "{:width$}{key}:", "", width = depth * 2);
}

fn duration(doc: &mut String, depth: usize, key: &str, value: Option<Duration>) {
    if let Some(value) = value {
        line(doc, depth, key, &format_duration(value));
    }
}

fn endpoint(doc: &mut String, e: &HttpEndpoint) {
    line(doc, 1, "functions", &quoted(&e.functions.to_string()));
    line(doc, 1, "urlPathTemplate", &quoted(&e.url_path_template));
    if let Some(max) = e.max_num_batch_requests {
        line(doc, 1, "maxNumBatchRequests", &max.to_string());
    }
    match (&e.version, &e.transport) {
        (EndpointVersion::V1, Transport::OkHttp(timeouts)) => okhttp(doc, 1, timeouts),
        (_, Transport::Async(t)) => {
            open(doc, 1, "transport");
            line(doc, 2, "type", ASYNC_TRANSPORT);
            async_transport(doc, t);
        }
        (_, Transport::OkHttp(timeouts)) => {
            open(doc, 1, "transport");
            line(doc, 2, "type", OKHTTP_TRANSPORT);
            okhttp(doc, 2, timeouts);
        }
    }
}

fn async_transport(doc: &mut String, t: &AsyncTransport) {
    duration(doc, 2, "call", t.call);
    duration(doc, 2, "connect", t.connect);
    duration(doc, 2, "pool_ttl", t.pool_ttl);
    if let Some(size) = t.pool_size {
        line(doc, 2, "pool_size", &size.to_string());
    }
    if let Some(max) = t.payload_max_bytes {
        line(doc, 2, "payload_max_bytes", &max.to_string());
    }
    if let Some(timeouts) = &t.timeouts {
        if timeouts.call.is_none() && timeouts.connect.is_none() {
            line(doc, 2, "timeouts", "{}");
        } else {
            open(doc, 2, "timeouts");
            duration(doc, 3, "call", timeouts.call);
            duration(doc, 3, "connect", timeouts.connect);
        }
    }
}

fn okhttp(doc: &mut String, depth: usize, t: &OkHttpTimeouts) {
    let values = [
        ("call", t.call),
        ("connect", t.connect),
        ("read", t.read),
        ("write", t.write),
    ];
    if values.iter().all(|(_, v)| v.is_none()) {
        return;
    }
    open(doc, depth, "timeouts");
    for (key, value) in values {
        duration(doc, depth + 1, key, value);
    }
}

fn kafka_ingress(doc: &mut String, i: &KafkaIngress) {
    line(doc, 1, "id", &quoted(i.id.as_str()));
    if let Some(address) = &i.address {
        line(doc, 1, "address", &quoted(address));
    }
    if let Some(group) = &i.consumer_group_id {
        line(doc, 1, "consumerGroupId", &quoted(group));
    }
    if let Some(position) = &i.startup_position {
        open(doc, 1, "startupPosition");
        let kind = match position {
            KafkaStartupPosition::GroupOffsets => "group-offsets",
            KafkaStartupPosition::Earliest => "earliest",
            KafkaStartupPosition::Latest => "latest",
            KafkaStartupPosition::SpecificOffsets(_) => "specific-offsets",
            KafkaStartupPosition::Date(_) => "date",
        };
        line(doc, 2, "type", kind);
        match position {
            KafkaStartupPosition::SpecificOffsets(offsets) => {
                open(doc, 2, "offsets");
                for (partition, offset) in offsets {
                    let _ = writeln!(doc, "      - {}: {offset}", quoted(partition));
                }
            }
            KafkaStartupPosition::Date(date) => line(doc, 2, "date", &quoted(date)),
            _ => {}
        }
    }
    topics(doc, "topics", "topic", &i.topics);
}

fn topics(doc: &mut String, list_key: &str, name_key: &str, topics: &[IngressTopic]) {
    open(doc, 1, list_key);
    for topic in topics {
        let _ = writeln!(doc, "    - {name_key}: {}", quoted(&topic.name));
        line(doc, 3, "valueType", &quoted(topic.value_type.as_str()));
        open(doc, 3, "targets");
        for target in &topic.targets {
            let _ = writeln!(doc, "        - {}", quoted(target.as_str()));
        }
    }
}

fn kafka_egress(doc: &mut String, e: &KafkaEgress) {
    line(doc, 1, "id", &quoted(e.id.type_name().as_str()));
    if let Some(address) = &e.address {
        line(doc, 1, "address", &quoted(address));
    }
    if let Some(semantic) = e.delivery_semantic {
        open(doc, 1, "deliverySemantic");
        match semantic {
            DeliverySemantic::AtLeastOnce => line(doc, 2, "type", "at-least-once"),
            DeliverySemantic::NoGuarantee => line(doc, 2, "type", "none"),
            DeliverySemantic::ExactlyOnce(timeout) => {
                line(doc, 2, "type", "exactly-once");
                duration(doc, 2, "transactionTimeout", timeout);
            }
        }
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
            // Line and paragraph separators: a YAML 1.1 reader (libyaml,
            // serde_norway) breaks the line at them and folds what follows.
            c if c.is_control() || c == '\u{2028}' || c == '\u{2029}' => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}
