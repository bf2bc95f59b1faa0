//! The events a request publishes continue the request's trace: the caller's, or a new one.

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use serde_json::json;

use crate::helpers::{token, TestApi};

async fn outbox_traceparents(api: &TestApi) -> Vec<Option<String>> {
    sqlx::query_scalar("SELECT traceparent FROM outbox ORDER BY created_at")
        .fetch_all(&api.db.pool)
        .await
        .expect("outbox")
}

fn post(uri: &str, body: serde_json::Value, traceparent: Option<&str>) -> Request<Body> {
    let mut request = Request::post(uri)
        .header(header::AUTHORIZATION, format!("Bearer {}", token("ada")))
        .header(header::CONTENT_TYPE, "application/json");
    if let Some(traceparent) = traceparent {
        request = request.header("traceparent", traceparent);
    }
    request
        .body(Body::from(body.to_string()))
        .expect("a request")
}

#[tokio::test]
async fn a_published_event_carries_the_requests_trace() {
    let api = TestApi::new().await;
    let caller = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    let dashboard = json!({"name": "Traced", "tickers": ["AAPL"]});
    let reply = api
        .send(post("/v1/dashboards", dashboard, Some(caller)))
        .await;
    assert_eq!(reply.status, StatusCode::CREATED);
    let email = json!({"to": ["bob@example.com"], "subject": "Traced", "body": "b"});
    let reply = api.send(post("/v1/emails", email, None)).await;
    assert_eq!(reply.status, StatusCode::ACCEPTED);

    let traceparents = outbox_traceparents(&api).await;
    assert_eq!(traceparents.len(), 2);
    let continued = traceparents[0].as_deref().expect("a traceparent");
    assert!(
        continued.starts_with("00-4bf92f3577b34da6a3ce929d0e0e4736-"),
        "the caller's trace: {continued}"
    );
    let started = traceparents[1].as_deref().expect("a traceparent");
    let parts: Vec<&str> = started.split('-').collect();
    assert_eq!(parts.len(), 4, "{started}");
    assert_eq!(parts[1].len(), 32, "a new trace: {started}");
    assert_ne!(parts[1], "4bf92f3577b34da6a3ce929d0e0e4736");
}

#[tokio::test]
async fn metrics_count_requests_by_route_never_by_id() {
    let api = TestApi::new().await;
    let created = api.create("ada", "Counted").await;
    let id = created["id"].as_str().expect("an id").to_owned();
    let read = api
        .call(
            axum::http::Method::GET,
            &format!("/v1/dashboards/{id}"),
            Some("ada"),
            None,
        )
        .await;
    assert_eq!(read.status, StatusCode::OK);
    let metrics = api
        .send(
            Request::get("/metrics")
                .body(Body::empty())
                .expect("a request"),
        )
        .await;
    assert_eq!(metrics.status, StatusCode::OK);
    let text = metrics.body.as_str().expect("the exposition").to_owned();
    assert!(
        text.contains(
            r#"lzstock_http_requests_total{method="POST",route="/v1/dashboards",status="201"}"#
        ),
        "{text}"
    );
    assert!(
        text.contains(r#"route="/v1/dashboards/{id}",status="200""#),
        "{text}"
    );
    assert!(!text.contains(&id), "no id becomes a label value");
}
