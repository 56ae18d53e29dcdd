//! The built binary started as its deployments start it: with no
//! arguments. Off Lambda it prints the walkthrough; on Lambda (started by
//! `cargo lambda build`'s `bootstrap` with `AWS_LAMBDA_RUNTIME_API` set) it
//! serves Function URL events through a local Lambda Runtime API.

// Helpers outside `#[test]` functions panic on purpose: a failed unwrap is
// a failed test.
#![allow(clippy::unwrap_used)]

use std::process::{Command, Stdio};

/// The binary under test, built with this test's features.
const BINARY: &str = env!("CARGO_BIN_EXE_shopping-cart");

#[test]
fn with_no_arguments_off_lambda_it_prints_the_walkthrough() {
    let output = Command::new(BINARY)
        .env_remove("AWS_LAMBDA_RUNTIME_API")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{}: {stderr}", output.status);
    assert!(
        stdout.contains("cart:Kim items = {\"socks\": 2}"),
        "{stdout}"
    );
}

/// A build without the feature would print the walkthrough and exit 0,
/// which Lambda takes for a runtime that quit: it must fail loudly instead.
#[cfg(not(feature = "lambda"))]
#[test]
fn without_the_lambda_feature_it_refuses_to_start_on_lambda() {
    let output = Command::new(BINARY)
        // Never contacted: the binary stops before.
        .env("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{stdout}");
    assert!(stdout.is_empty(), "{stdout}");
    assert!(stderr.contains("--features lambda"), "{stderr}");
}

#[cfg(feature = "lambda")]
mod on_lambda {
    //! A local Lambda Runtime API, as AWS documents it
    //! (<https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html>):
    //! `GET /2018-06-01/runtime/invocation/next` hands out an event with
    //! the `Lambda-Runtime-*` headers, `POST …/invocation/{id}/response`
    //! takes the answer, `…/{id}/error` and `/runtime/init/error` a failure.

    use std::collections::VecDeque;
    use std::convert::Infallible;
    use std::process::{Child, Command, Stdio};
    use std::sync::{Arc, Mutex};
    use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD;
    use bytes::Bytes;
    use http_body_util::{BodyExt as _, Full};
    use hyper::body::Incoming;
    use hyper::{Method, Request, Response, StatusCode};
    use hyper_util::rt::TokioIo;
    use serde_json::json;
    use shopping_cart::{InventoryState, Restock};
    use stateful_functions::Value;
    use statefun_protocol::prost::Message as _;
    use statefun_protocol::reqreply::{
        Address, FromFunction, ToFunction, TypedValue, from_function, to_function,
    };
    use tokio::net::TcpListener;
    use tokio::sync::mpsc;

    use super::BINARY;

    const FUNCTION_ARN: &str = "arn:aws:lambda:us-east-1:123456789012:function:shopping-cart";

    /// What the function did on the Runtime API.
    #[derive(Debug)]
    enum Call {
        /// Asked for the next event.
        Next,
        /// Answered the event with this request id.
        Response { request_id: String, body: Bytes },
        /// Reported a failure (`/error`, `/init/error`) or called a path
        /// the Runtime API does not have.
        Failure { path: String, body: String },
    }

    /// The Runtime API's state: the events not handed out yet, and where
    /// the calls go.
    struct RuntimeApi {
        events: Mutex<VecDeque<(String, serde_json::Value)>>,
        calls: mpsc::UnboundedSender<Call>,
    }

    impl RuntimeApi {
        /// Serves `events` on a free port; returns the port and the calls.
        async fn start(
            events: Vec<(String, serde_json::Value)>,
        ) -> (u16, mpsc::UnboundedReceiver<Call>) {
            let (calls, received) = mpsc::unbounded_channel();
            let api = Arc::new(Self {
                events: Mutex::new(events.into()),
                calls,
            });
            let listener = TcpListener::bind(("127.0.0.1", 0)).await.unwrap();
            let port = listener.local_addr().unwrap().port();
            tokio::spawn(async move {
                while let Ok((stream, _)) = listener.accept().await {
                    let api = Arc::clone(&api);
                    tokio::spawn(async move {
                        let service = hyper::service::service_fn(move |request| {
                            let api = Arc::clone(&api);
                            async move { api.answer(request).await }
                        });
                        // A connection the function drops at exit ends here.
                        let _ = hyper::server::conn::http1::Builder::new()
                            .serve_connection(TokioIo::new(stream), service)
                            .await;
                    });
                }
            });
            (port, received)
        }

