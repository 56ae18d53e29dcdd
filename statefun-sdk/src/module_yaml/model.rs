//! The typed model of a `module.yaml`'s components.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use crate::{EgressIdentifier, TypeName, TypeNameError};

/// `io.statefun.endpoints.v1/http`.
pub const ENDPOINT_V1: &str = "io.statefun.endpoints.v1/http";
/// `io.statefun.endpoints.v2/http`.
pub const ENDPOINT_V2: &str = "io.statefun.endpoints.v2/http";
/// `io.statefun.kafka.v1/ingress`.
pub const KAFKA_INGRESS: &str = "io.statefun.kafka.v1/ingress";
/// `io.statefun.kafka.v1/egress`.
pub const KAFKA_EGRESS: &str = "io.statefun.kafka.v1/egress";
/// `io.statefun.kinesis.v1/ingress`.
pub const KINESIS_INGRESS: &str = "io.statefun.kinesis.v1/ingress";
/// `io.statefun.kinesis.v1/egress`.
pub const KINESIS_EGRESS: &str = "io.statefun.kinesis.v1/egress";
/// `io.statefun.transports.v1/async`, the default transport of a v2
/// endpoint.
pub const ASYNC_TRANSPORT: &str = "io.statefun.transports.v1/async";
/// `io.statefun.transports.v1/okhttp`.
pub const OKHTTP_TRANSPORT: &str = "io.statefun.transports.v1/okhttp";

/// One `{kind, spec}` document of a `module.yaml`.
///
/// ```
/// use stateful_functions::module_yaml::{Component, KafkaEgress};
/// use stateful_functions::EgressIdentifier;
///
/// let egress = Component::KafkaEgress(KafkaEgress::new(
///     EgressIdentifier::from_static("shop/out"),
/// ));
/// assert_eq!(egress.kind(), "io.statefun.kafka.v1/egress");
/// assert_eq!(egress.to_string(), "kind: io.statefun.kafka.v1/egress\nspec:\n  id: \"shop/out\"\n");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Component {
    /// `io.statefun.endpoints.v1/http` or `.v2/http`.
    HttpEndpoint(HttpEndpoint),
    /// `io.statefun.kafka.v1/ingress`.
    KafkaIngress(KafkaIngress),
    /// `io.statefun.kinesis.v1/ingress`.
    KinesisIngress(KinesisIngress),
    /// `io.statefun.kafka.v1/egress`.
    KafkaEgress(KafkaEgress),
    /// `io.statefun.kinesis.v1/egress`.
    KinesisEgress(KinesisEgress),
}

impl Component {
    /// The document's `kind`.
    ///
    /// ```
    /// use stateful_functions::module_yaml::{Component, KinesisEgress};
    /// use stateful_functions::EgressIdentifier;
    ///
    /// let egress = KinesisEgress::new(EgressIdentifier::from_static("shop/out"));
    /// assert_eq!(Component::KinesisEgress(egress).kind(), "io.statefun.kinesis.v1/egress");
    /// ```
    pub fn kind(&self) -> &'static str {
        match self {
            Self::HttpEndpoint(e) => match e.version {
                EndpointVersion::V1 => ENDPOINT_V1,
                EndpointVersion::V2 => ENDPOINT_V2,
            },
            Self::KafkaIngress(_) => KAFKA_INGRESS,
            Self::KinesisIngress(_) => KINESIS_INGRESS,
            Self::KafkaEgress(_) => KAFKA_EGRESS,
            Self::KinesisEgress(_) => KINESIS_EGRESS,
        }
    }
}

/// Which endpoint kind: v1 (always OkHttp, `spec.timeouts`) or v2
/// (`spec.transport`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndpointVersion {
    /// `io.statefun.endpoints.v1/http`.
    V1,
    /// `io.statefun.endpoints.v2/http`.
    V2,
}

