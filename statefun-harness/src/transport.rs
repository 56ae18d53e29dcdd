//! [`Transport`]: how the runtime's two HTTP clients retry a failed
//! attempt, and [`Failure`], how an attempt failed. Below both the
//! endpoints and the HTTP client, which each apply them.

use std::time::Duration;

/// The HTTP client the runtime calls an endpoint with (module.yaml
/// `transport.type`), which decides what is retried and after which
/// backoff (spec §2.3).
///
/// ```
/// use std::time::Duration;
/// use statefun_harness::Transport;
///
/// // A v2 endpoint's default; OkHttp is what a v1 endpoint always uses.
/// assert_eq!(Transport::default(), Transport::Netty);
/// assert_eq!(Transport::Netty.default_call_timeout(), Duration::from_secs(120));
/// assert_eq!(Transport::OkHttp.default_call_timeout(), Duration::from_secs(60));
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Transport {
    /// `io.statefun.transports.v1/async`, the default of
    /// `io.statefun.endpoints.v2/http` (`nettyclient/NettyRequest.java`):
    /// every failed attempt is retried (any non-2xx status, another content
    /// type, a body that is not a `FromFunction`, an I/O error) after 4, 8,
    /// 16… ms, within the call budget (default 2 minutes).
    #[default]
    Netty,
    /// `io.statefun.transports.v1/okhttp`, and every
    /// `io.statefun.endpoints.v1/http` endpoint
    /// (`httpfn/RetryingCallback.java`): I/O errors, 5xx and 408, 409, 420,
    /// 429, 499 are retried after 10, 20, 40… ms within the call budget
    /// (default 1 minute); any other non-2xx status, another content type
    /// than exactly `application/octet-stream`, or a body that is not a
    /// `FromFunction` fails the job at once.
    OkHttp,
}

impl Transport {
    /// The transport's call budget when none is configured: 2 minutes for
    /// Netty, 1 minute for OkHttp.
    #[must_use]
    pub const fn default_call_timeout(self) -> Duration {
        match self {
            Self::Netty => Duration::from_secs(120),
            Self::OkHttp => Duration::from_secs(60),
        }
    }

    /// The transport's connect timeout when none is configured: 20 s for
    /// Netty (`nettyclient/NettyRequestReplySpec.java`,
    /// `DEFAULT_CONNECT_TIMEOUT`), 10 s for OkHttp.
    ///
    /// ```
    /// use std::time::Duration;
    /// use statefun_harness::Transport;
    ///
    /// assert_eq!(Transport::Netty.default_connect_timeout(), Duration::from_secs(20));
    /// ```
    #[must_use]
    pub const fn default_connect_timeout(self) -> Duration {
        match self {
            Self::Netty => Duration::from_secs(20),
            Self::OkHttp => Duration::from_secs(10),
        }
    }

    /// Whether the transport tries again after an attempt failed so.
    pub(crate) fn retries(self, failure: Failure) -> bool {
        match (self, failure) {
            (_, Failure::Timeout) => false,
            (Self::Netty, _) | (Self::OkHttp, Failure::Io) => true,
            (Self::OkHttp, Failure::Status(code)) => {
                code >= 500 || matches!(code, 408 | 409 | 420 | 429 | 499)
            }
            (Self::OkHttp, Failure::ContentType | Failure::Malformed) => false,
        }
    }

    /// The name of the transport in failures.
    pub(crate) const fn name(self) -> &'static str {
        match self {
            Self::Netty => "the default (Netty) transport",
            Self::OkHttp => "the OkHttp transport",
        }
    }
}

/// How an attempt failed, which decides whether the transport retries it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Failure {
    /// No answer: the connection was refused or reset, the answer could
    /// not be read or was too large.
    Io,
    /// An answer with a non-2xx status (an in-process handler's error is
    /// the SDK server's 500).
    Status(u16),
    /// A 2xx answer of another content type.
    #[cfg_attr(not(feature = "http"), allow(dead_code))]
    ContentType,
    /// A 2xx answer whose body is not a `FromFunction`.
    Malformed,
    /// No answer within the call budget.
    Timeout,
}
