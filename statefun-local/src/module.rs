//! Reading a StateFun `module.yaml` (spec §2.4): one `{kind, spec}`
//! document per component, in the formats the runtime's module loader
//! accepts, so the file that deploys to Flink runs here unchanged.
//!
//! Errors name the file, the document (1-based, as an editor counts `---`
//! sections), its kind and the key.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use serde::Deserialize as _;
use serde_norway::{Mapping, Value};
use statefun_sdk::{EgressIdentifier, TypeName};

use statefun_sdk::module_yaml::parse_duration;

/// A module: where function types are served, and the ingresses and
/// egresses.
#[derive(Debug, Clone, Default)]
pub(crate) struct Module {
    pub(crate) endpoints: Vec<Endpoint>,
    pub(crate) ingresses: Vec<Ingress>,
    pub(crate) egresses: Vec<Egress>,
}

/// The function types an endpoint serves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Pattern {
    /// One function type.
    Type(TypeName),
    /// `ns/*`: every type of a namespace.
    Namespace(String),
}

impl fmt::Display for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Type(t) => f.write_str(t.as_str()),
            Self::Namespace(ns) => write!(f, "{ns}/*"),
        }
    }
}

/// An `io.statefun.endpoints.v1/http` or `.v2/http` document.
#[derive(Debug, Clone)]
pub(crate) struct Endpoint {
    pub(crate) document: usize,
    pub(crate) functions: Pattern,
    pub(crate) url_path_template: String,
    /// `maxNumBatchRequests` (0 when disabled).
    pub(crate) max_batch_requests: usize,
    /// The transport's total budget per request.
    pub(crate) call_timeout: Duration,
}

/// Kafka or Kinesis.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum IoKind {
    Kafka,
    Kinesis,
}

/// An auto-routable Kafka or Kinesis ingress.
#[derive(Debug, Clone)]
pub(crate) struct Ingress {
    pub(crate) id: TypeName,
    pub(crate) kind: IoKind,
    /// Topics (Kafka) or streams (Kinesis).
    pub(crate) topics: Vec<Topic>,
}

/// A topic or stream of an ingress: the typename its values carry and the
/// function types each record goes to (at the id given by its key).
#[derive(Debug, Clone)]
pub(crate) struct Topic {
    pub(crate) name: String,
    pub(crate) value_type: TypeName,
    pub(crate) targets: Vec<TypeName>,
}

/// A Kafka or Kinesis egress.
#[derive(Debug, Clone)]
pub(crate) struct Egress {
    pub(crate) id: EgressIdentifier,
    pub(crate) kind: IoKind,
}

/// A module.yaml that cannot be run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}: {place}{message}")]
pub(crate) struct ModuleError {
    file: String,
    /// `document 3 (io.statefun.kafka.v1/ingress), spec.topics[0].valueType: `
    place: String,
    message: String,
}

const ENDPOINT_V1: &str = "io.statefun.endpoints.v1/http";
const ENDPOINT_V2: &str = "io.statefun.endpoints.v2/http";
const KAFKA_INGRESS: &str = "io.statefun.kafka.v1/ingress";
const KAFKA_EGRESS: &str = "io.statefun.kafka.v1/egress";
const KINESIS_INGRESS: &str = "io.statefun.kinesis.v1/ingress";
const KINESIS_EGRESS: &str = "io.statefun.kinesis.v1/egress";
const KINDS: [&str; 6] = [
    ENDPOINT_V1,
    ENDPOINT_V2,
    KAFKA_INGRESS,
    KAFKA_EGRESS,
    KINESIS_INGRESS,
    KINESIS_EGRESS,
];

/// One document being read: where errors point.
struct Doc<'f> {
    file: &'f str,
    index: usize,
    kind: Option<String>,
    strict: bool,
}

