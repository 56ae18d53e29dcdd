//! The reader: parses a `module.yaml` into the model and checks it as the
//! runtime's module loader would, with errors naming the document and key.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use serde::Deserialize as _;
use serde_norway::{Mapping, Value};

use super::model::{
    ASYNC_TRANSPORT, AsyncTimeouts, AsyncTransport, Component, DeliverySemantic, ENDPOINT_V1,
    ENDPOINT_V2, EndpointVersion, FunctionPattern, FunctionPatternError, HttpEndpoint,
    IngressTopic, KAFKA_EGRESS, KAFKA_INGRESS, KINESIS_EGRESS, KINESIS_INGRESS, KafkaEgress,
    KafkaIngress, KafkaStartupPosition, KinesisEgress, KinesisIngress, OKHTTP_TRANSPORT,
    OkHttpTimeouts, Transport,
};
use super::parse_duration;
use crate::{EgressIdentifier, TypeName};

const KINDS: [&str; 6] = [
    ENDPOINT_V1,
    ENDPOINT_V2,
    KAFKA_INGRESS,
    KAFKA_EGRESS,
    KINESIS_INGRESS,
    KINESIS_EGRESS,
];

/// What the reader does with a key it does not know.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum UnknownKeys {
    /// Refuses it: the runtime ignores unknown keys, which hides typos.
    #[default]
    Refuse,
    /// Ignores it, as the runtime does.
    Ignore,
}

/// A check of each endpoint beyond the runtime's rules (for example, what
/// a local runner can call): `Err((key, message))` refuses the endpoint's
/// document at `key`.
pub type EndpointCheck = fn(&HttpEndpoint) -> Result<(), (&'static str, String)>;

/// How to read a `module.yaml`.
///
/// ```
/// use stateful_functions::module_yaml::{ReadOptions, UnknownKeys};
///
/// let options = ReadOptions::new().unknown_keys(UnknownKeys::Ignore);
/// # let _ = options;
/// ```
#[derive(Debug, Clone, Copy, Default)]
#[must_use]
pub struct ReadOptions {
    unknown_keys: UnknownKeys,
    endpoint_check: Option<EndpointCheck>,
}

impl ReadOptions {
    /// Unknown keys refused, no extra checks.
    pub fn new() -> Self {
        Self::default()
    }

    /// What to do with unknown keys.
    pub fn unknown_keys(mut self, unknown_keys: UnknownKeys) -> Self {
        self.unknown_keys = unknown_keys;
        self
    }

    /// Runs `check` on each endpoint as it is read.
    pub fn endpoint_check(mut self, check: EndpointCheck) -> Self {
        self.endpoint_check = Some(check);
        self
    }
}

/// A `module.yaml` that the runtime would not load (or, with
/// [`UnknownKeys::Refuse`], that has a key it would ignore).
///
/// Its `Display` is `document 3 (io.statefun.kafka.v1/ingress),
/// spec.topics[0].valueType: missing (it is required)`: the document
/// (1-based, as an editor counts `---` sections), its kind and the key.
///
/// ```
/// use stateful_functions::module_yaml::{Module, ReadOptions};
///
/// let error = Module::parse("kind: io.statefun.kafka.v1/egress\nspec: {}\n", ReadOptions::new())
///     .unwrap_err();
/// assert_eq!(error.document(), 1);
/// assert_eq!(error.key(), "spec.id");
/// assert_eq!(
///     error.to_string(),
///     "document 1 (io.statefun.kafka.v1/egress), spec.id: missing (it is required)"
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadError {
    document: usize,
    kind: Option<String>,
    key: String,
    message: String,
    unknown_key: bool,
}

impl ReadError {
    /// The document, 1-based.
    pub fn document(&self) -> usize {
        self.document
    }

    /// The document's kind, when it was read.
    pub fn kind(&self) -> Option<&str> {
        self.kind.as_deref()
    }

    /// The key, as a path (`spec.topics[0].valueType`); empty for the whole
    /// document.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// What is wrong.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// Whether the error is an unknown key (which [`UnknownKeys::Ignore`]
    /// would have let through).
    pub fn is_unknown_key(&self) -> bool {
        self.unknown_key
    }
}

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "document {}", self.document)?;
        if let Some(kind) = &self.kind {
            write!(f, " ({kind})")?;
        }
        if !self.key.is_empty() {
            write!(f, ", {}", self.key)?;
        }
        write!(f, ": {}", self.message)
    }
}

impl std::error::Error for ReadError {}

