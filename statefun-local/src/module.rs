//! Reading a StateFun `module.yaml` (spec §2.4) with the SDK's reader
//! (`stateful_functions::module_yaml`, the model `ModuleYaml` writes), so the
//! file that deploys to Flink runs here unchanged, into the view the
//! runtime loop uses; plus what only statefun-local refuses (endpoints it
//! cannot call).
//!
//! Errors name the file, the document (1-based, as an editor counts `---`
//! sections), its kind and the key.

use std::time::Duration;

use stateful_functions::module_yaml::{
    self, Component, DeliverySemantic, FunctionPattern, HttpEndpoint, ReadError, ReadOptions,
    UnknownKeys,
};
use stateful_functions::{EgressIdentifier, TypeName};
use statefun_harness::{EgressSemantics, Transport};

/// A module: where function types are served, and the ingresses and
/// egresses.
#[derive(Debug, Clone, Default)]
pub(crate) struct Module {
    pub(crate) endpoints: Vec<Endpoint>,
    pub(crate) ingresses: Vec<Ingress>,
    pub(crate) egresses: Vec<Egress>,
    /// What the runtime would load but is likely a mistake, one line each
    /// naming the file, document and key.
    pub(crate) warnings: Vec<String>,
    /// The model, for endpoint lookups.
    read: module_yaml::Module,
}

/// An `io.statefun.endpoints.v1/http` or `.v2/http` document.
#[derive(Debug, Clone)]
pub(crate) struct Endpoint {
    pub(crate) document: usize,
    pub(crate) functions: FunctionPattern,
    pub(crate) url_path_template: String,
    /// `maxNumBatchRequests` (0 when disabled).
    pub(crate) max_batch_requests: usize,
    /// The transport's total budget per request.
    pub(crate) call_timeout: Duration,
    /// The client the runtime calls it with: Netty (`transport.type`
    /// async, the v2 default) or OkHttp (`transport.type` okhttp, or any
    /// v1 endpoint), which decides what is retried and after which
    /// backoff.
    pub(crate) transport: Transport,
    /// The async transport's `pool_size` (else `--max-connections`).
    pub(crate) pool_size: Option<usize>,
    /// The async transport's `payload_max_bytes` (else 32 MiB).
    pub(crate) payload_max_bytes: Option<usize>,
    /// How long a connection may take to open, and an attempt may wait for
    /// a pooled one (`connect`).
    pub(crate) connect_timeout: Duration,
}

impl Endpoint {
    fn new(document: usize, e: &HttpEndpoint) -> Self {
        let (pool_size, payload_max_bytes) = match &e.transport {
            module_yaml::Transport::Async(t) => (t.pool_size, t.payload_max_bytes),
            _ => (None, None),
        };
        Self {
            document,
            functions: e.functions.clone(),
            url_path_template: e.url_path_template.clone(),
            max_batch_requests: e.max_batch_requests(),
            call_timeout: e.call_timeout(),
            transport: match e.transport {
                module_yaml::Transport::OkHttp(_) => Transport::OkHttp,
                _ => Transport::Netty,
            },
            pool_size,
            payload_max_bytes,
            connect_timeout: e.transport.connect_timeout(),
        }
    }
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
    pub(crate) topics: Vec<module_yaml::IngressTopic>,
}

/// A Kafka or Kinesis egress.
#[derive(Debug, Clone)]
pub(crate) struct Egress {
    pub(crate) id: EgressIdentifier,
    pub(crate) kind: IoKind,
    /// When its records become visible: a Kafka egress's
    /// `deliverySemantic` (at least once unless `exactly-once`, as
    /// `GenericKafkaEgressSpec.java` defaults it); a Kinesis egress is at
    /// least once (`KinesisSinkProvider.java` sets `failOnError` "for
    /// at-least-once delivery semantics to Kinesis"; it has no
    /// transactions).
    pub(crate) semantics: EgressSemantics,
}

/// A module.yaml that cannot be run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}: {error}{hint}")]
pub(crate) struct ModuleError {
    file: String,
    error: Box<ReadError>,
    /// What to do about it here.
    hint: &'static str,
}