impl Doc<'_> {
    fn error(&self, key: &str, message: impl Into<String>) -> ModuleError {
        let mut place = format!("document {}", self.index);
        if let Some(kind) = &self.kind {
            place.push_str(&format!(" ({kind})"));
        }
        if !key.is_empty() {
            place.push_str(", ");
            place.push_str(key);
        }
        place.push_str(": ");
        ModuleError {
            file: self.file.to_owned(),
            place,
            message: message.into(),
        }
    }

    fn mapping<'v>(&self, value: &'v Value, key: &str) -> Result<&'v Mapping, ModuleError> {
        match value {
            Value::Mapping(m) => Ok(m),
            Value::Tagged(t) => self.mapping(&t.value, key),
            other => Err(self.error(key, format!("expected a mapping, found {}", shape(other)))),
        }
    }

    /// Refuses keys outside `known` (the runtime ignores them, which hides
    /// typos; `--allow-unknown-keys` does the same as the runtime).
    fn known_keys(&self, map: &Mapping, path: &str, known: &[&str]) -> Result<(), ModuleError> {
        if !self.strict {
            return Ok(());
        }
        for key in map.keys() {
            let name = key.as_str().unwrap_or_default();
            if !known.contains(&name) {
                return Err(self.error(
                    &join(path, &scalar_text(key)),
                    format!(
                        "unknown key (known here: {}); the runtime would ignore it, pass --allow-unknown-keys to do the same",
                        known.join(", ")
                    ),
                ));
            }
        }
        Ok(())
    }

    fn string(&self, map: &Mapping, path: &str, key: &str) -> Result<Option<String>, ModuleError> {
        match map.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(Value::Number(n)) => Ok(Some(n.to_string())),
            Some(other) => Err(self.error(
                &join(path, key),
                format!("expected a string, found {}", shape(other)),
            )),
        }
    }

    fn required(&self, map: &Mapping, path: &str, key: &str) -> Result<String, ModuleError> {
        self.string(map, path, key)?
            .ok_or_else(|| self.error(&join(path, key), "missing (it is required)"))
    }

    fn type_name(&self, text: &str, key: &str) -> Result<TypeName, ModuleError> {
        text.parse::<TypeName>()
            .map_err(|e| self.error(key, format!("{text:?} is not a typename: {e}")))
    }

    fn duration(
        &self,
        map: &Mapping,
        path: &str,
        key: &str,
    ) -> Result<Option<Duration>, ModuleError> {
        let Some(text) = self.string(map, path, key)? else {
            return Ok(None);
        };
        parse_duration(&text)
            .map(Some)
            .map_err(|e| self.error(&join(path, key), e.to_string()))
    }

    fn list<'v>(
        &self,
        map: &'v Mapping,
        path: &str,
        key: &str,
    ) -> Result<&'v [Value], ModuleError> {
        match map.get(key) {
            Some(Value::Sequence(items)) => Ok(items),
            None | Some(Value::Null) => {
                Err(self.error(&join(path, key), "missing (it is required)"))
            }
            Some(other) => Err(self.error(
                &join(path, key),
                format!("expected a list, found {}", shape(other)),
            )),
        }
    }
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

fn scalar_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        other => shape(other).to_owned(),
    }
}

fn shape(value: &Value) -> &'static str {
    match value {
        Value::Null => "nothing",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Sequence(_) => "a list",
        Value::Mapping(_) => "a mapping",
        Value::Tagged(_) => "a tagged value",
    }
}

