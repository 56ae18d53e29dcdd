//! Where function types are served: in process, through the SDK's handler
//! (request bytes in, response bytes out, as over HTTP), or remotely over
//! HTTP, by any StateFun SDK.

use std::fmt;

use bytes::Bytes;
use statefun_sdk::RequestReplyHandler;

/// How the harness reaches a function type.
#[derive(Clone)]
pub enum Endpoint {
    /// In process: the SDK's request-reply handler, called with the same
    /// bytes the HTTP server would receive.
    Handler(RequestReplyHandler),
    /// Remote, over HTTP: a `urlPathTemplate` whose `{function.name}` is
    /// replaced by the function type's name.
    #[cfg(feature = "http")]
    Http(String),
}

impl fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Handler(_) => f.write_str("Endpoint::Handler"),
            #[cfg(feature = "http")]
            Self::Http(url) => write!(f, "Endpoint::Http({url:?})"),
        }
    }
}

/// What calling an endpoint produced: response bytes, or a failure text.
pub(crate) type CallResult = Result<Bytes, (String, String)>;

impl Endpoint {
    /// Sends one request for a function type named `name`.
    pub(crate) async fn call(
        &self,
        #[cfg_attr(not(feature = "http"), allow(unused_variables))] name: &str,
        body: Bytes,
        #[cfg(feature = "http")] client: &crate::http::Client,
    ) -> CallResult {
        match self {
            Self::Handler(handler) => handler
                .handle(body)
                .await
                .map_err(|e| ("in-process handler".to_owned(), error_chain(&e))),
            #[cfg(feature = "http")]
            Self::Http(template) => {
                let url = template.replace("{function.name}", name);
                client
                    .post(&url, body)
                    .await
                    .map_err(|reason| (url, reason))
            }
        }
    }
}

fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut line = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        line.push_str(": ");
        line.push_str(&cause.to_string());
        source = cause.source();
    }
    line
}