        async fn answer(
            &self,
            request: Request<Incoming>,
        ) -> Result<Response<Full<Bytes>>, Infallible> {
            let path = request.uri().path().to_owned();
            let method = request.method().clone();
            let body = request.into_body().collect().await.map_or_else(
                |e| Bytes::from(format!("unreadable body: {e}")),
                |b| b.to_bytes(),
            );
            let invocation = path.strip_prefix("/2018-06-01/runtime/invocation/");
            match (method, invocation) {
                (Method::GET, Some("next")) => {
                    let _ = self.calls.send(Call::Next);
                    let next = self.events.lock().unwrap().pop_front();
                    let Some((request_id, event)) = next else {
                        // No more events: a long poll that never ends, as
                        // on Lambda between invocations.
                        std::future::pending::<()>().await;
                        unreachable!("pending() never completes");
                    };
                    let deadline = SystemTime::now()
                        .checked_add(Duration::from_secs(300))
                        .unwrap()
                        .duration_since(UNIX_EPOCH)
                        .unwrap()
                        .as_millis();
                    Ok(Response::builder()
                        .header("Content-Type", "application/json")
                        .header("Lambda-Runtime-Aws-Request-Id", &request_id)
                        .header("Lambda-Runtime-Deadline-Ms", deadline.to_string())
                        .header("Lambda-Runtime-Invoked-Function-Arn", FUNCTION_ARN)
                        .header(
                            "Lambda-Runtime-Trace-Id",
                            "Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;Parent=9a9197af755a6419;Sampled=1",
                        )
                        .body(Full::new(Bytes::from(event.to_string())))
                        .unwrap())
                }
                (Method::POST, Some(rest)) if rest.ends_with("/response") => {
                    let request_id = rest.trim_end_matches("/response").to_owned();
                    let _ = self.calls.send(Call::Response { request_id, body });
                    Ok(accepted())
                }
                _ => {
                    // `…/{id}/error`, `/runtime/init/error`, or anything else.
                    let _ = self.calls.send(Call::Failure {
                        path,
                        body: String::from_utf8_lossy(&body).into_owned(),
                    });
                    Ok(accepted())
                }
            }
        }
    }