impl Module {
    /// Reads `text`, the contents of `file` (named in errors). `strict`
    /// refuses unknown keys.
    pub(crate) fn parse(file: &str, text: &str, strict: bool) -> Result<Self, ModuleError> {
        let mut module = Self::default();
        // Where each component was declared, for duplicate errors.
        let mut bound: BTreeMap<String, usize> = BTreeMap::new();
        let mut ids: BTreeMap<String, usize> = BTreeMap::new();
        let mut documents = Vec::new();
        for (i, document) in serde_norway::Deserializer::from_str(text).enumerate() {
            let doc = Doc {
                file,
                index: i + 1,
                kind: None,
                strict,
            };
            let value = Value::deserialize(document)
                .map_err(|e| doc.error("", format!("not valid YAML: {e}")))?;
            documents.push(value);
        }
        if let [Value::Mapping(only)] = documents.as_slice()
            && only.contains_key("version")
        {
            return Err(Doc {
                    file,
                    index: 1,
                    kind: None,
                    strict,
                }
                .error(
                    "version",
                    "the legacy single-document format (version: \"3.0\") is not supported; write one `kind`/`spec` document per component, as StateFun 3.1 and later do",
                ));
        }
        for (i, value) in documents.iter().enumerate() {
            let mut doc = Doc {
                file,
                index: i + 1,
                kind: None,
                strict,
            };
            if value.is_null() {
                continue;
            }
            let top = doc.mapping(value, "")?;
            let kind = doc.required(top, "", "kind")?;
            doc.kind = Some(kind.clone());
            doc.known_keys(top, "", &["kind", "spec"])?;
            let spec = match top.get("spec") {
                Some(spec) => doc.mapping(spec, "spec")?,
                None => return Err(doc.error("spec", "missing (it is required)")),
            };
            match kind.as_str() {
                ENDPOINT_V1 | ENDPOINT_V2 => {
                    let endpoint = endpoint(&doc, spec, kind == ENDPOINT_V2)?;
                    let key = endpoint.functions.to_string();
                    if let Some(first) = bound.insert(key.clone(), doc.index) {
                        return Err(doc.error(
                            "spec.functions",
                            format!("{key} is already bound by document {first}"),
                        ));
                    }
                    module.endpoints.push(endpoint);
                }
                KAFKA_INGRESS | KINESIS_INGRESS => {
                    let ingress = ingress(&doc, spec, kind == KAFKA_INGRESS)?;
                    unique_id(&doc, &mut ids, ingress.id.as_str())?;
                    module.ingresses.push(ingress);
                }
                KAFKA_EGRESS | KINESIS_EGRESS => {
                    let egress = egress(&doc, spec, kind == KAFKA_EGRESS)?;
                    unique_id(&doc, &mut ids, egress.id.type_name().as_str())?;
                    module.egresses.push(egress);
                }
                other => {
                    return Err(doc.error(
                        "kind",
                        format!(
                            "unknown kind {other:?}; statefun-local runs {}",
                            KINDS.join(", ")
                        ),
                    ));
                }
            }
        }
        module.check_targets(file, strict, &documents)?;
        Ok(module)
    }

    /// The endpoint serving `function_type`: an exact binding wins over a
    /// namespace one, as in the runtime.
    pub(crate) fn endpoint_for(&self, function_type: &TypeName) -> Option<&Endpoint> {
        self.endpoints
            .iter()
            .find(|e| e.functions == Pattern::Type(function_type.clone()))
            .or_else(|| {
                self.endpoints.iter().find(|e| {
                    e.functions == Pattern::Namespace(function_type.namespace().to_owned())
                })
            })
    }

    /// Every ingress target must be served by an endpoint (the runtime
    /// would fail the job at the first record).
    fn check_targets(
        &self,
        file: &str,
        strict: bool,
        documents: &[Value],
    ) -> Result<(), ModuleError> {
        for (i, value) in documents.iter().enumerate() {
            let Some(kind) = value.get("kind").and_then(Value::as_str) else {
                continue;
            };
            let (list_key, name_key) = match kind {
                KAFKA_INGRESS => ("topics", "topic"),
                KINESIS_INGRESS => ("streams", "stream"),
                _ => continue,
            };
            let doc = Doc {
                file,
                index: i + 1,
                kind: Some(kind.to_owned()),
                strict,
            };
            let topics = value
                .get("spec")
                .and_then(|s| s.get(list_key))
                .and_then(Value::as_sequence)
                .map_or(&[][..], Vec::as_slice);
            for (t, topic) in topics.iter().enumerate() {
                let targets = topic
                    .get("targets")
                    .and_then(Value::as_sequence)
                    .map_or(&[][..], Vec::as_slice);
                for (k, target) in targets.iter().enumerate() {
                    let Some(Ok(target)) = target.as_str().map(str::parse::<TypeName>) else {
                        continue;
                    };
                    if self.endpoint_for(&target).is_none() {
                        let name = topic.get(name_key).and_then(Value::as_str).unwrap_or("?");
                        return Err(doc.error(
                            &format!("spec.{list_key}[{t}].targets[{k}]"),
                            format!(
                                "{target} (a target of {name_key} {name:?}) is not served by any endpoint of the module"
                            ),
                        ));
                    }
                }
            }
        }
        Ok(())
    }
}

