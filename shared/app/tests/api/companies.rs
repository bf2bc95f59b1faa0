use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use serde_json::json;

use crate::helpers::{token, TestApi};

async fn apple(api: &TestApi) {
    sqlx::query(
        "INSERT INTO companies (ticker, cik, name) VALUES ('AAPL', '0000320193', 'Apple Inc.')",
    )
    .execute(&api.db.pool)
    .await
    .expect("company");
    let facts = [
        (
            "us-gaap:Revenues",
            Some("2024-01-01"),
            "2024-12-31",
            "0000320193-25-000001",
            "2025-02-01",
            100.0,
        ),
        (
            "us-gaap:Revenues",
            Some("2025-01-01"),
            "2025-12-31",
            "0000320193-26-000001",
            "2026-02-01",
            125.0,
        ),
        (
            "us-gaap:NetIncomeLoss",
            Some("2025-01-01"),
            "2025-12-31",
            "0000320193-26-000001",
            "2026-02-01",
            25.0,
        ),
        (
            "us-gaap:AssetsCurrent",
            None,
            "2025-12-31",
            "0000320193-26-000001",
            "2026-02-01",
            90.0,
        ),
        (
            "us-gaap:LiabilitiesCurrent",
            None,
            "2025-12-31",
            "0000320193-26-000001",
            "2026-02-01",
            60.0,
        ),
    ];
    for (concept, start, end, accession, filed, value) in facts {
        sqlx::query(
            "INSERT INTO company_facts (ticker, concept, unit, period_start, period_end, fiscal_year,
                                        fiscal_period, form, filed, accession, value)
             VALUES ('AAPL', $1, 'USD', $2::date, $3::date, 2025, 'FY', '10-K', $4::date, $5, $6)",
        )
        .bind(concept)
        .bind(start)
        .bind(end)
        .bind(filed)
        .bind(accession)
        .bind(value)
        .execute(&api.db.pool)
        .await
        .expect("fact");
    }
}

#[tokio::test]
async fn a_company_comes_with_its_facts_and_indicators() {
    let api = TestApi::new().await;
    apple(&api).await;
    let reply = api
        .call(Method::GET, "/v1/companies/AAPL", Some("ada"), None)
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(reply.body["cik"], "0000320193");
    assert_eq!(reply.body["facts"].as_array().map(Vec::len), Some(5));
    assert_eq!(reply.body["facts"][0]["periodEnd"], "2025-12-31");
    assert_eq!(
        reply.body["indicators"],
        json!([
            {"indicator": "revenue_growth_yoy", "value": 0.25, "periodEnd": "2025-12-31"},
            {"indicator": "net_margin", "value": 0.2, "periodEnd": "2025-12-31"},
            {"indicator": "current_ratio", "value": 1.5, "periodEnd": "2025-12-31"},
        ])
    );
}

#[tokio::test]
async fn a_bad_ticker_is_400_and_an_unknown_one_404() {
    let api = TestApi::new().await;
    let bad = api
        .call(Method::GET, "/v1/companies/aapl", Some("ada"), None)
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert_eq!(bad.body["field"], "ticker");
    let unknown = api
        .call(Method::GET, "/v1/companies/ZZZZ", Some("ada"), None)
        .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    let anonymous = api
        .call(Method::GET, "/v1/companies/AAPL", None, None)
        .await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn get_company_over_connect() {
    let api = TestApi::new().await;
    apple(&api).await;
    let request = Request::post("/lzstock.v1.CompanyService/GetCompany")
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::AUTHORIZATION, format!("Bearer {}", token("ada")))
        .body(Body::from(r#"{"ticker": "AAPL"}"#))
        .expect("a request");
    let reply = api.send(request).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(reply.body["company"]["name"], "Apple Inc.");
    assert_eq!(
        reply.body["company"]["indicators"][1]["indicator"],
        "net_margin"
    );
}
