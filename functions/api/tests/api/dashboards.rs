use axum::http::{Method, StatusCode};
use serde_json::json;

use crate::helpers::TestApi;

#[tokio::test]
async fn a_dashboard_is_created_read_listed_and_deleted() {
    let api = TestApi::new().await;
    let reply = api
        .call(
            Method::POST,
            "/v1/dashboards",
            Some("ada"),
            Some(json!({"name": "  Tech  ", "tickers": ["AAPL", "BRK.B"], "indicators": ["net_margin", "eps_diluted"]})),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED);
    let id = reply.body["id"].as_str().unwrap().to_owned();
    assert_eq!(reply.headers["location"], format!("/v1/dashboards/{id}"));
    assert_eq!(reply.body["name"], "Tech");
    assert_eq!(reply.body["ownerId"], "ada");
    assert_eq!(reply.body["tickers"], json!(["AAPL", "BRK.B"]));
    assert_eq!(
        reply.body["indicators"],
        json!(["net_margin", "eps_diluted"])
    );

    let read = api
        .call(
            Method::GET,
            &format!("/v1/dashboards/{id}"),
            Some("ada"),
            None,
        )
        .await;
    assert_eq!(read.status, StatusCode::OK);
    let mut dashboard = read.body.clone();
    let companies = dashboard
        .as_object_mut()
        .and_then(|d| d.remove("companies"))
        .expect("the companies' indicators");
    assert_eq!(dashboard, reply.body);
    // Per ticker, the dashboard's indicators in its order; nothing synced, so each says why.
    assert_eq!(companies[0]["ticker"], "AAPL");
    assert_eq!(companies[1]["ticker"], "BRK.B");
    assert_eq!(companies[0]["indicators"][0]["indicator"], "net_margin");
    assert_eq!(companies[0]["indicators"][1]["indicator"], "eps_diluted");
    assert_eq!(companies[0]["indicators"][0]["available"], false);
    assert!(companies[0]["indicators"][0]["reason"]
        .as_str()
        .is_some_and(|r| r.contains("no facts of AAPL")));

    let listed = api
        .call(Method::GET, "/v1/dashboards", Some("ada"), None)
        .await;
    assert_eq!(listed.status, StatusCode::OK);
    assert_eq!(listed.body["total"], 1);
    assert_eq!(listed.body["items"][0], reply.body);

    let deleted = api
        .call(
            Method::DELETE,
            &format!("/v1/dashboards/{id}"),
            Some("ada"),
            None,
        )
        .await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    let gone = api
        .call(
            Method::GET,
            &format!("/v1/dashboards/{id}"),
            Some("ada"),
            None,
        )
        .await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND);
    assert_eq!(gone.body["code"], "not_found");

    let events: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM outbox WHERE subject = 'lzstock.dashboards.created'",
    )
    .fetch_one(&api.db.pool)
    .await
    .unwrap();
    assert_eq!(events, 1, "the creation was announced through the outbox");
}

#[tokio::test]
async fn invalid_input_is_a_400_naming_the_field() {
    let api = TestApi::new().await;
    let too_many: Vec<String> = (0..51).map(|i| format!("T{i}")).collect();
    let cases = [
        (json!({"name": "", "tickers": ["AAPL"]}), "name"),
        (
            json!({"name": "x".repeat(101), "tickers": ["AAPL"]}),
            "name",
        ),
        (json!({"name": "A", "tickers": []}), "tickers"),
        (json!({"name": "A", "tickers": too_many}), "tickers"),
        (
            json!({"name": "A", "tickers": ["AAPL", "aapl"]}),
            "tickers[1]",
        ),
        (
            json!({"name": "A", "tickers": ["AAPL", "AAPL"]}),
            "tickers[1]",
        ),
        (
            json!({"name": "A", "tickers": ["AAPL"], "indicators": ["pe_ratio"]}),
            "indicators[0]",
        ),
    ];
    for (body, field) in cases {
        let reply = api
            .call(
                Method::POST,
                "/v1/dashboards",
                Some("ada"),
                Some(body.clone()),
            )
            .await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(reply.body["code"], "invalid_argument");
        assert_eq!(reply.body["field"], field, "{body}: {}", reply.body);
    }
    for body in [
        json!({"name": "A"}),
        json!({"name": "A", "tickers": ["AAPL"], "colour": "red"}),
        json!([1]),
    ] {
        let reply = api
            .call(
                Method::POST,
                "/v1/dashboards",
                Some("ada"),
                Some(body.clone()),
            )
            .await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(reply.body["code"], "invalid_argument");
    }
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM dashboards")
        .fetch_one(&api.db.pool)
        .await
        .unwrap();
    assert_eq!(count, 0, "nothing invalid was stored");
}