fn unique_id(
    doc: &Doc<'_>,
    ids: &mut BTreeMap<String, usize>,
    id: &str,
) -> Result<(), ModuleError> {
    match ids.insert(id.to_owned(), doc.index) {
        Some(first) => Err(doc.error(
            "spec.id",
            format!("{id} is already declared by document {first}"),
        )),
        None => Ok(()),
    }
}

fn endpoint(doc: &Doc<'_>, spec: &Mapping, v2: bool) -> Result<Endpoint, ModuleError> {
    if v2 {
        doc.known_keys(
            spec,
            "spec",
            &[
                "functions",
                "urlPathTemplate",
                "maxNumBatchRequests",
                "transport",
            ],
        )?;
    } else {
        doc.known_keys(
            spec,
            "spec",
            &[
                "functions",
                "urlPathTemplate",
                "maxNumBatchRequests",
                "timeouts",
            ],
        )?;
    }
    let functions_text = doc.required(spec, "spec", "functions")?;
    let functions = match functions_text.rsplit_once('/') {
        Some((ns, "*")) if !ns.is_empty() && !ns.contains('*') => Pattern::Namespace(ns.to_owned()),
        _ if functions_text.contains('*') => {
            return Err(doc.error(
                "spec.functions",
                format!("{functions_text:?}: `*` may only stand for the whole name, as in `ns/*`"),
            ));
        }
        _ => Pattern::Type(doc.type_name(&functions_text, "spec.functions")?),
    };
    let url_path_template = doc.required(spec, "spec", "urlPathTemplate")?;
    check_url(doc, &url_path_template)?;
    let max_batch_requests = match spec.get("maxNumBatchRequests") {
        None | Some(Value::Null) => 1000,
        Some(Value::Number(n)) => match n.as_i64() {
            Some(n) if n <= 0 => 0,
            Some(n) => usize::try_from(n).unwrap_or(usize::MAX),
            None => {
                return Err(doc.error(
                    "spec.maxNumBatchRequests",
                    format!("{n} is not a whole number"),
                ));
            }
        },
        Some(other) => {
            return Err(doc.error(
                "spec.maxNumBatchRequests",
                format!("expected a whole number, found {}", shape(other)),
            ));
        }
    };
    let call_timeout = if v2 {
        transport_call(doc, spec)?
    } else {
        okhttp_timeouts(doc, spec, "spec")?
    };
    Ok(Endpoint {
        document: doc.index,
        functions,
        url_path_template,
        max_batch_requests,
        call_timeout,
    })
}

