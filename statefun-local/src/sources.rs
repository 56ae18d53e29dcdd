//! Where input comes from: JSON lines on stdin or in files (followed as
//! they grow, with `--follow`), and an HTTP ingress.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, BufRead as _, BufReader, Seek as _, SeekFrom};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt as _, Full, Limited};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use serde_json::json;
use stateful_functions::TypeName;
use tokio::sync::{mpsc, oneshot, watch};

use crate::input::{Line, Routes, parse_address};
use crate::runtime::{Command, StateQuery, log};
use crate::store::Position;

/// An input of JSON lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Source {
    Stdin,
    File(PathBuf),
}

impl Source {
    /// The key its read position is kept under: the file's absolute path.
    pub(crate) fn key(&self) -> io::Result<String> {
        match self {
            Self::Stdin => Ok("-".into()),
            Self::File(path) => Ok(std::fs::canonicalize(path)?.display().to_string()),
        }
    }
}

/// Reads `source` on its own thread, from `start` (what an earlier run
/// already took), sending each line's messages to the runtime.
pub(crate) fn spawn_reader(
    source: Source,
    routes: Arc<Routes>,
    commands: mpsc::Sender<Command>,
    start: Option<Position>,
    follow: bool,
    stop: watch::Receiver<bool>,
) -> io::Result<()> {
    let key = source.key()?;
    let (reader, name): (Box<dyn io::BufRead + Send>, String) = match &source {
        Source::Stdin => (Box::new(BufReader::new(io::stdin())), "stdin".into()),
        Source::File(path) => {
            let mut file = File::open(path)?;
            if let Some(start) = &start {
                file.seek(SeekFrom::Start(start.offset))?;
            }
            (Box::new(BufReader::new(file)), path.display().to_string())
        }
    };
    let follow = follow && matches!(source, Source::File(_));
    let position = start.unwrap_or(Position {
        path: key,
        offset: 0,
        line: 0,
    });
    std::thread::Builder::new()
        .name(format!("input {name}"))
        .spawn(move || {
            let reader = LineReader {
                reader,
                name,
                routes,
                commands,
                position,
                follow,
                stop,
                track: !matches!(source, Source::Stdin),
            };
            if let Err(e) = reader.run() {
                log(&format!("input stopped: {e}"));
            }
        })?;
    Ok(())
}

struct LineReader {
    reader: Box<dyn io::BufRead + Send>,
    name: String,
    routes: Arc<Routes>,
    commands: mpsc::Sender<Command>,
    position: Position,
    follow: bool,
    stop: watch::Receiver<bool>,
    /// Whether positions are kept (files, not stdin).
    track: bool,
}

impl LineReader {
    fn run(mut self) -> io::Result<()> {
        let mut line = Vec::new();
        loop {
            if *self.stop.borrow() {
                return Ok(());
            }
            let n = self.reader.read_until(b'\n', &mut line)?;
            let complete = line.last() == Some(&b'\n');
            if n == 0 || !complete {
                if self.follow {
                    // Wait for the rest of the line (or more lines).
                    std::thread::sleep(Duration::from_millis(20));
                    continue;
                }
                if line.is_empty() {
                    let _ = self.commands.blocking_send(Command::InputDone);
                    return Ok(());
                }
            }
            self.position.offset += line.len() as u64;
            self.position.line += 1;
            let text = String::from_utf8_lossy(&line).into_owned();
            line.clear();
            let command = match self.routes.parse_line(&text) {
                Ok(Line::Blank) => continue,
                Ok(Line::Advance(by)) => Command::Advance {
                    by,
                    position: self.track.then(|| self.position.clone()),
                },
                Ok(Line::Deliver(deliveries)) => Command::Deliver {
                    deliveries,
                    position: self.track.then(|| self.position.clone()),
                    ack: None,
                },
                Err(e) => {
                    log(&format!(
                        "{}:{}: {e} (line skipped)",
                        self.name, self.position.line
                    ));
                    continue;
                }
            };
            if self.commands.blocking_send(command).is_err() {
                return Ok(());
            }
        }
    }
}

/// The most an HTTP request body may carry (the runtime's default
/// `payload_max_bytes`).
const MAX_BODY: usize = 32 << 20;

/// Serves the HTTP ingress on `listener` until `stop`.
pub(crate) async fn serve_http(
    listener: tokio::net::TcpListener,
    routes: Arc<Routes>,
    commands: mpsc::Sender<Command>,
    queries: mpsc::Sender<StateQuery>,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        let (stream, _) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    log(&format!("HTTP ingress: accept failed: {e}"));
                    continue;
                }
            },
            _ = stop.changed() => return,
        };
        let routes = Arc::clone(&routes);
        let (commands, queries) = (commands.clone(), queries.clone());
        tokio::spawn(async move {
            let service = service_fn(move |request| {
                let routes = Arc::clone(&routes);
                let (commands, queries) = (commands.clone(), queries.clone());
                async move {
                    Ok::<_, std::convert::Infallible>(
                        handle(request, &routes, &commands, &queries).await,
                    )
                }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

/// Binds the HTTP ingress.
pub(crate) async fn bind(address: SocketAddr) -> io::Result<tokio::net::TcpListener> {
    tokio::net::TcpListener::bind(address).await
}

fn reply(status: StatusCode, body: &serde_json::Value) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body.to_string() + "\n")));
    *response.status_mut() = status;
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    response
}

fn bad_request(message: impl Into<String>) -> Response<Full<Bytes>> {
    reply(StatusCode::BAD_REQUEST, &json!({"error": message.into()}))
}