#[tokio::test]
async fn malformed_bodies_media_types_and_sizes_are_refused_clearly() {
    use axum::body::Body;
    use axum::http::{header, Request};
    let api = TestApi::new().await;
    let auth = format!("Bearer {}", crate::helpers::token("ada"));
    let request = |content_type: &str, body: Body| {
        Request::post("/v1/dashboards")
            .header(header::AUTHORIZATION, &auth)
            .header(header::CONTENT_TYPE, content_type)
            .body(body)
            .unwrap()
    };
    let malformed = api
        .send(request("application/json", Body::from("{\"name\": ")))
        .await;
    assert_eq!(malformed.status, StatusCode::BAD_REQUEST);
    assert_eq!(malformed.body["code"], "invalid_argument");

    let text = api.send(request("text/plain", Body::from("hello"))).await;
    assert_eq!(text.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);

    let huge = format!(
        "{{\"name\": \"{}\", \"tickers\": [\"AAPL\"]}}",
        "x".repeat(1024 * 1024)
    );
    let too_large = api
        .send(request("application/json", Body::from(huge)))
        .await;
    assert_eq!(too_large.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(too_large.body["code"], "resource_exhausted");
}

#[tokio::test]
async fn someone_elses_dashboard_does_not_exist_for_you() {
    let api = TestApi::new().await;
    let adas = api.create("ada", "Ada's").await;
    let id = adas["id"].as_str().unwrap();
    let read = api
        .call(
            Method::GET,
            &format!("/v1/dashboards/{id}"),
            Some("bob"),
            None,
        )
        .await;
    assert_eq!(read.status, StatusCode::NOT_FOUND);
    let missing = api
        .call(
            Method::GET,
            &format!("/v1/dashboards/{}", uuid_like()),
            Some("bob"),
            None,
        )
        .await;
    assert_eq!(
        read.body, missing.body,
        "a foreign dashboard and a missing one look the same"
    );
    let delete = api
        .call(
            Method::DELETE,
            &format!("/v1/dashboards/{id}"),
            Some("bob"),
            None,
        )
        .await;
    assert_eq!(delete.status, StatusCode::NOT_FOUND);
    let listed = api
        .call(Method::GET, "/v1/dashboards", Some("bob"), None)
        .await;
    assert_eq!(listed.body["total"], 0);
    let still = api
        .call(
            Method::GET,
            &format!("/v1/dashboards/{id}"),
            Some("ada"),
            None,
        )
        .await;
    assert_eq!(still.status, StatusCode::OK);
}

fn uuid_like() -> &'static str {
    "0190a6f5-7d3c-7b3e-9f00-000000000000"
}

#[tokio::test]
async fn a_malformed_id_is_simply_not_found() {
    let api = TestApi::new().await;
    let reply = api
        .call(Method::GET, "/v1/dashboards/not-an-id", Some("ada"), None)
        .await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn pages_have_edges() {
    let api = TestApi::new().await;
    for i in 0..5 {
        api.create("ada", &format!("Board {i}")).await;
    }
    let api = &api;
    let page = |query: &'static str| async move {
        api.call(
            Method::GET,
            &format!("/v1/dashboards{query}"),
            Some("ada"),
            None,
        )
        .await
    };
    let last = page("?page=3&size=2").await;
    assert_eq!(last.status, StatusCode::OK);
    assert_eq!(last.body["items"].as_array().unwrap().len(), 1);
    assert_eq!(last.body["items"][0]["name"], "Board 0", "oldest last");
    assert_eq!(
        (
            last.body["page"].clone(),
            last.body["size"].clone(),
            last.body["total"].clone()
        ),
        (json!(3), json!(2), json!(5))
    );
    let beyond = page("?page=4&size=2").await;
    assert_eq!(beyond.body["items"], json!([]));
    let first = page("").await;
    assert_eq!(first.body["size"], 20);
    assert_eq!(first.body["items"][0]["name"], "Board 4", "newest first");
    for (query, field) in [
        ("?page=0", Some("page")),
        ("?size=0", Some("size")),
        ("?size=101", Some("size")),
        ("?size=ten", None),
        ("?page=-1", None),
    ] {
        let reply = page(query).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{query}");
        assert_eq!(reply.body["code"], "invalid_argument", "{query}");
        if let Some(field) = field {
            assert_eq!(reply.body["field"], field, "{query}");
        }
    }
}

#[tokio::test]
async fn a_database_outage_is_an_opaque_500() {
    // A pool on a port where nothing listens: every query fails inside the store.
    let dead = lzstock_infra::postgres::pool("postgres://postgres@127.0.0.1:1/none", 1).unwrap();
    let router = lzstock_api::router(crate::helpers::state_on(dead));
    let request = axum::http::Request::get("/v1/dashboards")
        .header(
            "authorization",
            format!("Bearer {}", crate::helpers::token("ada")),
        )
        .body(axum::body::Body::empty())
        .unwrap();
    let reply = crate::helpers::send(&router, request).await;
    assert_eq!(reply.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(reply.body["code"], "internal");
    let message = reply.body["message"].as_str().unwrap();
    assert!(
        message.starts_with("internal error (reference "),
        "{message}"
    );
    assert!(
        !message.contains("127.0.0.1") && !message.to_lowercase().contains("connect"),
        "{message}"
    );
}
