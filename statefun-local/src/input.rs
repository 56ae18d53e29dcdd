//! Input: JSON lines (from stdin, a file or an HTTP POST), each a record
//! of an ingress topic or a message to an address, routed as the runtime
//! routes them (spec §2.6.1: to every target of the topic, at the id given
//! by the record's key, typed with the topic's `valueType`).
//!
//! ```text
//! {"topic": "add-to-cart", "key": "kim", "value": {"user_id": "kim", ...}}
//! {"ingress": "com.example/shop-requests", "topic": "restock", "key": "socks", "value": {...}}
//! {"to": "com.example/cart:kim", "type": "com.example.types/Checkout", "value": {...}}
//! {"advance": "15min"}          (the virtual clock only)
//! ```

use std::collections::BTreeMap;
use std::time::Duration;

use bytes::Bytes;
use serde_json::Value as Json;
use serde_json::value::RawValue;
use stateful_functions::{Address, TypeName};

use crate::module::{IoKind, Module};
use crate::values;
use stateful_functions::module_yaml::parse_duration;

/// One message into the job: from the ingress, no caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Delivery {
    pub(crate) to: Address,
    /// The typename, verbatim (a topic's `valueType` need not be
    /// `namespace/name`).
    pub(crate) type_name: String,
    pub(crate) value: Bytes,
}

/// What a line asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Line {
    /// Messages to deliver (one per target of a topic).
    Deliver(Vec<Delivery>),
    /// Move the virtual clock.
    Advance(Duration),
    /// An empty line.
    Blank,
}

/// A topic's routing: its value type and targets.
#[derive(Debug, Clone)]
struct Route {
    value_type: String,
    targets: Vec<TypeName>,
}

/// How input reaches functions, from the module.
#[derive(Debug, Clone)]
pub(crate) struct Routes {
    module: Module,
    /// (ingress id, topic) → route.
    topics: BTreeMap<(String, String), Route>,
}

const KEYS: [&str; 9] = [
    "ingress",
    "topic",
    "stream",
    "key",
    "to",
    "type",
    "value",
    "value_text",
    "value_base64",
];

impl Routes {
    pub(crate) fn new(module: Module) -> Self {
        let mut topics = BTreeMap::new();
        for ingress in &module.ingresses {
            for topic in &ingress.topics {
                topics.insert(
                    (ingress.id.as_str().to_owned(), topic.name.clone()),
                    Route {
                        value_type: topic.value_type.clone(),
                        targets: topic.targets.clone(),
                    },
                );
            }
        }
        Self { module, topics }
    }