/// The call budget of a v2 endpoint's transport (spec §2.4.1).
fn transport_call(doc: &Doc<'_>, spec: &Mapping) -> Result<Duration, ModuleError> {
    let Some(transport) = spec.get("transport") else {
        return Ok(Duration::from_secs(120));
    };
    let transport = doc.mapping(transport, "spec.transport")?;
    let kind = doc
        .string(transport, "spec.transport", "type")?
        .unwrap_or_else(|| "io.statefun.transports.v1/async".to_owned());
    match kind.as_str() {
        "io.statefun.transports.v1/async" => {
            doc.known_keys(
                transport,
                "spec.transport",
                &[
                    "type",
                    "call",
                    "connect",
                    "pool_ttl",
                    "pool_size",
                    "payload_max_bytes",
                    "trust_cacerts",
                    "client_cert",
                    "client_key",
                    "client_key_password",
                    "timeouts",
                ],
            )?;
            for key in ["connect", "pool_ttl"] {
                doc.duration(transport, "spec.transport", key)?;
            }
            if transport.contains_key("timeouts") {
                // The migration aliases win, with their own defaults.
                let timeouts = doc.mapping(&transport["timeouts"], "spec.transport.timeouts")?;
                doc.known_keys(timeouts, "spec.transport.timeouts", &["call", "connect"])?;
                doc.duration(timeouts, "spec.transport.timeouts", "connect")?;
                return Ok(doc
                    .duration(timeouts, "spec.transport.timeouts", "call")?
                    .unwrap_or(Duration::from_secs(60)));
            }
            Ok(doc
                .duration(transport, "spec.transport", "call")?
                .unwrap_or(Duration::from_secs(120)))
        }
        "io.statefun.transports.v1/okhttp" => {
            doc.known_keys(transport, "spec.transport", &["type", "timeouts"])?;
            okhttp_timeouts(doc, transport, "spec.transport")
        }
        other => Err(doc.error(
            "spec.transport.type",
            format!(
                "unknown transport {other:?} (io.statefun.transports.v1/async or io.statefun.transports.v1/okhttp)"
            ),
        )),
    }
}

/// The OkHttp transport's `timeouts` object under `parent` (call default
/// 1 min; each non-zero, none above `call`).
fn okhttp_timeouts(doc: &Doc<'_>, parent: &Mapping, path: &str) -> Result<Duration, ModuleError> {
    let Some(timeouts) = parent.get("timeouts") else {
        return Ok(Duration::from_secs(60));
    };
    let path = join(path, "timeouts");
    let timeouts = doc.mapping(timeouts, &path)?;
    doc.known_keys(timeouts, &path, &["call", "connect", "read", "write"])?;
    let call = doc
        .duration(timeouts, &path, "call")?
        .unwrap_or(Duration::from_secs(60));
    if call.is_zero() {
        return Err(doc.error(&join(&path, "call"), "must be longer than zero"));
    }
    for key in ["connect", "read", "write"] {
        let value = doc
            .duration(timeouts, &path, key)?
            .unwrap_or(Duration::from_secs(10));
        if value.is_zero() || value > call {
            return Err(doc.error(
                &join(&path, key),
                format!("must be longer than zero and at most the call timeout ({call:?})"),
            ));
        }
    }
    Ok(call)
}

/// Only plain HTTP endpoints can be called from here.
fn check_url(doc: &Doc<'_>, template: &str) -> Result<(), ModuleError> {
    let key = "spec.urlPathTemplate";
    let url = template.replace("{function.name}", "name");
    let lower = url.to_ascii_lowercase();
    if lower.starts_with("https://") {
        return Err(doc.error(
            key,
            format!("{template:?}: statefun-local calls endpoints over plain HTTP only; serve the functions over http:// locally (or use --rewrite-url)"),
        ));
    }
    if lower.starts_with("http+unix://") {
        return Err(doc.error(
            key,
            format!(
                "{template:?}: Unix domain socket endpoints are not supported by statefun-local"
            ),
        ));
    }
    let uri: http::Uri = url
        .parse()
        .map_err(|e| doc.error(key, format!("{template:?} is not a URL: {e}")))?;
    if uri.scheme_str() != Some("http") || uri.authority().is_none() {
        return Err(doc.error(
            key,
            format!("{template:?} is not an http:// URL with a host"),
        ));
    }
    Ok(())
}