/// The function types an endpoint serves (`spec.functions`).
///
/// ```
/// use stateful_functions::module_yaml::FunctionPattern;
/// use stateful_functions::TypeName;
///
/// let one = FunctionPattern::Type(TypeName::from_static("shop/cart"));
/// let all = FunctionPattern::Namespace("shop".to_owned());
/// assert_eq!(one.to_string(), "shop/cart");
/// assert_eq!(all.to_string(), "shop/*");
/// assert!(all.matches(&TypeName::from_static("shop/cart")));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FunctionPattern {
    /// One function type.
    Type(TypeName),
    /// `ns/*`: every type of a namespace.
    Namespace(String),
}

impl FunctionPattern {
    /// Whether the pattern covers `function_type`.
    pub fn matches(&self, function_type: &TypeName) -> bool {
        match self {
            Self::Type(t) => t == function_type,
            Self::Namespace(ns) => ns == function_type.namespace(),
        }
    }
}

impl fmt::Display for FunctionPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Type(t) => f.write_str(t.as_str()),
            Self::Namespace(ns) => write!(f, "{ns}/*"),
        }
    }
}

/// Reads a pattern as module.yaml writes it: `ns/*` for a namespace (a
/// `*` may stand only for the whole name), anything else a [`TypeName`].
///
/// ```
/// use stateful_functions::module_yaml::FunctionPattern;
/// use stateful_functions::TypeName;
///
/// let all: FunctionPattern = "shop/*".parse()?;
/// assert_eq!(all, FunctionPattern::Namespace("shop".to_owned()));
/// let one = FunctionPattern::try_from("shop/cart")?;
/// assert_eq!(one, FunctionPattern::Type(TypeName::from_static("shop/cart")));
/// assert!("shop/c*".parse::<FunctionPattern>().is_err());
/// assert!("cart".parse::<FunctionPattern>().is_err());
/// # Ok::<(), stateful_functions::module_yaml::FunctionPatternError>(())
/// ```
impl FromStr for FunctionPattern {
    type Err = FunctionPatternError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.rsplit_once('/') {
            Some((ns, "*")) if !ns.is_empty() && !ns.contains('*') => {
                Ok(Self::Namespace(ns.to_owned()))
            }
            _ if s.contains('*') => Err(FunctionPatternError::Wildcard(s.to_owned())),
            _ => s
                .parse::<TypeName>()
                .map(Self::Type)
                .map_err(FunctionPatternError::TypeName),
        }
    }
}

impl TryFrom<&str> for FunctionPattern {
    type Error = FunctionPatternError;

    fn try_from(value: &str) -> Result<Self, Self::Error> {
        value.parse()
    }
}

impl TryFrom<String> for FunctionPattern {
    type Error = FunctionPatternError;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        value.parse()
    }
}

impl TryFrom<&String> for FunctionPattern {
    type Error = FunctionPatternError;

    fn try_from(value: &String) -> Result<Self, Self::Error> {
        value.parse()
    }
}

/// One function type.
impl From<TypeName> for FunctionPattern {
    fn from(function_type: TypeName) -> Self {
        Self::Type(function_type)
    }
}

/// A string that is not a [`FunctionPattern`].
///
/// ```
/// use stateful_functions::module_yaml::{FunctionPattern, FunctionPatternError};
///
/// let error = "shop/*cart".parse::<FunctionPattern>().unwrap_err();
/// assert!(matches!(error, FunctionPatternError::Wildcard(_)));
/// assert_eq!(
///     error.to_string(),
///     "\"shop/*cart\": `*` may only stand for the whole name, as in `ns/*`"
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum FunctionPatternError {
    /// A `*` that is not the whole name (`ns/*`).
    Wildcard(String),
    /// Not `ns/*`, and not a type name either.
    TypeName(TypeNameError),
}

impl fmt::Display for FunctionPatternError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Wildcard(input) => write!(
                f,
                "{input:?}: `*` may only stand for the whole name, as in `ns/*`"
            ),
            Self::TypeName(e) => fmt::Display::fmt(e, f),
        }
    }
}

impl std::error::Error for FunctionPatternError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Wildcard(_) => None,
            Self::TypeName(e) => Some(e),
        }
    }
}