/// Something the runtime loads, that is likely a mistake: a topic listed
/// twice (the runtime keeps the last), a topic with no targets, a
/// `valueType` that is not `namespace/name`, a key the runtime ignores in
/// its place. Its `Display` is that of a [`ReadError`].
///
/// ```
/// use stateful_functions::module_yaml::{Module, ReadOptions};
///
/// let module = Module::parse(
///     "kind: io.statefun.endpoints.v2/http\nspec:\n  functions: a/f\n  urlPathTemplate: http://h\n---\nkind: io.statefun.kafka.v1/ingress\nspec:\n  id: a/in\n  topics:\n    - topic: t\n      valueType: Text\n      targets: [a/f]\n",
///     ReadOptions::new(),
/// )?;
/// let warning = &module.warnings()[0];
/// assert_eq!(warning.key(), "spec.topics[0].valueType");
/// assert!(warning.to_string().starts_with("document 2 (io.statefun.kafka.v1/ingress), spec.topics[0].valueType: \"Text\""));
/// # Ok::<_, stateful_functions::module_yaml::ReadError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadWarning(ReadError);

impl ReadWarning {
    /// The document, 1-based.
    pub fn document(&self) -> usize {
        self.0.document
    }

    /// The document's kind.
    pub fn kind(&self) -> Option<&str> {
        self.0.kind()
    }

    /// The key, as a path.
    pub fn key(&self) -> &str {
        &self.0.key
    }

    /// What is likely wrong.
    pub fn message(&self) -> &str {
        &self.0.message
    }
}

impl fmt::Display for ReadWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

/// A component and the document it was read from.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Document {
    /// The document, 1-based (null documents are skipped but counted).
    pub index: usize,
    /// What it declares.
    pub component: Component,
}

/// A `module.yaml`, read and checked: every component the runtime would
/// load, with the document it came from.
///
/// Besides each component's keys, it checks what the runtime checks across
/// documents: no function type bound twice, no ingress id declared twice
/// and no egress id declared twice (an ingress and an egress may share
/// one: the runtime keeps them in separate maps), every ingress target
/// served by an endpoint. What the runtime loads but is likely a mistake
/// comes back as [`Module::warnings`]. The legacy single-document format
/// (`version: "3.0"`) is refused.
///
/// ```
/// use stateful_functions::module_yaml::{Component, Module, ReadOptions};
/// use stateful_functions::TypeName;
///
/// let module = Module::parse(
///     "kind: io.statefun.endpoints.v2/http\nspec:\n  functions: shop/*\n  urlPathTemplate: http://fns/{function.name}\n",
///     ReadOptions::new(),
/// )?;
/// let endpoint = module.endpoint_for(&TypeName::from_static("shop/cart")).unwrap();
/// assert_eq!(endpoint.max_batch_requests(), 1000);
/// assert!(matches!(module.documents()[0].component, Component::HttpEndpoint(_)));
/// # Ok::<_, stateful_functions::module_yaml::ReadError>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Module {
    documents: Vec<Document>,
    warnings: Vec<ReadWarning>,
}