const ROUTES_HELP: &str = "POST /messages (JSON lines), POST /ingress/<topic>?key=<key>[&ingress=<id>] (the raw value), POST /addresses/<namespace>/<name>:<id>?type=<typename> (the raw value), GET /state/<namespace>/<name>:<id>, GET /health";

async fn handle(
    request: Request<Incoming>,
    routes: &Routes,
    commands: &mpsc::Sender<Command>,
    queries: &mpsc::Sender<StateQuery>,
) -> Response<Full<Bytes>> {
    let method = request.method().clone();
    let path = percent_decode(request.uri().path());
    let query = query_pairs(request.uri().query().unwrap_or_default());
    let body = match Limited::new(request.into_body(), MAX_BODY).collect().await {
        Ok(body) => body.to_bytes(),
        Err(e) => {
            return reply(
                StatusCode::PAYLOAD_TOO_LARGE,
                &json!({"error": format!("reading the body: {e} (at most {MAX_BODY} bytes)")}),
            );
        }
    };
    let deliveries = match (&method, path.as_str()) {
        (&Method::GET, "/health") => return reply(StatusCode::OK, &json!({"ok": true})),
        (&Method::POST, "/messages") => {
            let Ok(text) = std::str::from_utf8(&body) else {
                return bad_request("the body is not UTF-8 JSON lines");
            };
            let mut all = Vec::new();
            for (i, line) in text.lines().enumerate() {
                match routes.parse_line(line) {
                    Ok(Line::Blank) => {}
                    Ok(Line::Deliver(deliveries)) => all.extend(deliveries),
                    Ok(Line::Advance(_)) => {
                        return bad_request(format!(
                            "line {}: `advance` is for scripts on the virtual clock",
                            i + 1
                        ));
                    }
                    Err(e) => {
                        return bad_request(format!("line {}: {e}; nothing was accepted", i + 1));
                    }
                }
            }
            all
        }
        (&Method::POST, p) if p.starts_with("/ingress/") => {
            let topic = &p["/ingress/".len()..];
            let Some(key) = query.get("key") else {
                return bad_request(
                    "a record needs ?key=<key>: it is the id of the function it goes to",
                );
            };
            match routes.record(query.get("ingress").map(String::as_str), topic, key, &body) {
                Ok(deliveries) => deliveries,
                Err(e) => return bad_request(e),
            }
        }
        (&Method::POST, p) if p.starts_with("/addresses/") => {
            let to = match parse_address(&p["/addresses/".len()..]) {
                Ok(to) => to,
                Err(e) => return bad_request(e),
            };
            let Some(type_name) = query.get("type") else {
                return bad_request("a message to an address needs ?type=<typename>");
            };
            let type_name: TypeName = match type_name.parse() {
                Ok(t) => t,
                Err(e) => return bad_request(format!("{type_name:?} is not a typename: {e}")),
            };
            match routes.to_address(to, &type_name, body) {
                Ok(delivery) => vec![delivery],
                Err(e) => return bad_request(e),
            }
        }
        (&Method::GET, p) if p.starts_with("/state/") => {
            let address = match parse_address(&p["/state/".len()..]) {
                Ok(address) => address,
                Err(e) => return bad_request(e),
            };
            let (reply_to, answer) = oneshot::channel();
            // Not behind the input: a back-pressured job still answers.
            if queries
                .send(StateQuery {
                    address,
                    reply: reply_to,
                })
                .await
                .is_err()
            {
                return reply(
                    StatusCode::SERVICE_UNAVAILABLE,
                    &json!({"error": "stopping"}),
                );
            }
            return match answer.await {
                Ok(state) => reply(StatusCode::OK, &state),
                Err(_) => reply(
                    StatusCode::SERVICE_UNAVAILABLE,
                    &json!({"error": "stopping"}),
                ),
            };
        }
        _ => {
            return reply(
                StatusCode::NOT_FOUND,
                &json!({"error": format!("no route {method} {path}; the routes are: {ROUTES_HELP}")}),
            );
        }
    };
    let (ack, acked) = oneshot::channel();
    let command = Command::Deliver {
        deliveries,
        position: None,
        ack: Some(ack),
    };
    if commands.send(command).await.is_err() {
        return reply(
            StatusCode::SERVICE_UNAVAILABLE,
            &json!({"error": "stopping"}),
        );
    }
    match acked.await {
        // Logged durably: it survives a kill from now on.
        Ok(Ok(n)) => reply(StatusCode::ACCEPTED, &json!({"accepted": n})),
        Ok(Err(e)) => reply(StatusCode::INTERNAL_SERVER_ERROR, &json!({"error": e})),
        Err(_) => reply(
            StatusCode::SERVICE_UNAVAILABLE,
            &json!({"error": "stopping"}),
        ),
    }
}

/// `a=b&c=d`, percent-decoded (`+` is a space).
fn query_pairs(query: &str) -> BTreeMap<String, String> {
    query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (
                percent_decode(&k.replace('+', " ")),
                percent_decode(&v.replace('+', " ")),
            )
        })
        .collect()
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
            if let Some(b) = hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The input files' start positions from a resumed run.
pub(crate) fn start_of(
    positions: &BTreeMap<String, Position>,
    source: &Source,
) -> Option<Position> {
    source
        .key()
        .ok()
        .and_then(|key| positions.get(&key).cloned())
}

/// Whether `path` names stdin.
pub(crate) fn is_stdin(path: &Path) -> bool {
    path.as_os_str() == "-"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_and_query_decoding() {
        assert_eq!(percent_decode("/state/a.b/c%3Aid%2Fx"), "/state/a.b/c:id/x");
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%4"), "%4");
        let q = query_pairs("key=kim+lee&ingress=com.example%2Fshop");
        assert_eq!(q["key"], "kim lee");
        assert_eq!(q["ingress"], "com.example/shop");
    }
}