/// An HTTP endpoint (spec §2.4.1, §2.4.2): where the runtime calls the
/// function types of a pattern.
///
/// ```
/// use std::time::Duration;
/// use stateful_functions::module_yaml::{FunctionPattern, HttpEndpoint};
///
/// let endpoint = HttpEndpoint::new(
///     FunctionPattern::Namespace("shop".to_owned()),
///     "http://fns:8000/statefun/{function.name}",
/// );
/// assert_eq!(endpoint.max_batch_requests(), 1000);
/// assert_eq!(endpoint.call_timeout(), Duration::from_secs(120));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct HttpEndpoint {
    /// v1 or v2.
    pub version: EndpointVersion,
    /// `functions`.
    pub functions: FunctionPattern,
    /// `urlPathTemplate`, which may contain `{function.name}`.
    pub url_path_template: String,
    /// `maxNumBatchRequests` (default 1000; ≤ 0 disables backpressure).
    pub max_num_batch_requests: Option<i64>,
    /// The client: `spec.transport` for v2, always OkHttp with
    /// `spec.timeouts` for v1.
    pub transport: Transport,
}

impl HttpEndpoint {
    /// A v2 endpoint with the default (async) transport.
    pub fn new(functions: FunctionPattern, url_path_template: impl Into<String>) -> Self {
        Self {
            version: EndpointVersion::V2,
            functions,
            url_path_template: url_path_template.into(),
            max_num_batch_requests: None,
            transport: Transport::Async(AsyncTransport::default()),
        }
    }

    /// The backlog limit per address: `maxNumBatchRequests`, 1000 when
    /// absent, 0 when disabled.
    pub fn max_batch_requests(&self) -> usize {
        match self.max_num_batch_requests {
            None => 1000,
            Some(n) if n <= 0 => 0,
            Some(n) => usize::try_from(n).unwrap_or(usize::MAX),
        }
    }

    /// The transport's total budget per request, with the runtime's
    /// defaults (spec §2.4.1).
    pub fn call_timeout(&self) -> Duration {
        self.transport.call_timeout()
    }
}

/// An endpoint's HTTP client.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Transport {
    /// `io.statefun.transports.v1/async` (the default).
    Async(AsyncTransport),
    /// `io.statefun.transports.v1/okhttp`, or a v1 endpoint's `timeouts`.
    OkHttp(OkHttpTimeouts),
}

impl Transport {
    /// The total budget per request: the async transport's `call` (2 min),
    /// or its `timeouts.call` (1 min) when it has a `timeouts` object; the
    /// OkHttp `timeouts.call` (1 min).
    ///
    /// ```
    /// use std::time::Duration;
    /// use stateful_functions::module_yaml::{OkHttpTimeouts, Transport};
    ///
    /// let okhttp = Transport::OkHttp(OkHttpTimeouts::default());
    /// assert_eq!(okhttp.call_timeout(), Duration::from_secs(60));
    /// ```
    pub fn call_timeout(&self) -> Duration {
        match self {
            Self::Async(AsyncTransport {
                timeouts: Some(timeouts),
                ..
            }) => timeouts.call.unwrap_or(Duration::from_secs(60)),
            Self::Async(t) => t.call.unwrap_or(Duration::from_secs(120)),
            Self::OkHttp(t) => t.call.unwrap_or(Duration::from_secs(60)),
        }
    }

    /// How long a connection may take to open: the async transport's
    /// `connect` (20 s), or its `timeouts.connect` (10 s) when it has a
    /// `timeouts` object; the OkHttp `timeouts.connect` (10 s). The async
    /// transport also waits at most this long for a free pooled
    /// connection (`nettyclient/NettyClient.java`: the `FixedChannelPool`'s
    /// acquire timeout, which fails the attempt).
    ///
    /// ```
    /// use std::time::Duration;
    /// use stateful_functions::module_yaml::{AsyncTransport, Transport};
    ///
    /// let netty = Transport::Async(AsyncTransport::default());
    /// assert_eq!(netty.connect_timeout(), Duration::from_secs(20));
    /// ```
    pub fn connect_timeout(&self) -> Duration {
        match self {
            Self::Async(AsyncTransport {
                timeouts: Some(timeouts),
                ..
            }) => timeouts.connect.unwrap_or(Duration::from_secs(10)),
            Self::Async(t) => t.connect.unwrap_or(Duration::from_secs(20)),
            Self::OkHttp(t) => t.connect.unwrap_or(Duration::from_secs(10)),
        }
    }
}

