//! Lambda events through the real `lambda_http` path: JSON events with
//! base64 protobuf bodies in, `LambdaResponse` JSON out.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use lambda_http::request::LambdaRequest;
use lambda_http::{Adapter, Context, LambdaEvent, Service};

use crate::fixture::{count, fixture};

/// Runs one event file and returns the response as JSON.
async fn invoke(event: &str) -> serde_json::Value {
    let request: LambdaRequest = serde_json::from_str(event).expect("a Lambda HTTP event");
    let service = stateful_functions::lambda::service(fixture().handler);
    let mut adapter = Adapter::from(service);
    let response = adapter
        .call(LambdaEvent::new(request, Context::default()))
        .await
        .expect("a response");
    serde_json::to_value(&response).unwrap()
}

fn check_binary_ok(response: &serde_json::Value) {
    assert_eq!(response["statusCode"], 200, "{response}");
    assert_eq!(response["isBase64Encoded"], true, "{response}");
    let content_type = response["headers"]["content-type"]
        .as_str()
        .or_else(|| response["multiValueHeaders"]["content-type"][0].as_str());
    assert_eq!(content_type, Some("application/octet-stream"), "{response}");
    let body = STANDARD.decode(response["body"].as_str().unwrap()).unwrap();
    // count = 10 in the fixture request, message 5.
    assert_eq!(count(&body), 15);
}

#[tokio::test]
async fn function_url() {
    check_binary_ok(&invoke(include_str!("events/function-url.json")).await);
}

#[tokio::test]
async fn api_gateway_http_api() {
    check_binary_ok(&invoke(include_str!("events/apigw-http-v2.json")).await);
}

#[tokio::test]
async fn api_gateway_rest_api() {
    check_binary_ok(&invoke(include_str!("events/apigw-rest-v1.json")).await);
}

#[tokio::test]
async fn application_load_balancer() {
    check_binary_ok(&invoke(include_str!("events/alb.json")).await);
}

#[tokio::test]
async fn a_failing_function_is_a_500_with_a_text_reason() {
    let event = include_str!("events/function-url.json").replace(
        include_str!("events/body.b64").trim(),
        include_str!("events/failing-body.b64").trim(),
    );
    let response = invoke(&event).await;
    assert_eq!(response["statusCode"], 500, "{response}");
    assert_eq!(response["isBase64Encoded"], false, "{response}");
    let body = response["body"].as_str().unwrap();
    assert!(body.contains("refusing -1"), "{body}");
}