impl Module {
    /// Reads and checks `text`.
    ///
    /// # Errors
    ///
    /// The first problem found, naming its document and key.
    pub fn parse(text: &str, options: ReadOptions) -> Result<Self, ReadError> {
        let mut values = Vec::new();
        for (i, document) in serde_norway::Deserializer::from_str(text).enumerate() {
            let doc = Doc::new(i + 1, options);
            let value = Value::deserialize(document)
                .map_err(|e| doc.error("", format!("not valid YAML: {e}")))?;
            values.push(value);
        }
        if let [Value::Mapping(only)] = values.as_slice()
            && only.contains_key("version")
        {
            return Err(Doc::new(1, options).error(
                "version",
                "the legacy single-document format (version: \"3.0\") is not supported; write one `kind`/`spec` document per component, as StateFun 3.1 and later do",
            ));
        }
        let mut module = Self::default();
        // Where each binding and id was declared, for duplicate errors.
        let mut bound: BTreeMap<String, usize> = BTreeMap::new();
        // Ingresses and egresses are bound in two maps
        // (`StatefulFunctionsUniverse.java`: `ingress` and `egress`, each
        // refusing a key bound twice with "A binding for the key ... was
        // previously defined."): an ingress and an egress may share an id.
        let mut ingress_ids: BTreeMap<String, usize> = BTreeMap::new();
        let mut egress_ids: BTreeMap<String, usize> = BTreeMap::new();
        for (i, value) in values.iter().enumerate() {
            let mut doc = Doc::new(i + 1, options);
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
            let component = match kind.as_str() {
                ENDPOINT_V1 | ENDPOINT_V2 => {
                    let endpoint = endpoint(&doc, spec, kind == ENDPOINT_V2)?;
                    let key = endpoint.functions.to_string();
                    if let Some(first) = bound.insert(key.clone(), doc.index) {
                        return Err(doc.error(
                            "spec.functions",
                            format!("{key} is already bound by document {first}"),
                        ));
                    }
                    Component::HttpEndpoint(endpoint)
                }
                KAFKA_INGRESS => {
                    let (id, topics) = ingress(&doc, spec, true)?;
                    unique_id(&doc, &mut ingress_ids, id.as_str(), "an ingress")?;
                    let mut ingress = KafkaIngress::new(id);
                    ingress.address = lenient_string(spec, "address");
                    ingress.consumer_group_id = lenient_string(spec, "consumerGroupId");
                    ingress.startup_position = lenient_startup_position(spec);
                    ingress.topics = topics;
                    Component::KafkaIngress(ingress)
                }
                KINESIS_INGRESS => {
                    let (id, streams) = ingress(&doc, spec, false)?;
                    unique_id(&doc, &mut ingress_ids, id.as_str(), "an ingress")?;
                    let mut ingress = KinesisIngress::new(id);
                    ingress.streams = streams;
                    Component::KinesisIngress(ingress)
                }
                KAFKA_EGRESS | KINESIS_EGRESS => {
                    egress(&doc, spec, kind == KAFKA_EGRESS, &mut egress_ids)?
                }
                other => {
                    return Err(doc.error(
                        "kind",
                        format!(
                            "unknown kind {other:?}; the kinds read are {}",
                            KINDS.join(", ")
                        ),
                    ));
                }
            };
            module.warnings.extend(doc.warnings.into_inner());
            module.documents.push(Document {
                index: doc.index,
                component,
            });
        }
        module.check_targets(options)?;
        Ok(module)
    }

    /// The components, in file order.
    pub fn documents(&self) -> &[Document] {
        &self.documents
    }

    /// What the runtime would load but is likely a mistake, in file order.
    pub fn warnings(&self) -> &[ReadWarning] {
        &self.warnings
    }

    /// The endpoints, in file order.
    pub fn endpoints(&self) -> impl Iterator<Item = (usize, &HttpEndpoint)> {
        self.documents.iter().filter_map(|d| match &d.component {
            Component::HttpEndpoint(e) => Some((d.index, e)),
            _ => None,
        })
    }

    /// The endpoint serving `function_type`: an exact binding wins over a
    /// namespace one, as in the runtime.
    pub fn endpoint_for(&self, function_type: &TypeName) -> Option<&HttpEndpoint> {
        let exact = FunctionPattern::Type(function_type.clone());
        self.endpoints()
            .map(|(_, e)| e)
            .find(|e| e.functions == exact)
            .or_else(|| {
                self.endpoints()
                    .map(|(_, e)| e)
                    .find(|e| e.functions.matches(function_type))
            })
    }

    /// Every ingress target must be served by an endpoint (the runtime
    /// would fail the job at the first record).
    fn check_targets(&self, options: ReadOptions) -> Result<(), ReadError> {
        for document in &self.documents {
            let (list_key, name_key, topics) = match &document.component {
                Component::KafkaIngress(i) => ("topics", "topic", &i.topics),
                Component::KinesisIngress(i) => ("streams", "stream", &i.streams),
                _ => continue,
            };
            let mut doc = Doc::new(document.index, options);
            doc.kind = Some(document.component.kind().to_owned());
            for (t, topic) in topics.iter().enumerate() {
                for (k, target) in topic.targets.iter().enumerate() {
                    if self.endpoint_for(target).is_none() {
                        return Err(doc.error(
                            &format!("spec.{list_key}[{t}].targets[{k}]"),
                            format!(
                                "{target} (a target of {name_key} {:?}) is not served by any endpoint of the module",
                                topic.name
                            ),
                        ));
                    }
                }
            }
        }
        Ok(())
    }
}

/// One document being read: where errors point.
struct Doc {
    index: usize,
    kind: Option<String>,
    options: ReadOptions,
    warnings: RefCell<Vec<ReadWarning>>,
}

impl Doc {
    fn new(index: usize, options: ReadOptions) -> Self {
        Self {
            index,
            kind: None,
            options,
            warnings: RefCell::new(Vec::new()),
        }
    }

    fn warn(&self, key: &str, message: impl Into<String>) {
        self.warnings
            .borrow_mut()
            .push(ReadWarning(self.error(key, message)));
    }