/// The async (Netty) transport's settings
/// (`nettyclient/NettyRequestReplySpec.java`). Its TLS keys
/// (`trust_cacerts`, `client_cert`, `client_key`, `client_key_password`)
/// are known but not modelled.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AsyncTransport {
    /// `call`: the total budget per request (2 min).
    pub call: Option<Duration>,
    /// `connect` (20 s).
    pub connect: Option<Duration>,
    /// `pool_ttl` (15 s).
    pub pool_ttl: Option<Duration>,
    /// `pool_size`: the most connections open at once per function type
    /// (1024; at least 1).
    pub pool_size: Option<usize>,
    /// `payload_max_bytes`: the largest answer taken (32 MiB).
    pub payload_max_bytes: Option<usize>,
    /// `timeouts`, the migration aliases: when present, they win.
    pub timeouts: Option<AsyncTimeouts>,
}

impl AsyncTransport {
    /// The transport with a total `call` budget.
    ///
    /// ```
    /// use std::time::Duration;
    /// use stateful_functions::module_yaml::AsyncTransport;
    ///
    /// assert_eq!(AsyncTransport::with_call(Duration::from_secs(5)).call, Some(Duration::from_secs(5)));
    /// ```
    pub fn with_call(call: Duration) -> Self {
        Self {
            call: Some(call),
            ..Self::default()
        }
    }
}

/// The async transport's `timeouts` object.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AsyncTimeouts {
    /// `call` (1 min).
    pub call: Option<Duration>,
    /// `connect` (10 s).
    pub connect: Option<Duration>,
}

/// OkHttp timeouts: each longer than zero, none above `call`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OkHttpTimeouts {
    /// `call` (1 min).
    pub call: Option<Duration>,
    /// `connect` (10 s).
    pub connect: Option<Duration>,
    /// `read` (10 s).
    pub read: Option<Duration>,
    /// `write` (10 s).
    pub write: Option<Duration>,
}

/// A topic (Kafka) or stream (Kinesis) of an ingress: the typename its
/// values carry and the function types each record goes to (at the id given
/// by its key).
///
/// ```
/// use stateful_functions::module_yaml::IngressTopic;
/// use stateful_functions::TypeName;
///
/// let topic = IngressTopic::new("orders", TypeName::from_static("shop.types/Order"))
///     .target(TypeName::from_static("shop/cart"));
/// assert_eq!(topic.targets.len(), 1);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct IngressTopic {
    /// `topic` or `stream`.
    pub name: String,
    /// `valueType`: the typename the records carry, verbatim. By
    /// convention `namespace/name`, but the runtime does not check it
    /// (`RoutableKafkaIngressSpec.java` reads it with `textValue()`), so
    /// neither does the reader (it warns).
    pub value_type: String,
    /// `targets`.
    pub targets: Vec<TypeName>,
}

impl IngressTopic {
    /// A topic with no targets yet.
    #[allow(clippy::needless_pass_by_value)] // a typename, by value as before
    pub fn new(name: impl Into<String>, value_type: TypeName) -> Self {
        Self {
            name: name.into(),
            value_type: value_type.as_str().to_owned(),
            targets: Vec::new(),
        }
    }

    /// Sends the topic's records to `function_type` too.
    #[must_use]
    pub fn target(mut self, function_type: TypeName) -> Self {
        self.targets.push(function_type);
        self
    }
}

/// Where a Kafka ingress starts reading (`startupPosition`).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum KafkaStartupPosition {
    /// `group-offsets`.
    GroupOffsets,
    /// `earliest`.
    Earliest,
    /// `latest` (the runtime's default).
    Latest,
    /// `specific-offsets`: `"topic/partition"` to offset.
    SpecificOffsets(Vec<(String, i64)>),
    /// `date`, as `yyyy-MM-dd HH:mm:ss.SSS Z`.
    Date(String),
}