impl Module {
    /// Reads `text`, the contents of `file` (named in errors). `strict`
    /// refuses unknown keys.
    pub(crate) fn parse(file: &str, text: &str, strict: bool) -> Result<Self, ModuleError> {
        let options = ReadOptions::new()
            .unknown_keys(if strict {
                UnknownKeys::Refuse
            } else {
                UnknownKeys::Ignore
            })
            .endpoint_check(check_url);
        let read = module_yaml::Module::parse(text, options).map_err(|error| ModuleError {
            file: file.to_owned(),
            hint: if error.is_unknown_key() {
                ", pass --allow-unknown-keys to do the same"
            } else {
                ""
            },
            error: Box::new(error),
        })?;
        let mut module = Self::default();
        for document in read.documents() {
            match &document.component {
                Component::HttpEndpoint(e) => {
                    module.endpoints.push(Endpoint::new(document.index, e));
                }
                Component::KafkaIngress(i) => module.ingresses.push(Ingress {
                    id: i.id.clone(),
                    kind: IoKind::Kafka,
                    topics: i.topics.clone(),
                }),
                Component::KinesisIngress(i) => module.ingresses.push(Ingress {
                    id: i.id.clone(),
                    kind: IoKind::Kinesis,
                    topics: i.streams.clone(),
                }),
                Component::KafkaEgress(e) => module.egresses.push(Egress {
                    id: e.id.clone(),
                    kind: IoKind::Kafka,
                    semantics: match e.delivery_semantic {
                        Some(DeliverySemantic::ExactlyOnce(_)) => EgressSemantics::ExactlyOnce,
                        // `none` (Flink's NONE: no flush at checkpoints)
                        // is at least once here: nothing is lost.
                        _ => EgressSemantics::AtLeastOnce,
                    },
                }),
                Component::KinesisEgress(e) => module.egresses.push(Egress {
                    id: e.id.clone(),
                    kind: IoKind::Kinesis,
                    semantics: EgressSemantics::AtLeastOnce,
                }),
                _ => {}
            }
        }
        module.warnings = read
            .warnings()
            .iter()
            .map(|w| format!("{file}: warning: {w}"))
            .collect();
        module.read = read;
        Ok(module)
    }

    /// The endpoint serving `function_type`: an exact binding wins over a
    /// namespace one, as in the runtime.
    pub(crate) fn endpoint_for(&self, function_type: &TypeName) -> Option<&Endpoint> {
        let served = self.read.endpoint_for(function_type)?;
        self.endpoints
            .iter()
            .find(|e| e.functions == served.functions)
    }
}

/// Only plain HTTP endpoints can be called from here.
fn check_url(endpoint: &HttpEndpoint) -> Result<(), (&'static str, String)> {
    let key = "spec.urlPathTemplate";
    let template = &endpoint.url_path_template;
    let url = template.replace("{function.name}", "name");
    let lower = url.to_ascii_lowercase();
    if lower.starts_with("https://") {
        return Err((
            key,
            format!(
                "{template:?}: statefun-local calls endpoints over plain HTTP only; serve the functions over http:// locally (or use --rewrite-url)"
            ),
        ));
    }
    if lower.starts_with("http+unix://") {
        return Err((
            key,
            format!(
                "{template:?}: Unix domain socket endpoints are not supported by statefun-local"
            ),
        ));
    }
    let uri: http::Uri = url
        .parse()
        .map_err(|e| (key, format!("{template:?} is not a URL: {e}")))?;
    if uri.scheme_str() != Some("http") || uri.authority().is_none() {
        return Err((
            key,
            format!("{template:?} is not an http:// URL with a host"),
        ));
    }
    Ok(())
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
    connect: 2s
    pool_size: 64
    payload_max_bytes: 1048576
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
        assert_eq!(ns.transport, Transport::Netty);
        // The Netty pool and answer limit (`NettyRequestReplySpec.java`).
        assert_eq!(ns.connect_timeout, Duration::from_secs(2));
        assert_eq!(ns.pool_size, Some(64));
        assert_eq!(ns.payload_max_bytes, Some(1_048_576));
        assert_eq!(
            ns.url_path_template,
            "http://fns:8000/statefun/{function.name}"
        );
        // The exact binding wins over the namespace.
        let exact = module.endpoint_for(&special).unwrap();
        assert_eq!(exact.document, 2);
        assert_eq!(exact.call_timeout, Duration::from_secs(120));
        assert_eq!(exact.max_batch_requests, 0);
        // httpfn/: a v1 endpoint is always called with OkHttp, whose
        // retry rules differ (RetryingCallback.java).
        assert_eq!(exact.transport, Transport::OkHttp);
        assert_eq!(exact.connect_timeout, Duration::from_secs(10));
        assert_eq!((exact.pool_size, exact.payload_max_bytes), (None, None));
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
        let transport = |text: &str| {
            let text = format!(
                "kind: io.statefun.endpoints.v2/http\nspec:\n  functions: a/b\n  urlPathTemplate: http://h/x\n{text}"
            );
            parse(&text).map(|m| m.endpoints[0].transport)
        };
        assert_eq!(transport(""), Ok(Transport::Netty));
        assert_eq!(
            transport("  transport:\n    type: io.statefun.transports.v1/okhttp\n"),
            Ok(Transport::OkHttp)
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