    fn accepted() -> Response<Full<Bytes>> {
        Response::builder()
            .status(StatusCode::ACCEPTED)
            .header("Content-Type", "application/json")
            .body(Full::new(Bytes::from_static(br#"{"status":"OK"}"#)))
            .unwrap()
    }

    /// A Lambda Function URL event (payload format 2.0) carrying `body`, as
    /// the StateFun runtime's `POST` arrives through a Function URL.
    fn function_url_event(request_id: &str, body: &[u8]) -> serde_json::Value {
        json!({
            "version": "2.0",
            "routeKey": "$default",
            "rawPath": "/statefun",
            "rawQueryString": "",
            "headers": {
                "content-type": "application/octet-stream",
                "content-length": body.len().to_string(),
                "host": "abcdefghijklmnopqrstuvwxyz012345.lambda-url.us-east-1.on.aws",
                "user-agent": "okhttp/3.14.9",
                "x-amzn-trace-id": "Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700",
                "x-forwarded-for": "203.0.113.7",
                "x-forwarded-port": "443",
                "x-forwarded-proto": "https"
            },
            "requestContext": {
                "accountId": "anonymous",
                "apiId": "abcdefghijklmnopqrstuvwxyz012345",
                "domainName": "abcdefghijklmnopqrstuvwxyz012345.lambda-url.us-east-1.on.aws",
                "domainPrefix": "abcdefghijklmnopqrstuvwxyz012345",
                "http": {
                    "method": "POST",
                    "path": "/statefun",
                    "protocol": "HTTP/1.1",
                    "sourceIp": "203.0.113.7",
                    "userAgent": "okhttp/3.14.9"
                },
                "requestId": request_id,
                "routeKey": "$default",
                "stage": "$default",
                "time": "23/Nov/2026:23:00:00 +0000",
                "timeEpoch": 1_795_474_800_000_u64
            },
            "body": STANDARD.encode(body),
            "isBase64Encoded": true
        })
    }

    fn typed<T: Value>(value: &T) -> TypedValue {
        TypedValue {
            typename: T::type_name().as_str().to_owned(),
            has_value: true,
            value: value.to_bytes().unwrap(),
        }
    }

    /// `Restock { socks, 10 }` for `com.example/inventory:socks`, with
    /// `state` as the runtime knows it.
    fn restock_socks(state: Vec<to_function::PersistedValue>) -> Vec<u8> {
        let restock = Restock {
            item_id: "socks".into(),
            quantity: 10,
        };
        ToFunction {
            request: Some(to_function::Request::Invocation(
                to_function::InvocationBatchRequest {
                    target: Some(Address {
                        namespace: "com.example".into(),
                        r#type: "inventory".into(),
                        id: "socks".into(),
                    }),
                    state,
                    invocations: vec![to_function::Invocation {
                        caller: None,
                        argument: Some(typed(&restock)),
                    }],
                },
            )),
        }
        .encode_to_vec()
    }

    /// The `FromFunction` inside a Function URL response.
    fn from_function(response: &[u8]) -> from_function::Response {
        let response: serde_json::Value = serde_json::from_slice(response).unwrap();
        assert_eq!(response["statusCode"], 200, "{response}");
        assert_eq!(response["isBase64Encoded"], true, "{response}");
        assert_eq!(
            response["headers"]["content-type"], "application/octet-stream",
            "{response}"
        );
        let body = STANDARD.decode(response["body"].as_str().unwrap()).unwrap();
        FromFunction::decode(body.as_slice())
            .unwrap()
            .response
            .unwrap()
    }

    /// Kills the function when the test ends, however it ends.
    struct Running(Child);

    impl Drop for Running {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }

    impl Running {
        /// Panics, with the function's output, if it has exited.
        fn assert_alive(&mut self, waiting_for: &str) {
            if let Some(status) = self.0.try_wait().unwrap() {
                let mut stdout = String::new();
                let mut stderr = String::new();
                if let Some(mut out) = self.0.stdout.take() {
                    let _ = std::io::Read::read_to_string(&mut out, &mut stdout);
                }
                if let Some(mut err) = self.0.stderr.take() {
                    let _ = std::io::Read::read_to_string(&mut err, &mut stderr);
                }
                panic!(
                    "the function exited ({status}) while the test waited for {waiting_for}\n\
                     stdout:\n{stdout}\nstderr:\n{stderr}"
                );
            }
        }
    }

    /// The next call on the Runtime API, failing on a reported failure, an
    /// exit, or a minute of silence.
    async fn next_call(
        calls: &mut mpsc::UnboundedReceiver<Call>,
        function: &mut Running,
        waiting_for: &str,
    ) -> Call {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            function.assert_alive(waiting_for);
            assert!(Instant::now() < deadline, "no {waiting_for} within 60 s");
            match tokio::time::timeout(Duration::from_millis(50), calls.recv()).await {
                Ok(Some(Call::Failure { path, body })) => {
                    panic!("the function called {path} while we waited for {waiting_for}: {body}")
                }
                Ok(Some(call)) => return call,
                Ok(None) => unreachable!("the Runtime API outlives the test"),
                Err(_) => {}
            }
        }
    }

    async fn response(
        calls: &mut mpsc::UnboundedReceiver<Call>,
        function: &mut Running,
        expected_id: &str,
    ) -> from_function::Response {
        let call = next_call(calls, function, "a /next call").await;
        assert!(matches!(call, Call::Next), "{call:?}");
        match next_call(calls, function, "the response").await {
            Call::Response { request_id, body } => {
                assert_eq!(request_id, expected_id);
                from_function(&body)
            }
            other => panic!("expected the response to {expected_id}, got {other:?}"),
        }
    }

    /// `cargo lambda build` makes the binary Lambda's `bootstrap`, which
    /// Lambda starts with no arguments; it must poll the Runtime API and
    /// answer the runtime's requests, not print the walkthrough and exit.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn with_no_arguments_on_lambda_it_answers_function_url_events() {
        let (stock_spec, reserved_spec) = (InventoryState::STOCK, InventoryState::RESERVED);
        let (stock, reserved) = (stock_spec.name(), reserved_spec.name());
        // The runtime's first request to a function type declares no state;
        // the function answers with the states it needs, and the runtime
        // sends the batch again with them (spec §3, the handshake).
        let first = function_url_event("e0fbe8f8-first", &restock_socks(vec![]));
        let with_state = restock_socks(vec![
            to_function::PersistedValue {
                state_name: stock.to_owned(),
                state_value: Some(typed(&5_i32)),
            },
            to_function::PersistedValue {
                state_name: reserved.to_owned(),
                state_value: Some(TypedValue {
                    typename: i32::type_name().as_str().to_owned(),
                    has_value: false,
                    value: Bytes::new(),
                }),
            },
        ]);
        let second = function_url_event("4b1f3c2d-second", &with_state);
        let (port, mut calls) = RuntimeApi::start(vec![
            ("e0fbe8f8-first".into(), first),
            ("4b1f3c2d-second".into(), second),
        ])
        .await;

        let mut function = Running(
            Command::new(BINARY)
                .env("AWS_LAMBDA_RUNTIME_API", format!("127.0.0.1:{port}"))
                .env("AWS_LAMBDA_FUNCTION_NAME", "shopping-cart")
                .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
                .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
                .env("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/shopping-cart")
                .env(
                    "AWS_LAMBDA_LOG_STREAM_NAME",
                    "2026/11/23/[$LATEST]0123456789abcdef",
                )
                .env_remove("AWS_LAMBDA_MAX_CONCURRENCY")
                .env_remove("AWS_LAMBDA_INITIALIZATION_TYPE")
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap(),
        );

        match response(&mut calls, &mut function, "e0fbe8f8-first").await {
            from_function::Response::IncompleteInvocationContext(incomplete) => {
                let mut missing: Vec<(&str, &str)> = incomplete
                    .missing_values
                    .iter()
                    .map(|spec| (spec.state_name.as_str(), spec.type_typename.as_str()))
                    .collect();
                missing.sort_unstable();
                let int = i32::type_name();
                let mut expected = vec![(reserved, int.as_str()), (stock, int.as_str())];
                expected.sort_unstable();
                assert_eq!(missing, expected);
            }
            other @ from_function::Response::InvocationResult(_) => {
                panic!("expected the states to register, got {other:?}")
            }
        }

        match response(&mut calls, &mut function, "4b1f3c2d-second").await {
            from_function::Response::InvocationResult(result) => {
                let mutations: Vec<(&str, i32)> = result
                    .state_mutations
                    .iter()
                    .map(|m| {
                        let value = m.state_value.as_ref().unwrap();
                        assert_eq!(value.typename, i32::type_name().as_str());
                        (
                            m.state_name.as_str(),
                            i32::from_bytes(&value.value).unwrap(),
                        )
                    })
                    .collect();
                // 5 in stock, 10 restocked.
                assert_eq!(mutations, vec![(stock, 15)]);
                assert!(result.outgoing_messages.is_empty(), "{result:?}");
            }
            other @ from_function::Response::IncompleteInvocationContext(_) => {
                panic!("expected the restock's result, got {other:?}")
            }
        }

        // And it keeps serving: it asks for the next event.
        let call = next_call(&mut calls, &mut function, "a third /next call").await;
        assert!(matches!(call, Call::Next), "{call:?}");
        function.assert_alive("the end of the test");
    }

    /// Lambda's environment without a variable the runtime client needs:
    /// a one-line error naming it and a failed exit, not a panic.
    #[test]
    fn an_incomplete_lambda_environment_is_an_error_naming_the_variable() {
        let output = Command::new(BINARY)
            // Never contacted: the binary stops before.
            .env("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9")
            .env_remove("AWS_LAMBDA_FUNCTION_NAME")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .stdin(Stdio::null())
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{stderr}");
        assert!(stdout.is_empty(), "{stdout}");
        assert!(stderr.contains("AWS_LAMBDA_FUNCTION_NAME"), "{stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
}