    fn error(&self, key: &str, message: impl Into<String>) -> ReadError {
        ReadError {
            document: self.index,
            kind: self.kind.clone(),
            key: key.to_owned(),
            message: message.into(),
            unknown_key: false,
        }
    }

    fn mapping<'v>(&self, value: &'v Value, key: &str) -> Result<&'v Mapping, ReadError> {
        match value {
            Value::Mapping(m) => Ok(m),
            Value::Tagged(t) => self.mapping(&t.value, key),
            other => Err(self.error(key, format!("expected a mapping, found {}", shape(other)))),
        }
    }

    /// Refuses keys outside `known`, unless unknown keys are ignored.
    fn known_keys(&self, map: &Mapping, path: &str, known: &[&str]) -> Result<(), ReadError> {
        if self.options.unknown_keys == UnknownKeys::Ignore {
            return Ok(());
        }
        for key in map.keys() {
            let name = key.as_str().unwrap_or_default();
            if !known.contains(&name) {
                let mut error = self.error(
                    &join(path, &scalar_text(key)),
                    format!(
                        "unknown key (known here: {}); the runtime would ignore it",
                        known.join(", ")
                    ),
                );
                error.unknown_key = true;
                return Err(error);
            }
        }
        Ok(())
    }

    fn string(&self, map: &Mapping, path: &str, key: &str) -> Result<Option<String>, ReadError> {
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

    fn required(&self, map: &Mapping, path: &str, key: &str) -> Result<String, ReadError> {
        self.string(map, path, key)?
            .ok_or_else(|| self.error(&join(path, key), "missing (it is required)"))
    }

    fn type_name(&self, text: &str, key: &str) -> Result<TypeName, ReadError> {
        text.parse::<TypeName>()
            .map_err(|e| self.error(key, format!("{text:?} is not a typename: {e}")))
    }

    fn duration(
        &self,
        map: &Mapping,
        path: &str,
        key: &str,
    ) -> Result<Option<Duration>, ReadError> {
        let Some(text) = self.string(map, path, key)? else {
            return Ok(None);
        };
        parse_duration(&text)
            .map(Some)
            .map_err(|e| self.error(&join(path, key), e.to_string()))
    }

    fn whole_number(&self, map: &Mapping, path: &str, key: &str) -> Result<Option<i64>, ReadError> {
        match map.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Number(n)) => n
                .as_i64()
                .map(Some)
                .ok_or_else(|| self.error(&join(path, key), format!("{n} is not a whole number"))),
            Some(other) => Err(self.error(
                &join(path, key),
                format!("expected a whole number, found {}", shape(other)),
            )),
        }
    }

    /// A Java `Integer` setting at least `min`.
    fn java_int(
        &self,
        map: &Mapping,
        path: &str,
        key: &str,
        min: i64,
    ) -> Result<Option<usize>, ReadError> {
        let Some(n) = self.whole_number(map, path, key)? else {
            return Ok(None);
        };
        if n < min || n > i64::from(i32::MAX) {
            return Err(self.error(
                &join(path, key),
                format!("{n} is out of range ({min} to {})", i32::MAX),
            ));
        }
        usize::try_from(n)
            .map(Some)
            .map_err(|_| self.error(&join(path, key), format!("{n} is out of range")))
    }

    fn list<'v>(&self, map: &'v Mapping, path: &str, key: &str) -> Result<&'v [Value], ReadError> {
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

