//! The proto service over the Connect protocol, in-process: same usecases, same error codes.

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{token, Reply, TestApi};

async fn rpc(api: &TestApi, method: &str, user: Option<&str>, body: Value) -> Reply {
    let mut request = Request::post(format!("/lzstock.v1.DashboardService/{method}"))
        .header(header::CONTENT_TYPE, "application/json");
    if let Some(user) = user {
        request = request.header(header::AUTHORIZATION, format!("Bearer {}", token(user)));
    }
    api.send(
        request
            .body(Body::from(body.to_string()))
            .expect("a request"),
    )
    .await
}

#[tokio::test]
async fn the_dashboard_service_speaks_connect_json() {
    let api = TestApi::new().await;
    let created = rpc(
        &api,
        "CreateDashboard",
        Some("ada"),
        json!({"name": "Via Connect", "tickers": ["AAPL"], "indicators": ["eps_diluted"]}),
    )
    .await;
    assert_eq!(created.status, StatusCode::OK, "{}", created.body);
    let dashboard = &created.body["dashboard"];
    assert_eq!(dashboard["ownerId"], "ada");
    assert_eq!(dashboard["tickers"], json!(["AAPL"]));
    assert!(dashboard["createdAt"].as_str().unwrap().ends_with('Z'));
    let id = dashboard["id"].as_str().unwrap();

    let read = rpc(&api, "GetDashboard", Some("ada"), json!({"id": id})).await;
    assert_eq!(read.body["dashboard"], *dashboard);

    // REST sees what Connect wrote: one core behind both transports.
    let rest = api
        .call(
            axum::http::Method::GET,
            &format!("/v1/dashboards/{id}"),
            Some("ada"),
            None,
        )
        .await;
    assert_eq!(rest.body["name"], "Via Connect");

    let listed = rpc(&api, "ListDashboards", Some("ada"), json!({"size": 5})).await;
    assert_eq!(
        listed.body["total"], "1",
        "uint64 is a string in proto3 JSON"
    );
    assert_eq!(listed.body["size"], 5);

    let deleted = rpc(&api, "DeleteDashboard", Some("ada"), json!({"id": id})).await;
    assert_eq!(deleted.status, StatusCode::OK);
    let gone = rpc(&api, "GetDashboard", Some("ada"), json!({"id": id})).await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND);
    assert_eq!(gone.body["code"], "not_found");
}

#[tokio::test]
async fn connect_errors_carry_the_same_codes_as_rest() {
    let api = TestApi::new().await;
    let invalid = rpc(
        &api,
        "CreateDashboard",
        Some("ada"),
        json!({"name": "", "tickers": ["AAPL"]}),
    )
    .await;
    assert_eq!(invalid.status, StatusCode::BAD_REQUEST);
    assert_eq!(invalid.body["code"], "invalid_argument");
    assert!(invalid.body["message"]
        .as_str()
        .unwrap()
        .starts_with("name:"));

    let anonymous = rpc(&api, "ListDashboards", None, json!({})).await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
    assert_eq!(anonymous.body["code"], "unauthenticated");

    let created = rpc(
        &api,
        "CreateDashboard",
        Some("ada"),
        json!({"name": "A", "tickers": ["AAPL"]}),
    )
    .await;
    let id = created.body["dashboard"]["id"].as_str().unwrap().to_owned();
    let foreign = rpc(&api, "GetDashboard", Some("bob"), json!({"id": id})).await;
    assert_eq!(foreign.status, StatusCode::NOT_FOUND);

    let bad_page = rpc(&api, "ListDashboards", Some("ada"), json!({"size": 500})).await;
    assert_eq!(bad_page.body["code"], "invalid_argument");
}

#[tokio::test]
async fn a_message_over_one_mebibyte_is_refused() {
    let api = TestApi::new().await;
    let huge = json!({"name": "x".repeat(1024 * 1024), "tickers": ["AAPL"]});
    let reply = rpc(&api, "CreateDashboard", Some("ada"), huge).await;
    assert_eq!(reply.body["code"], "resource_exhausted", "{}", reply.body);
}
