//! The service: the router through `oneshot`, and a real server on port 0.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use gridpatrol::http::router;
use gridpatrol::spatial::crs::Crs;
use serde_json::{Value, json};
use tower::ServiceExt;

use crate::support::{TestApp, TinyRegion, code};

async fn call(app: &TestApp, method: &str, uri: &str, body: Option<Value>) -> (StatusCode, Value) {
    let request = Request::builder()
        .method(method)
        .uri(uri)
        .header("content-type", "application/json");
    let request = match body {
        Some(b) => request.body(Body::from(b.to_string())).unwrap(),
        None => request.body(Body::empty()).unwrap(),
    };
    let response = router(app.arc()).oneshot(request).await.unwrap();
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .unwrap();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

fn imported() -> (TestApp, TinyRegion) {
    let t = TestApp::new("2026-06-15");
    let region = TinyRegion::new();
    t.app
        .import_region(region.path(), Crs::Wgs84, "test")
        .unwrap();
    (t, region)
}

#[tokio::test]
async fn health_and_summary() {
    let (t, _r) = imported();
    let (status, body) = call(&t, "GET", "/healthz", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["status"], "ok");
    let (_, body) = call(&t, "GET", "/", None).await;
    let region = &body["regions"][0];
    assert_eq!(region["code"], "tiny");
    assert_eq!(region["businesses"], 4);
    assert_eq!(
        region["classes"],
        json!({ "A": 2, "B": 1, "C": 0, "D": 1, "unclassified": 0 })
    );
}

#[tokio::test]
async fn a_business_with_reasons_then_an_event_that_changes_its_class() {
    let (t, _r) = imported();
    let uri = format!("/api/businesses/{}", code(1));
    let (status, body) = call(&t, "GET", &uri, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["effective_class"], "A");
    assert_eq!(body["live"]["reasons"][0]["rule"], "clean");

    let event = json!({ "actor": "officer O2", "type": "violation", "date": "2026-06-10", "severity": "general", "suspended": false, "revoked": false, "note": "no purchase ledger" });
    let (status, body) = call(&t, "POST", &format!("{uri}/events"), Some(event)).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["effective_class"], "C");
    assert_eq!(body["history"].as_array().unwrap().len(), 2);

    let (status, body) = call(&t, "GET", "/api/businesses?class=C", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["businesses"][0]["id"], code(1));
}

#[tokio::test]
async fn bad_requests_get_useful_messages() {
    let (t, _r) = imported();
    let (status, body) = call(&t, "GET", "/api/businesses/nobody", None).await;
    assert_eq!(
        (status, body["error"].as_str().unwrap()),
        (StatusCode::NOT_FOUND, "business 'nobody' not found")
    );
    let uri = format!("/api/businesses/{}/events", code(1));
    let (status, body) = call(
        &t,
        "POST",
        &uri,
        Some(json!({ "actor": "x", "type": "violation", "date": "soon" })),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        body["error"].as_str().unwrap().starts_with("request body:"),
        "{body}"
    );
    let (status, body) = call(
        &t,
        "POST",
        &format!("/api/businesses/{}/override", code(1)),
        Some(json!({ "class": "E", "reason": "r", "expires_on": "2026-07-01", "actor": "chief" })),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        body["error"],
        "class: unknown risk class 'E' (expected A, B, C or D)"
    );
}

#[tokio::test]
async fn a_real_server_on_port_zero() {
    let (t, _r) = imported();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(axum::serve(listener, router(t.arc())).into_future());
    let body: Value = reqwest::get(format!("http://{addr}/"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body["regions"][0]["units"], 2);
    let response = reqwest::get(format!("http://{addr}/api/businesses/{}", code(4)))
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["effective_class"], "D");
    server.abort();
}
