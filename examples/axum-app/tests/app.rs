//! The application's own route and the StateFun route, over real HTTP.

// A failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Method, Request, StatusCode};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use prost::Message as _;
use statefun_protocol::reqreply::{Address, FromFunction, ToFunction, to_function};

#[tokio::test]
async fn serves_its_own_routes_and_statefun_side_by_side() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, axum_app::app().unwrap()).await });
    let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new()).build_http();

    let health = client
        .get(format!("http://{addr}/health").parse().unwrap())
        .await
        .unwrap();
    assert_eq!(health.status(), StatusCode::OK);

    // A greeter request without state: the handshake answer.
    let body = ToFunction {
        request: Some(to_function::Request::Invocation(
            to_function::InvocationBatchRequest {
                target: Some(Address {
                    namespace: "example".into(),
                    r#type: "greeter".into(),
                    id: "Kim".into(),
                }),
                ..Default::default()
            },
        )),
    }
    .encode_to_vec();
    let request = Request::builder()
        .method(Method::POST)
        .uri(format!("http://{addr}/statefun"))
        .header("content-type", "application/octet-stream")
        .body(Full::new(Bytes::from(body)))
        .unwrap();
    let response = client.request(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers()["content-type"],
        "application/octet-stream"
    );
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    assert!(FromFunction::decode(bytes).unwrap().response.is_some());
}
