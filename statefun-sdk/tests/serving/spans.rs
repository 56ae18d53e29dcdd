//! The `statefun.http` span each request runs in: what it records, read
//! back by a subscriber written for the test; and the line the server logs
//! when it starts.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http::{Request, StatusCode};
use http_body_util::{BodyExt, Full};
use stateful_functions::{RequestReplyService, Server};
use tower_service::Service;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Metadata, Subscriber};
use tracing_core::span::Current;

use crate::fixture::{count, fixture, request};

/// The fields of every `statefun.http` span, as text, in creation order,
/// and the spans entered (one thread uses the subscriber).
#[derive(Default, Clone)]
struct Spans {
    next: Arc<AtomicU64>,
    spans: Arc<Mutex<BTreeMap<u64, BTreeMap<String, String>>>>,
    metadata: Arc<Mutex<BTreeMap<u64, &'static Metadata<'static>>>>,
    entered: Arc<Mutex<Vec<u64>>>,
    /// The fields of every event (its text as `message`) and its level.
    events: Arc<Mutex<Vec<Logged>>>,
}

/// An event: its level and fields (its text as `message`).
type Logged = (tracing::Level, BTreeMap<String, String>);

struct Fields<'a>(&'a mut BTreeMap<String, String>);

impl Visit for Fields<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.0.insert(field.name().to_owned(), format!("{value:?}"));
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_owned(), value.to_owned());
    }
}

impl Subscriber for Spans {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }

    fn new_span(&self, span: &Attributes<'_>) -> Id {
        let id = self.next.fetch_add(1, Ordering::Relaxed) + 1;
        self.metadata.lock().unwrap().insert(id, span.metadata());
        if span.metadata().name() == "statefun.http" {
            let mut fields = BTreeMap::new();
            span.record(&mut Fields(&mut fields));
            self.spans.lock().unwrap().insert(id, fields);
        }
        Id::from_u64(id)
    }

    fn record(&self, span: &Id, values: &Record<'_>) {
        if let Some(fields) = self.spans.lock().unwrap().get_mut(&span.into_u64()) {
            values.record(&mut Fields(fields));
        }
    }

    fn record_follows_from(&self, _: &Id, _: &Id) {}

    fn event(&self, event: &Event<'_>) {
        let mut fields = BTreeMap::new();
        event.record(&mut Fields(&mut fields));
        self.events
            .lock()
            .unwrap()
            .push((*event.metadata().level(), fields));
    }

    fn enter(&self, span: &Id) {
        self.entered.lock().unwrap().push(span.into_u64());
    }

    fn exit(&self, span: &Id) {
        let mut entered = self.entered.lock().unwrap();
        if let Some(at) = entered.iter().rposition(|&id| id == span.into_u64()) {
            entered.remove(at);
        }
    }

    /// What `Span::current()` finds: the span entered last.
    fn current_span(&self) -> Current {
        let Some(&id) = self.entered.lock().unwrap().last() else {
            return Current::none();
        };
        match self.metadata.lock().unwrap().get(&id) {
            Some(metadata) => Current::new(Id::from_u64(id), metadata),
            None => Current::none(),
        }
    }
}

/// Answers `body` through the service on a runtime of this thread, with
/// `spans` as the thread's subscriber; the status, body and the span.
fn answer(body: Bytes) -> (StatusCode, Bytes, BTreeMap<String, String>) {
    let spans = Spans::default();
    let (status, body) = tracing::subscriber::with_default(spans.clone(), || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let mut service = RequestReplyService::new(fixture().handler);
            let request = Request::post("/statefun")
                .header("content-type", "application/octet-stream")
                .body(Full::new(body))
                .unwrap();
            let response = service.call(request).await.unwrap();
            let status = response.status();
            (
                status,
                response.into_body().collect().await.unwrap().to_bytes(),
            )
        })
    });
    let mut recorded = spans.spans.lock().unwrap();
    assert_eq!(recorded.len(), 1, "one statefun.http span per request");
    let (_, fields) = recorded.pop_first().unwrap();
    (status, body, fields)
}

#[test]
fn the_span_names_the_function_the_address_and_the_outcome() {
    let (status, body, span) = answer(request("test/counter", "user-7", 5));
    assert_eq!(status, StatusCode::OK);
    assert_eq!(count(&body), 15);
    assert_eq!(span["method"], "POST");
    assert_eq!(span["path"], "/statefun");
    assert_eq!(span["function_type"], "test/counter");
    assert_eq!(span["id"], "user-7");
    assert_eq!(span["batch_size"], "1");
    assert_eq!(span["status"], "200");
    assert_eq!(span["outcome"], "ok");
    assert!(span["duration_ms"].parse::<u64>().is_ok(), "{span:?}");
}

#[test]
fn failures_are_recorded_on_the_span() {
    // The function fails on -1: the address is known, the outcome failed.
    let (status, _, span) = answer(request("test/counter", "user-8", -1));
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(span["function_type"], "test/counter");
    assert_eq!(span["id"], "user-8");
    assert_eq!(span["status"], "500");
    assert_eq!(span["outcome"], "failed");

    // An unknown function type: rejected before any function runs.
    let (status, _, span) = answer(request("test/nobody", "user-9", 1));
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(span["status"], "404");
    assert_eq!(span["outcome"], "rejected");
    assert!(!span.contains_key("batch_size"), "{span:?}");
}

#[test]
fn the_server_logs_one_info_line_with_its_address_and_function_types() {
    let spans = Spans::default();
    let address = tracing::subscriber::with_default(spans.clone(), || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let bound = Server::new(fixture().handler)
                .bind("127.0.0.1:0")
                .await
                .unwrap();
            let address = bound.local_addr().unwrap();
            // Stops at once: the line is logged before the first accept.
            bound.serve_until(async {}).await.unwrap();
            address
        })
    });
    let events = spans.events.lock().unwrap();
    let listening: Vec<_> = events
        .iter()
        .filter(|(_, fields)| fields["message"] == "StateFun server listening")
        .collect();
    assert_eq!(listening.len(), 1, "{events:?}");
    let (level, fields) = listening[0];
    assert_eq!(*level, tracing::Level::INFO);
    assert_eq!(fields["address"], address.to_string());
    assert_eq!(fields["function_types"], "test/counter");
}