/// An auto-routable Kafka ingress (spec §2.6.1).
///
/// `autoOffsetResetPosition` and `properties` are known keys, not
/// modelled; `address`, `consumerGroupId` and `startupPosition` are read
/// when well-formed and not checked otherwise.
///
/// ```
/// use stateful_functions::module_yaml::{IngressTopic, KafkaIngress};
/// use stateful_functions::TypeName;
///
/// let mut ingress = KafkaIngress::new(TypeName::from_static("shop/in"));
/// ingress.address = Some("kafka:9092".to_owned());
/// ingress.topics.push(
///     IngressTopic::new("orders", TypeName::from_static("shop.types/Order"))
///         .target(TypeName::from_static("shop/cart")),
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct KafkaIngress {
    /// `id`.
    pub id: TypeName,
    /// `address`: the bootstrap servers.
    pub address: Option<String>,
    /// `consumerGroupId`.
    pub consumer_group_id: Option<String>,
    /// `startupPosition`.
    pub startup_position: Option<KafkaStartupPosition>,
    /// `topics`.
    pub topics: Vec<IngressTopic>,
}

impl KafkaIngress {
    /// An ingress with no topics yet.
    pub fn new(id: TypeName) -> Self {
        Self {
            id,
            address: None,
            consumer_group_id: None,
            startup_position: None,
            topics: Vec::new(),
        }
    }
}

/// An auto-routable Kinesis ingress (spec §2.6.3). `awsRegion`,
/// `awsCredentials`, `startupPosition` and `clientConfigProperties` are
/// known keys, not modelled.
///
/// ```
/// use stateful_functions::module_yaml::KinesisIngress;
/// use stateful_functions::TypeName;
///
/// let ingress = KinesisIngress::new(TypeName::from_static("shop/clicks"));
/// assert!(ingress.streams.is_empty());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct KinesisIngress {
    /// `id`.
    pub id: TypeName,
    /// `streams`.
    pub streams: Vec<IngressTopic>,
}

impl KinesisIngress {
    /// An ingress with no streams yet.
    pub fn new(id: TypeName) -> Self {
        Self {
            id,
            streams: Vec::new(),
        }
    }
}

/// A Kafka egress's `deliverySemantic`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum DeliverySemantic {
    /// `at-least-once` (the runtime's default).
    AtLeastOnce,
    /// `exactly-once`, with its `transactionTimeout`.
    ExactlyOnce(Option<Duration>),
    /// `none`.
    NoGuarantee,
}

/// A Kafka egress (spec §2.6.2). `properties` and the deprecated
/// `transactionTimeoutMillis` are known keys, not modelled; `address` is
/// read when well-formed.
///
/// ```
/// use std::time::Duration;
/// use stateful_functions::module_yaml::{DeliverySemantic, KafkaEgress};
/// use stateful_functions::EgressIdentifier;
///
/// let mut egress = KafkaEgress::new(EgressIdentifier::from_static("shop/out"));
/// egress.delivery_semantic = Some(DeliverySemantic::ExactlyOnce(Some(Duration::from_secs(900))));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct KafkaEgress {
    /// `id`.
    pub id: EgressIdentifier,
    /// `address`: the bootstrap servers.
    pub address: Option<String>,
    /// `deliverySemantic`.
    pub delivery_semantic: Option<DeliverySemantic>,
}

impl KafkaEgress {
    /// An egress with the runtime's defaults.
    pub fn new(id: EgressIdentifier) -> Self {
        Self {
            id,
            address: None,
            delivery_semantic: None,
        }
    }
}

/// A Kinesis egress (spec §2.6.4). `awsRegion`, `awsCredentials`,
/// `maxOutstandingRecords` and `clientConfigProperties` are known keys, not
/// modelled.
///
/// ```
/// use stateful_functions::module_yaml::KinesisEgress;
/// use stateful_functions::EgressIdentifier;
///
/// let egress = KinesisEgress::new(EgressIdentifier::from_static("shop/out"));
/// assert_eq!(egress.id.type_name().as_str(), "shop/out");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct KinesisEgress {
    /// `id`.
    pub id: EgressIdentifier,
}

impl KinesisEgress {
    /// The egress `id`.
    pub fn new(id: EgressIdentifier) -> Self {
        Self { id }
    }
}