/// A string the reader does not check yet: read when it is a scalar,
/// otherwise left out (as before the model; a later change may refuse it).
fn lenient_string(map: &Mapping, key: &str) -> Option<String> {
    match map.get(key)? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// `startupPosition`, read when well-formed and otherwise left out (not
/// checked yet).
fn lenient_startup_position(spec: &Mapping) -> Option<KafkaStartupPosition> {
    let position = spec.get("startupPosition")?;
    match position.get("type")?.as_str()? {
        "group-offsets" => Some(KafkaStartupPosition::GroupOffsets),
        "earliest" => Some(KafkaStartupPosition::Earliest),
        "latest" => Some(KafkaStartupPosition::Latest),
        "date" => lenient_string(position.as_mapping()?, "date").map(KafkaStartupPosition::Date),
        "specific-offsets" => {
            let mut offsets = Vec::new();
            for entry in position.get("offsets")?.as_sequence()? {
                for (partition, offset) in entry.as_mapping()? {
                    offsets.push((partition.as_str()?.to_owned(), offset.as_i64()?));
                }
            }
            Some(KafkaStartupPosition::SpecificOffsets(offsets))
        }
        _ => None,
    }
}

fn unique_id(
    doc: &Doc,
    ids: &mut BTreeMap<String, usize>,
    id: &str,
    what: &str,
) -> Result<(), ReadError> {
    match ids.insert(id.to_owned(), doc.index) {
        Some(first) => Err(doc.error(
            "spec.id",
            format!("{id} is already declared as {what} by document {first}"),
        )),
        None => Ok(()),
    }
}

fn endpoint(doc: &Doc, spec: &Mapping, v2: bool) -> Result<HttpEndpoint, ReadError> {
    let last = if v2 { "transport" } else { "timeouts" };
    doc.known_keys(
        spec,
        "spec",
        &["functions", "urlPathTemplate", "maxNumBatchRequests", last],
    )?;
    let functions_text = doc.required(spec, "spec", "functions")?;
    let functions = match functions_text.parse::<FunctionPattern>() {
        Ok(functions) => functions,
        Err(FunctionPatternError::TypeName(e)) => {
            return Err(doc.error(
                "spec.functions",
                format!("{functions_text:?} is not a typename: {e}"),
            ));
        }
        Err(e) => return Err(doc.error("spec.functions", e.to_string())),
    };
    let url_path_template = doc.required(spec, "spec", "urlPathTemplate")?;
    let max_num_batch_requests = doc.whole_number(spec, "spec", "maxNumBatchRequests")?;
    let (version, transport) = if v2 {
        (EndpointVersion::V2, transport(doc, spec)?)
    } else {
        (
            EndpointVersion::V1,
            Transport::OkHttp(okhttp_timeouts(doc, spec, "spec")?),
        )
    };
    let endpoint = HttpEndpoint {
        version,
        functions,
        url_path_template,
        max_num_batch_requests,
        transport,
    };
    if let Some(check) = doc.options.endpoint_check {
        check(&endpoint).map_err(|(key, message)| doc.error(key, message))?;
    }
    Ok(endpoint)
}

/// A v2 endpoint's `transport` (spec §2.4.1).
fn transport(doc: &Doc, spec: &Mapping) -> Result<Transport, ReadError> {
    let Some(transport) = spec.get("transport") else {
        return Ok(Transport::Async(AsyncTransport::default()));
    };
    let path = "spec.transport";
    let transport = doc.mapping(transport, path)?;
    let kind = doc
        .string(transport, path, "type")?
        .unwrap_or_else(|| ASYNC_TRANSPORT.to_owned());
    match kind.as_str() {
        ASYNC_TRANSPORT => {
            doc.known_keys(
                transport,
                path,
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
            let connect = doc.duration(transport, path, "connect")?;
            let pool_ttl = doc.duration(transport, path, "pool_ttl")?;
            // Netty's `FixedChannelPool` takes at least one connection; its
            // `HttpObjectAggregator` any size from zero.
            let pool_size = doc.java_int(transport, path, "pool_size", 1)?;
            let payload_max_bytes = doc.java_int(transport, path, "payload_max_bytes", 0)?;
            let timeouts = match transport.get("timeouts") {
                None => None,
                Some(timeouts) => {
                    // The migration aliases win, with their own defaults.
                    let path = "spec.transport.timeouts";
                    let timeouts = doc.mapping(timeouts, path)?;
                    doc.known_keys(timeouts, path, &["call", "connect"])?;
                    let connect = doc.duration(timeouts, path, "connect")?;
                    let call = doc.duration(timeouts, path, "call")?;
                    Some(AsyncTimeouts { call, connect })
                }
            };
            // The top-level `call` is only read when no `timeouts` wins.
            let call = if timeouts.is_none() {
                doc.duration(transport, path, "call")?
            } else {
                None
            };
            Ok(Transport::Async(AsyncTransport {
                call,
                connect,
                pool_ttl,
                pool_size,
                payload_max_bytes,
                timeouts,
            }))
        }
        OKHTTP_TRANSPORT => {
            doc.known_keys(transport, path, &["type", "timeouts"])?;
            Ok(Transport::OkHttp(okhttp_timeouts(doc, transport, path)?))
        }
        other => Err(doc.error(
            "spec.transport.type",
            format!("unknown transport {other:?} ({ASYNC_TRANSPORT} or {OKHTTP_TRANSPORT})"),
        )),
    }
}

/// The OkHttp transport's `timeouts` object under `parent` (call default
/// 1 min; each non-zero, none above `call`).
fn okhttp_timeouts(doc: &Doc, parent: &Mapping, path: &str) -> Result<OkHttpTimeouts, ReadError> {
    let Some(timeouts) = parent.get("timeouts") else {
        return Ok(OkHttpTimeouts::default());
    };
    let path = join(path, "timeouts");
    let timeouts = doc.mapping(timeouts, &path)?;
    doc.known_keys(timeouts, &path, &["call", "connect", "read", "write"])?;
    let mut model = OkHttpTimeouts {
        call: doc.duration(timeouts, &path, "call")?,
        ..OkHttpTimeouts::default()
    };
    let call = model.call.unwrap_or(Duration::from_secs(60));
    if call.is_zero() {
        return Err(doc.error(&join(&path, "call"), "must be longer than zero"));
    }
    for key in ["connect", "read", "write"] {
        let read = doc.duration(timeouts, &path, key)?;
        let value = read.unwrap_or(Duration::from_secs(10));
        if value.is_zero() || value > call {
            return Err(doc.error(
                &join(&path, key),
                format!("must be longer than zero and at most the call timeout ({call:?})"),
            ));
        }
        match key {
            "connect" => model.connect = read,
            "read" => model.read = read,
            _ => model.write = read,
        }
    }
    Ok(model)
}

fn ingress(
    doc: &Doc,
    spec: &Mapping,
    kafka: bool,
) -> Result<(TypeName, Vec<IngressTopic>), ReadError> {
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
    if kafka {
        auto_offset_reset_position(doc, spec)?;
    }
    startup_position(doc, spec, kafka)?;
    let id = doc.required(spec, "spec", "id")?;
    let id = runtime_type_name(doc, &id, "spec.id")?;
    let mut topics: Vec<IngressTopic> = Vec::new();
    let entries = doc.list(spec, "spec", list_key)?;
    if entries.is_empty() {
        // `KafkaIngressSpec.java`: "Must define at least one Kafka topic to
        // consume from."; `KinesisIngressSpec.java`: "Must have at least one
        // stream to consume from specified."
        return Err(doc.error(
            &format!("spec.{list_key}"),
            format!("lists no {name_key}: the runtime refuses an ingress with none"),
        ));
    }
    for (t, entry) in entries.iter().enumerate() {
        let path = format!("spec.{list_key}[{t}]");
        let map = doc.mapping(entry, &path)?;
        doc.known_keys(map, &path, &[name_key, "valueType", "targets"])?;
        let name = doc.required(map, &path, name_key)?;
        // The runtime reads `valueType` with `textValue()`, verbatim, not as
        // a TypeName (`RoutableKafkaIngressSpec.java`,
        // `RoutableKinesisIngressSpec.java`): any string goes.
        let value_type_key = join(&path, "valueType");
        let value_type = match map.get("valueType") {
            Some(Value::String(text)) => text.clone(),
            None | Some(Value::Null) => {
                return Err(doc.error(&value_type_key, "missing (it is required)"));
            }
            Some(other) => {
                return Err(doc.error(
                    &value_type_key,
                    format!("expected a string, found {}", shape(other)),
                ));
            }
        };
        if !value_type
            .parse::<TypeName>()
            .is_ok_and(|t| t.has_single_slash())
        {
            doc.warn(
                &value_type_key,
                format!(
                    "{value_type:?} is not a typename namespace/name: the runtime passes it to the functions as it is, where SDKs expect one"
                ),
            );
        }
        let mut topic = IngressTopic {
            name: name.clone(),
            value_type,
            targets: Vec::new(),
        };
        for (k, target) in doc.list(map, &path, "targets")?.iter().enumerate() {
            let key = format!("{path}.targets[{k}]");
            let Value::String(text) = target else {
                return Err(doc.error(
                    &key,
                    format!("expected a function type, found {}", shape(target)),
                ));
            };
            topic.targets.push(runtime_type_name(doc, text, &key)?);
        }
        if topic.targets.is_empty() {
            // The runtime routes the records to nobody.
            doc.warn(
                &join(&path, "targets"),
                format!("lists no function type: the records of {name_key} {name:?} go nowhere"),
            );
        }
        // The routings are a map by topic: a topic listed again replaces
        // the earlier entry (`result.put(...)` in
        // `RoutableKafkaIngressSpec.java`).
        if let Some(earlier) = topics.iter().position(|other| other.name == name) {
            doc.warn(
                &join(&path, name_key),
                format!(
                    "{name:?} is listed twice; the runtime keeps this entry and drops {list_key}[{earlier}]"
                ),
            );
            topics.remove(earlier);
        }
        topics.push(topic);
    }
    Ok((id, topics))
}

/// A typename as the runtime parses one (`TypeName.parseFrom`, in
/// `stateful-functions-embedded/.../TypeName.java`): exactly one `/`.
fn runtime_type_name(doc: &Doc, text: &str, key: &str) -> Result<TypeName, ReadError> {
    let type_name = doc.type_name(text, key)?;
    if !type_name.has_single_slash() {
        return Err(doc.error(
            key,
            format!(
                "{text:?} is not a typename: the runtime wants exactly one `/` (namespace/name)"
            ),
        ));
    }
    Ok(type_name)
}

/// A Kafka ingress's `autoOffsetResetPosition`: `earliest` or `latest`, in
/// any case (`RoutableKafkaIngressSpec.java` upper-cases it into
/// `KafkaIngressAutoResetPosition`; anything else fails startup with
/// "Invalid autoOffsetResetPosition: ...").
fn auto_offset_reset_position(doc: &Doc, spec: &Mapping) -> Result<(), ReadError> {
    let Some(position) = doc.string(spec, "spec", "autoOffsetResetPosition")? else {
        return Ok(());
    };
    match position.to_ascii_lowercase().as_str() {
        "earliest" | "latest" => Ok(()),
        _ => Err(doc.error(
            "spec.autoOffsetResetPosition",
            format!("{position:?} is not earliest or latest"),
        )),
    }
}

/// An ingress's `startupPosition`, checked as the runtime reads it
/// (`RoutableKafkaIngressSpec.java`, `RoutableKinesisIngressSpec.java`):
/// a mapping whose `type` is one of the ingress's (exactly as written;
/// else "Invalid startup position type: ..."), a `date` in the pattern
/// `yyyy-MM-dd HH:mm:ss.SSS Z`, Kafka `specific-offsets` not empty
/// (`KafkaIngressStartupPosition.java`), each `<topic>/<partition>`
/// (`KafkaTopicPartition.java`).
fn startup_position(doc: &Doc, spec: &Mapping, kafka: bool) -> Result<(), ReadError> {
    let path = "spec.startupPosition";
    let Some(position) = spec.get("startupPosition") else {
        return Ok(());
    };
    let position = doc.mapping(position, path)?;
    let kind = doc.required(position, path, "type")?;
    let types: &[&str] = if kafka {
        &[
            "group-offsets",
            "earliest",
            "latest",
            "specific-offsets",
            "date",
        ]
    } else {
        &["earliest", "latest", "date"]
    };
    if !types.contains(&kind.as_str()) {
        return Err(doc.error(
            &join(path, "type"),
            format!("{kind:?} is not one of {}", types.join(", ")),
        ));
    }
    match kind.as_str() {
        "date" => {
            let date = doc.required(position, path, "date")?;
            if !is_startup_date(&date) {
                return Err(doc.error(
                    &join(path, "date"),
                    format!("{date:?} is not a date in the pattern yyyy-MM-dd HH:mm:ss.SSS Z, as 2020-02-01 04:15:00.000 +0000"),
                ));
            }
        }
        "specific-offsets" => {
            let offsets = doc.list(position, path, "offsets")?;
            if offsets.is_empty() {
                return Err(doc.error(
                    &join(path, "offsets"),
                    "lists no offset (the runtime refuses empty specific offsets)",
                ));
            }
            for (i, entry) in offsets.iter().enumerate() {
                let key = format!("{path}.offsets[{i}]");
                let entry = doc.mapping(entry, &key)?;
                let Some((partition, _)) = entry.iter().next() else {
                    return Err(doc.error(&key, "expected `- \"topic/partition\": offset`"));
                };
                let text = scalar_text(partition);
                let valid = text.rsplit_once('/').is_some_and(|(topic, n)| {
                    !topic.is_empty() && n.parse::<i32>().is_ok_and(|n| n >= 0)
                });
                if !valid {
                    return Err(doc.error(
                        &key,
                        format!("{text:?} is not <topic>/<partition>, a partition being a whole number from 0"),
                    ));
                }
            }
        }
        _ => {}
    }
    Ok(())
}

/// `yyyy-MM-dd HH:mm:ss.SSS Z`: `Z` an offset `+HHMM` or `-HHMM`.
fn is_startup_date(text: &str) -> bool {
    let b = text.as_bytes();
    let digits = |range: std::ops::Range<usize>| {
        b.get(range.clone())
            .is_some_and(|d| d.iter().all(u8::is_ascii_digit))
            .then(|| text[range].parse::<u32>().unwrap_or(u32::MAX))
    };
    let at = |i: usize, c: u8| b.get(i) == Some(&c);
    b.len() == 29
        && at(4, b'-')
        && at(7, b'-')
        && at(10, b' ')
        && at(13, b':')
        && at(16, b':')
        && at(19, b'.')
        && at(23, b' ')
        && (at(24, b'+') || at(24, b'-'))
        && digits(0..4).is_some()
        && digits(5..7).is_some_and(|m| (1..=12).contains(&m))
        && digits(8..10).is_some_and(|d| (1..=31).contains(&d))
        && digits(11..13).is_some_and(|h| h < 24)
        && digits(14..16).is_some_and(|m| m < 60)
        && digits(17..19).is_some_and(|s| s < 60)
        && digits(20..23).is_some()
        && digits(25..29).is_some()
}

fn egress(
    doc: &Doc,
    spec: &Mapping,
    kafka: bool,
    ids: &mut BTreeMap<String, usize>,
) -> Result<Component, ReadError> {
    let mut delivery_semantic = None;
    if kafka {
        doc.known_keys(
            spec,
            "spec",
            &["id", "address", "deliverySemantic", "properties"],
        )?;
        if let Some(semantic) = spec.get("deliverySemantic") {
            let path = "spec.deliverySemantic";
            let semantic = doc.mapping(semantic, path)?;
            doc.known_keys(
                semantic,
                path,
                &["type", "transactionTimeout", "transactionTimeoutMillis"],
            )?;
            let kind = doc.required(semantic, path, "type")?;
            delivery_semantic = Some(match kind.as_str() {
                "at-least-once" | "none" => {
                    for key in ["transactionTimeout", "transactionTimeoutMillis"] {
                        if semantic.contains_key(key) {
                            doc.warn(
                                &join(path, key),
                                format!(
                                    "the runtime ignores it with {kind}; it applies to exactly-once"
                                ),
                            );
                        }
                    }
                    if kind == "none" {
                        DeliverySemantic::NoGuarantee
                    } else {
                        DeliverySemantic::AtLeastOnce
                    }
                }
                "exactly-once" => {
                    DeliverySemantic::ExactlyOnce(Some(transaction_timeout(doc, semantic)?))
                }
                _ => {
                    return Err(doc.error(
                        "spec.deliverySemantic.type",
                        format!("{kind:?} is not at-least-once, exactly-once or none"),
                    ));
                }
            });
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
    unique_id(doc, ids, id.type_name().as_str(), "an egress")?;
    Ok(if kafka {
        let mut egress = KafkaEgress::new(id);
        egress.address = lenient_string(spec, "address");
        egress.delivery_semantic = delivery_semantic;
        Component::KafkaEgress(egress)
    } else {
        Component::KinesisEgress(KinesisEgress::new(id))
    })
}

/// Exactly-once's transaction timeout, as `GenericKafkaEgressSpec.java`
/// reads it: the deprecated `transactionTimeoutMillis` (a number) when
/// present, else `transactionTimeout` (a duration), which is then required
/// (without either, the runtime fails startup: "Error parsing a
/// GenericKafkaEgressSpec."); longer than zero (`KafkaProducerSemantic.java`:
/// "Transaction timeout durations must be larger than 0 when using
/// exactly-once producer semantics.").
fn transaction_timeout(doc: &Doc, semantic: &Mapping) -> Result<Duration, ReadError> {
    let path = "spec.deliverySemantic";
    let (key, timeout) = match semantic.get("transactionTimeoutMillis") {
        Some(Value::Number(n)) => (
            "transactionTimeoutMillis",
            n.as_u64().map(Duration::from_millis).ok_or_else(|| {
                doc.error(
                    &join(path, "transactionTimeoutMillis"),
                    format!("{n} is not a whole number of milliseconds"),
                )
            })?,
        ),
        Some(other) => {
            return Err(doc.error(
                &join(path, "transactionTimeoutMillis"),
                format!("expected a number of milliseconds, found {}", shape(other)),
            ));
        }
        None => (
            "transactionTimeout",
            doc.duration(semantic, path, "transactionTimeout")?
                .ok_or_else(|| {
                    doc.error(
                        &join(path, "transactionTimeout"),
                        "missing: exactly-once needs a transaction timeout (e.g. 15min, at most the brokers' transaction.max.timeout.ms)",
                    )
                })?,
        ),
    };
    if timeout.is_zero() {
        return Err(doc.error(&join(path, key), "must be longer than zero"));
    }
    Ok(timeout)
}
