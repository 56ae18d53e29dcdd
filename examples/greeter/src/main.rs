//! Plays the StateFun runtime's side of the request-reply protocol against
//! the greeter, printing each exchange: the state handshake, a first
//! invocation, then a batch of two messages with the stored state.
//!
//! ```text
//! cargo run -p greeter
//! ```
//!
//! With `serve`, serves the greeter over HTTP instead, on the port in
//! `PORT` (default 8000), path `/statefun`, until SIGTERM or Ctrl-C:
//!
//! ```text
//! cargo run -p greeter -- serve
//! ```

use bytes::Bytes;
use prost::Message as _;
use stateful_functions::{RequestReplyHandler, Server, Value};
use statefun_protocol::egress::KafkaProducerRecord;
use statefun_protocol::reqreply::from_function::{self, expiration_spec};
use statefun_protocol::reqreply::{Address, FromFunction, ToFunction, TypedValue, to_function};

fn string(s: &str) -> anyhow::Result<TypedValue> {
    Ok(TypedValue {
        typename: "io.statefun.types/string".into(),
        has_value: true,
        value: s.to_owned().to_bytes()?,
    })
}

/// A request for `example/greeter:<id>` carrying `state` (`None`: the
/// runtime has not registered `seen` yet) and one message per name.
fn request(id: &str, state: Option<Option<i32>>, names: &[&str]) -> anyhow::Result<Bytes> {
    let state = match state {
        None => vec![],
        Some(value) => vec![to_function::PersistedValue {
            state_name: "seen".into(),
            state_value: value
                .map(|v| -> anyhow::Result<TypedValue> {
                    Ok(TypedValue {
                        typename: "io.statefun.types/int".into(),
                        has_value: true,
                        value: v.to_bytes()?,
                    })
                })
                .transpose()?,
        }],
    };
    let invocations = names
        .iter()
        .map(|name| {
            Ok(to_function::Invocation {
                caller: None,
                argument: Some(string(name)?),
            })
        })
        .collect::<anyhow::Result<_>>()?;
    let batch = to_function::InvocationBatchRequest {
        target: Some(Address {
            namespace: "example".into(),
            r#type: "greeter".into(),
            id: id.into(),
        }),
        state,
        invocations,
    };
    Ok(Bytes::from(
        ToFunction {
            request: Some(to_function::Request::Invocation(batch)),
        }
        .encode_to_vec(),
    ))
}

fn describe(response: &[u8]) -> anyhow::Result<Vec<String>> {
    let mut lines = Vec::new();
    match FromFunction::decode(response)?.response {
        Some(from_function::Response::IncompleteInvocationContext(missing)) => {
            for spec in missing.missing_values {
                let expiration = spec.expiration_spec.unwrap_or_default();
                let mode = match expiration.mode() {
                    expiration_spec::ExpireMode::None => "never expires".to_owned(),
                    expiration_spec::ExpireMode::AfterWrite => {
                        format!("expires {} ms after write", expiration.expire_after_millis)
                    }
                    expiration_spec::ExpireMode::AfterInvoke => {
                        format!("expires {} ms after call", expiration.expire_after_millis)
                    }
                };
                lines.push(format!(
                    "  missing state {:?} of type {} ({mode}): nothing ran",
                    spec.state_name, spec.type_typename
                ));
            }
        }
        Some(from_function::Response::InvocationResult(result)) => {
            for mutation in result.state_mutations {
                match mutation.state_value {
                    Some(v) => lines.push(format!(
                        "  state {:?} := {}",
                        mutation.state_name,
                        i32::from_bytes(&v.value)?
                    )),
                    None => lines.push(format!("  state {:?} deleted", mutation.state_name)),
                }
            }
            for egress in result.outgoing_egresses {
                let record =
                    KafkaProducerRecord::decode(egress.argument.unwrap_or_default().value)?;
                lines.push(format!(
                    "  egress {}/{}: topic {:?}, key {:?}, value {:?}",
                    egress.egress_namespace,
                    egress.egress_type,
                    record.topic,
                    record.key,
                    String::from_utf8_lossy(&record.value_bytes)
                ));
            }
        }
        None => lines.push("  empty response".into()),
    }
    Ok(lines)
}

/// One exchange: a caption, the state the runtime sends (`None`: not yet
/// registered; `Some(None)`: registered, no value) and the messages.
type Step = (&'static str, Option<Option<i32>>, &'static [&'static str]);

/// The three exchanges, as printed lines.
async fn walkthrough() -> anyhow::Result<Vec<String>> {
    let handler =
        RequestReplyHandler::new(greeter::functions().map_err(anyhow::Error::from_boxed)?);
    let mut out = Vec::new();
    let steps: [Step; 3] = [
        (
            "1. The runtime knows no state of example/greeter yet and sends a message for Kim:",
            None,
            &["Kim"],
        ),
        (
            "2. It registers `seen` and sends the same message again, with `seen` empty:",
            Some(None),
            &["Kim"],
        ),
        (
            "3. Two more messages arrived while that was in flight; they go as one batch with seen = 1:",
            Some(Some(1)),
            &["Kim", "Kim"],
        ),
    ];
    for (title, state, names) in steps {
        out.push(title.to_owned());
        let response = handler.handle(request("Kim", state, names)?).await?;
        out.extend(describe(&response)?);
    }
    Ok(out)
}

/// Logs to stderr what `RUST_LOG` selects (default `info`: the server's
/// start line with its address and function types, its shutdown, and
/// every failed request with the function type and address). The SDK
/// logs with `tracing` and installs no subscriber: an application does.
fn init_logs() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    if std::env::args().nth(1).as_deref() == Some("serve") {
        init_logs();
        let port: u16 = std::env::var("PORT").map_or(Ok(8000), |p| p.parse())?;
        let handler =
            RequestReplyHandler::new(greeter::functions().map_err(anyhow::Error::from_boxed)?);
        let server = Server::new(handler).bind(("0.0.0.0", port)).await?;
        #[allow(clippy::print_stderr)] // the point of this binary
        {
            eprintln!(
                "serving example/greeter on http://{}/statefun",
                server.local_addr()?
            );
        }
        server.serve().await?;
        return Ok(());
    }
    for line in walkthrough().await? {
        #[allow(clippy::print_stdout)] // the point of this binary
        {
            println!("{line}");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[tokio::test(flavor = "current_thread")]
    async fn walkthrough_shows_handshake_then_results() {
        let lines = super::walkthrough().await.unwrap();
        let text = lines.join("\n");
        assert!(text.contains(
            "missing state \"seen\" of type io.statefun.types/int (expires 3600000 ms after call): nothing ran"
        ), "{text}");
        assert!(text.contains("state \"seen\" := 1\n"), "{text}");
        assert!(text.contains("value \"Hello Kim!\""), "{text}");
        assert!(text.contains("state \"seen\" := 3"), "{text}");
        assert!(
            text.contains("value \"Hello again Kim, visit number 3.\""),
            "{text}"
        );
    }
}