fn ingress(doc: &Doc<'_>, spec: &Mapping, kafka: bool) -> Result<Ingress, ModuleError> {
    let (list_key, name_key) = if kafka {
        doc.known_keys(
            spec,
            "spec",
            &[
                "id",
                "address",
                "consumerGroupId",
                "topics",
                "autoOffsetResetPosition",
                "startupPosition",
                "properties",
            ],
        )?;
        ("topics", "topic")
    } else {
        doc.known_keys(
            spec,
            "spec",
            &[
                "id",
                "awsRegion",
                "awsCredentials",
                "startupPosition",
                "streams",
                "clientConfigProperties",
            ],
        )?;
        ("streams", "stream")
    };
    let id = doc.required(spec, "spec", "id")?;
    let id = doc.type_name(&id, "spec.id")?;
    let mut topics: Vec<Topic> = Vec::new();
    for (t, entry) in doc.list(spec, "spec", list_key)?.iter().enumerate() {
        let path = format!("spec.{list_key}[{t}]");
        let map = doc.mapping(entry, &path)?;
        doc.known_keys(map, &path, &[name_key, "valueType", "targets"])?;
        let name = doc.required(map, &path, name_key)?;
        if topics.iter().any(|other| other.name == name) {
            return Err(doc.error(&join(&path, name_key), format!("{name:?} is listed twice")));
        }
        let value_type = doc.required(map, &path, "valueType")?;
        let value_type = doc.type_name(&value_type, &join(&path, "valueType"))?;
        let mut targets = Vec::new();
        for (k, target) in doc.list(map, &path, "targets")?.iter().enumerate() {
            let key = format!("{path}.targets[{k}]");
            let Value::String(text) = target else {
                return Err(doc.error(
                    &key,
                    format!("expected a function type, found {}", shape(target)),
                ));
            };
            targets.push(doc.type_name(text, &key)?);
        }
        if targets.is_empty() {
            return Err(doc.error(&join(&path, "targets"), "lists no function type"));
        }
        topics.push(Topic {
            name,
            value_type,
            targets,
        });
    }
    Ok(Ingress {
        id,
        kind: if kafka {
            IoKind::Kafka
        } else {
            IoKind::Kinesis
        },
        topics,
    })
}