    /// Parses one input line.
    pub(crate) fn parse_line(&self, line: &str) -> Result<Line, String> {
        let line = line.trim();
        if line.is_empty() {
            return Ok(Line::Blank);
        }
        let json: Json =
            serde_json::from_str(line).map_err(|e| format!("not a JSON object: {e}"))?;
        let Json::Object(object) = json else {
            return Err("not a JSON object".into());
        };
        // The same line with its values as written: a JSON value goes
        // through verbatim.
        let raw: BTreeMap<String, Box<RawValue>> =
            serde_json::from_str(line).map_err(|e| format!("not a JSON object: {e}"))?;
        if let Some(advance) = object.get("advance") {
            if object.len() > 1 {
                return Err("`advance` stands alone on its line".into());
            }
            let text = match advance {
                Json::String(s) => s.clone(),
                Json::Number(n) => n.to_string(),
                _ => return Err("`advance` takes a duration such as \"5s\"".into()),
            };
            return parse_duration(&text)
                .map(Line::Advance)
                .map_err(|e| e.to_string());
        }
        if let Some(unknown) = object.keys().find(|k| !KEYS.contains(&k.as_str())) {
            return Err(format!(
                "unknown key {unknown:?} (known: {}, advance)",
                KEYS.join(", ")
            ));
        }
        let text = |key: &str| -> Result<Option<&str>, String> {
            match object.get(key) {
                None => Ok(None),
                Some(Json::String(s)) => Ok(Some(s)),
                Some(other) => Err(format!("`{key}` must be a string, not {other}")),
            }
        };
        let topic = match (text("topic")?, text("stream")?) {
            (Some(_), Some(_)) => return Err("give `topic` or `stream`, not both".into()),
            (t, s) => t.or(s),
        };
        if let Some(topic) = topic {
            for key in ["to", "type"] {
                if object.contains_key(key) {
                    return Err(format!(
                        "`{key}` does not go with a topic: a topic's record is routed by its key and typed by the topic's valueType"
                    ));
                }
            }
            let key = text("key")?
                .ok_or("a record needs a `key`: it is the id of the function it goes to")?;
            let (value_type, targets) = self.topic(text("ingress")?, topic)?;
            let value = values::encode(value_type, &object, raw.get("value").map(|v| &**v))?;
            return Ok(Line::Deliver(
                targets
                    .iter()
                    .map(|target| Delivery {
                        to: Address::new(target.clone(), key),
                        type_name: value_type.to_owned(),
                        value: value.clone(),
                    })
                    .collect(),
            ));
        }
        for key in ["ingress", "key"] {
            if object.contains_key(key) {
                return Err(format!("`{key}` needs a `topic` (or `stream`)"));
            }
        }
        let Some(to) = text("to")? else {
            return Err(
                "say where the message goes: `topic` and `key`, or `to` (\"namespace/name:id\")"
                    .into(),
            );
        };
        let to = parse_address(to)?;
        let value_type = type_name(
            text("type")?.ok_or("a message to an address needs its `type` (a typename)")?,
        )?;
        let value = values::encode(value_type.as_str(), &object, raw.get("value").map(|v| &**v))?;
        Ok(Line::Deliver(vec![self.to_address(
            to,
            &value_type,
            value,
        )?]))
    }

    /// A record of `topic` (of ingress `ingress`, or the only ingress with
    /// that topic) with `key` and raw `value` bytes.
    pub(crate) fn record(
        &self,
        ingress: Option<&str>,
        topic: &str,
        key: &str,
        value: &Bytes,
    ) -> Result<Vec<Delivery>, String> {
        let (value_type, targets) = self.topic(ingress, topic)?;
        Ok(targets
            .iter()
            .map(|target| Delivery {
                to: Address::new(target.clone(), key),
                type_name: value_type.to_owned(),
                value: value.clone(),
            })
            .collect())
    }

    /// A message to `to`, whose type must be served.
    pub(crate) fn to_address(
        &self,
        to: Address,
        type_name: &TypeName,
        value: Bytes,
    ) -> Result<Delivery, String> {
        if self.module.endpoint_for(to.function_type()).is_none() {
            return Err(format!(
                "no endpoint of the module serves {} (the message to {to} would fail the job)",
                to.function_type()
            ));
        }
        Ok(Delivery {
            to,
            type_name: type_name.as_str().to_owned(),
            value,
        })
    }