fn egress(doc: &Doc<'_>, spec: &Mapping, kafka: bool) -> Result<Egress, ModuleError> {
    if kafka {
        doc.known_keys(
            spec,
            "spec",
            &["id", "address", "deliverySemantic", "properties"],
        )?;
        if let Some(semantic) = spec.get("deliverySemantic") {
            let semantic = doc.mapping(semantic, "spec.deliverySemantic")?;
            doc.known_keys(
                semantic,
                "spec.deliverySemantic",
                &["type", "transactionTimeout", "transactionTimeoutMillis"],
            )?;
            let kind = doc.required(semantic, "spec.deliverySemantic", "type")?;
            if !["at-least-once", "exactly-once", "none"].contains(&kind.as_str()) {
                return Err(doc.error(
                    "spec.deliverySemantic.type",
                    format!("{kind:?} is not at-least-once, exactly-once or none"),
                ));
            }
            doc.duration(semantic, "spec.deliverySemantic", "transactionTimeout")?;
        }
    } else {
        doc.known_keys(
            spec,
            "spec",
            &[
                "id",
                "awsRegion",
                "awsCredentials",
                "maxOutstandingRecords",
                "clientConfigProperties",
            ],
        )?;
    }
    let id = doc.required(spec, "spec", "id")?;
    let type_name = doc.type_name(&id, "spec.id")?;
    let id = EgressIdentifier::new(type_name)
        .map_err(|e| doc.error("spec.id", format!("{id:?} cannot name an egress: {e}")))?;
    Ok(Egress {
        id,
        kind: if kafka {
            IoKind::Kafka
        } else {
            IoKind::Kinesis
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Module, String> {
        Module::parse("module.yaml", text, true).map_err(|e| e.to_string())
    }

    #[test]
    fn reads_the_shopping_cart_module() {
        let text = include_str!("../../examples/shopping-cart/deploy/module.yaml");
        let module = parse(text).unwrap();
        assert_eq!(module.endpoints.len(), 2);
        assert_eq!(module.endpoints[0].call_timeout, Duration::from_secs(120));
        assert_eq!(module.endpoints[0].max_batch_requests, 1000);
        let ingress = &module.ingresses[0];
        assert_eq!(ingress.kind, IoKind::Kafka);
        assert_eq!(ingress.topics.len(), 3);
        assert_eq!(
            ingress.topics[2].value_type.as_str(),
            "com.example.types/Restock"
        );
        assert_eq!(
            ingress.topics[2].targets[0].as_str(),
            "com.example/inventory"
        );
        assert_eq!(
            module.egresses[0].id.type_name().as_str(),
            "com.example/results"
        );
    }

    const SPEC_EXAMPLE: &str = r"
kind: io.statefun.endpoints.v2/http
spec:
  functions: shop/*
  urlPathTemplate: http://fns:8000/statefun/{function.name}
  maxNumBatchRequests: 500
  transport:
    type: io.statefun.transports.v1/async
    call: 30s
---
kind: io.statefun.endpoints.v1/http
spec:
  functions: shop/special
  urlPathTemplate: http://other:9000/special
  maxNumBatchRequests: 0
  timeouts:
    call: 2 min
    read: 1 min
---
kind: io.statefun.kinesis.v1/ingress
spec:
  id: shop/clicks
  awsRegion: {type: specific, id: us-west-2}
  streams:
    - stream: clicks
      valueType: shop/Click
      targets: [shop/session, shop/special]
---
---
kind: io.statefun.kinesis.v1/egress
spec:
  id: shop/out
  maxOutstandingRecords: 10
";

    #[test]
    fn namespaces_templates_v1_and_kinesis() {
        let module = parse(SPEC_EXAMPLE).unwrap();
        let session: TypeName = "shop/session".parse().unwrap();
        let special: TypeName = "shop/special".parse().unwrap();
        let ns = module.endpoint_for(&session).unwrap();
        assert_eq!(ns.call_timeout, Duration::from_secs(30));
        assert_eq!(ns.max_batch_requests, 500);
        assert_eq!(
            ns.url_path_template,
            "http://fns:8000/statefun/{function.name}"
        );
        // The exact binding wins over the namespace.
        let exact = module.endpoint_for(&special).unwrap();
        assert_eq!(exact.document, 2);
        assert_eq!(exact.call_timeout, Duration::from_secs(120));
        assert_eq!(exact.max_batch_requests, 0);
        assert!(module.endpoint_for(&"other/x".parse().unwrap()).is_none());
        assert_eq!(module.ingresses[0].kind, IoKind::Kinesis);
        assert_eq!(module.egresses[0].kind, IoKind::Kinesis);
    }

    #[test]
    fn transport_timeouts_follow_the_runtime() {
        let with = |transport: &str| {
            let text = format!(
                "kind: io.statefun.endpoints.v2/http\nspec:\n  functions: a/b\n  urlPathTemplate: http://h/x\n{transport}"
            );
            parse(&text).map(|m| m.endpoints[0].call_timeout)
        };
        assert_eq!(with(""), Ok(Duration::from_secs(120)));
        assert_eq!(
            with("  transport:\n    call: 5s\n"),
            Ok(Duration::from_secs(5))
        );
        // A `timeouts` object wins, with its own default.
        assert_eq!(
            with("  transport:\n    call: 5s\n    timeouts:\n      connect: 1s\n"),
            Ok(Duration::from_secs(60))
        );
        assert_eq!(
            with(
                "  transport:\n    type: io.statefun.transports.v1/okhttp\n    timeouts:\n      call: 7s\n      connect: 1s\n      read: 5s\n      write: 5s\n"
            ),
            Ok(Duration::from_secs(7))
        );
        let error = with("  transport:\n    type: io.statefun.transports.v1/okhttp\n    timeouts:\n      call: 7s\n      connect: 1s\n      read: 8s\n      write: 1s\n").unwrap_err();
        assert!(error.contains("spec.transport.timeouts.read"), "{error}");
    }

    #[test]
    fn errors_name_the_document_and_key() {
        let cases = [
            (
                "kind: io.statefun.kafka.v1/ingress\nspec:\n  id: a/in\n  topics:\n    - topic: t\n      targets: [a/f]\n",
                "document 1 (io.statefun.kafka.v1/ingress), spec.topics[0].valueType: missing",
            ),
            (
                "kind: io.statefun.kafka.v1/egress\nspec:\n  id: a/out\n---\nkind: io.statefun.endpoints.v2/http\nspec:\n  functions: a/f\n  urlPathTemplte: http://h\n",
                "document 2 (io.statefun.endpoints.v2/http), spec.urlPathTemplte: unknown key",
            ),
            (
                "kind: io.statefun.endpoints.v3/http\nspec: {}\n",
                "document 1 (io.statefun.endpoints.v3/http), kind: unknown kind",
            ),
            (
                "kind: io.statefun.endpoints.v2/http\nspec:\n  functions: a/*b\n  urlPathTemplate: http://h\n",
                "spec.functions: \"a/*b\": `*` may only",
            ),
            (
                "kind: io.statefun.endpoints.v2/http\nspec:\n  functions: a/f\n  urlPathTemplate: https://h\n",
                "spec.urlPathTemplate: \"https://h\": statefun-local calls endpoints over plain HTTP only",
            ),
            (
                "kind: io.statefun.endpoints.v2/http\nspec:\n  functions: a/f\n  urlPathTemplate: http://h\n  transport:\n    call: soon\n",
                "spec.transport.call: \"soon\" is not a duration",
            ),
            (
                "kind: io.statefun.kafka.v1/egress\nspec:\n  id: a/b/c\n",
                "spec.id: \"a/b/c\" cannot name an egress",
            ),
            (
                "kind: io.statefun.kafka.v1/egress\nspec:\n  id: a/out\n  deliverySemantic:\n    type: twice\n",
                "spec.deliverySemantic.type: \"twice\" is not",
            ),
            (
                "kind: io.statefun.endpoints.v2/http\nspec:\n  functions: a/f\n  urlPathTemplate: http://h\n---\nkind: io.statefun.kafka.v1/ingress\nspec:\n  id: a/in\n  topics:\n    - topic: t\n      valueType: a/T\n      targets: [a/f, b/g]\n",
                "document 2 (io.statefun.kafka.v1/ingress), spec.topics[0].targets[1]: b/g (a target of topic \"t\") is not served",
            ),
            (
                "kind: io.statefun.endpoints.v2/http\nspec:\n  functions: a/f\n  urlPathTemplate: http://h\n---\nkind: io.statefun.endpoints.v2/http\nspec:\n  functions: a/f\n  urlPathTemplate: http://i\n",
                "document 2 (io.statefun.endpoints.v2/http), spec.functions: a/f is already bound by document 1",
            ),
            (
                "version: \"3.0\"\nmodule: {}\n",
                "document 1, version: the legacy single-document format",
            ),
            ("kind: [\n", "document 1: not valid YAML"),
            ("- a\n- b\n", "document 1: expected a mapping, found a list"),
        ];
        for (text, expected) in cases {
            let error = parse(text).unwrap_err();
            assert!(
                error.starts_with("module.yaml: ") && error.contains(expected),
                "{error}\n  expected to contain: {expected}"
            );
        }
    }

    #[test]
    fn unknown_keys_can_be_ignored_like_the_runtime() {
        let text = "kind: io.statefun.endpoints.v2/http\nspec:\n  functions: a/f\n  urlPathTemplate: http://h\n  colour: blue\n";
        assert!(Module::parse("m.yaml", text, false).is_ok());
        assert!(Module::parse("m.yaml", text, true).is_err());
    }
}