    fn topic(&self, ingress: Option<&str>, topic: &str) -> Result<(&str, &[TypeName]), String> {
        let found: Vec<(&(String, String), &Route)> = self
            .topics
            .iter()
            .filter(|((i, t), _)| t == topic && ingress.is_none_or(|want| want == i))
            .collect();
        match found.as_slice() {
            [(_, route)] => Ok((&route.value_type, &route.targets)),
            [] => {
                let known: Vec<String> = self
                    .module
                    .ingresses
                    .iter()
                    .filter(|i| ingress.is_none_or(|want| want == i.id.as_str()))
                    .flat_map(|i| {
                        let word = match i.kind {
                            IoKind::Kafka => "topic",
                            IoKind::Kinesis => "stream",
                        };
                        i.topics
                            .iter()
                            .map(move |t| format!("{word} {:?} of {}", t.name, i.id))
                    })
                    .collect();
                let scope = ingress.map_or(String::new(), |i| format!(" in ingress {i}"));
                Err(if known.is_empty() {
                    format!("no topic {topic:?}{scope}: the module has no such ingress")
                } else {
                    format!("no topic {topic:?}{scope} (known: {})", known.join(", "))
                })
            }
            several => Err(format!(
                "topic {topic:?} belongs to several ingresses ({}): say which with `ingress`",
                several
                    .iter()
                    .map(|((i, _), _)| i.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
        }
    }
}

fn type_name(text: &str) -> Result<TypeName, String> {
    text.parse()
        .map_err(|e| format!("{text:?} is not a typename: {e}"))
}

/// `namespace/name:id` (the id is everything after the first `:` that
/// follows the `/`).
pub(crate) fn parse_address(text: &str) -> Result<Address, String> {
    text.parse::<Address>().map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn routes() -> Routes {
        let text = include_str!("../../examples/shopping-cart/deploy/module.yaml");
        Routes::new(Module::parse("module.yaml", text, true).unwrap())
    }

    fn deliveries(line: &str) -> Vec<Delivery> {
        match routes().parse_line(line) {
            Ok(Line::Deliver(d)) => d,
            other => panic!("{line}: {other:?}"),
        }
    }

    #[test]
    fn topic_records_are_routed_by_key_with_the_value_type() {
        let d = deliveries(
            r#"{"topic": "add-to-cart", "key": "kim", "value": {"user_id": "kim", "item_id": "socks", "quantity": 2}}"#,
        );
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].to.to_string(), "com.example/cart:kim");
        assert_eq!(d[0].type_name.as_str(), "com.example.types/AddToCart");
        assert_eq!(
            &d[0].value[..],
            br#"{"user_id": "kim", "item_id": "socks", "quantity": 2}"#
        );
        let same = deliveries(
            r#"{"ingress": "com.example/shop-requests", "topic": "add-to-cart", "key": "kim", "value": {"user_id": "kim", "item_id": "socks", "quantity": 2}}"#,
        );
        assert_eq!(same, d);
    }

    #[test]
    fn messages_to_addresses() {
        let d = deliveries(
            r#"{"to": "com.example/inventory:socks", "type": "io.statefun.types/int", "value": 3}"#,
        );
        assert_eq!(d[0].to.to_string(), "com.example/inventory:socks");
        let d =
            deliveries(r#"{"to": "com.example/cart:a/b:c", "type": "x.y/Z", "value_text": "hi"}"#);
        assert_eq!(d[0].to.id(), "a/b:c");
        assert_eq!(&d[0].value[..], b"hi");
    }

    #[test]
    fn advance_and_blank() {
        assert_eq!(
            routes().parse_line(r#"{"advance": "15min"}"#),
            Ok(Line::Advance(Duration::from_secs(900)))
        );
        assert_eq!(routes().parse_line("   "), Ok(Line::Blank));
    }

    #[test]
    fn bad_lines_say_what_is_wrong() {
        let cases = [
            ("{", "not a JSON object"),
            ("[1]", "not a JSON object"),
            (
                r#"{"topic": "nope", "key": "k", "value": 1}"#,
                "no topic \"nope\" (known: topic \"add-to-cart\" of com.example/shop-requests",
            ),
            (r#"{"topic": "checkout", "value": {}}"#, "needs a `key`"),
            (r#"{"topic": "checkout", "key": "k"}"#, "no value"),
            (
                r#"{"topic": "checkout", "key": "k", "value": {}, "colour": 1}"#,
                "unknown key \"colour\"",
            ),
            (
                r#"{"to": "com.example/cart:kim", "value": {}}"#,
                "needs its `type`",
            ),
            (
                r#"{"to": "other/fn:kim", "type": "a/b", "value": {}}"#,
                "no endpoint of the module serves other/fn",
            ),
            (
                r#"{"to": "kim", "type": "a/b", "value": {}}"#,
                "invalid address \"kim\"",
            ),
            (r#"{"value": 1}"#, "say where the message goes"),
            (
                r#"{"topic": "checkout", "key": "k", "type": "a/b", "value": {}}"#,
                "`type` does not go with a topic",
            ),
            (r#"{"advance": "soon"}"#, "not a duration"),
            (r#"{"advance": "1s", "key": "k"}"#, "stands alone"),
        ];
        for (line, expected) in cases {
            let error = routes().parse_line(line).unwrap_err();
            assert!(error.contains(expected), "{line}: {error}");
        }
    }
}
