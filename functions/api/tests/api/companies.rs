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
    insert_facts(api, &facts).await;
}

type Row = (
    &'static str,
    Option<&'static str>,
    &'static str,
    &'static str,
    &'static str,
    f64,
);

async fn insert_facts(api: &TestApi, facts: &[Row]) {
    for &(concept, start, end, accession, filed, value) in facts {
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
    assert_eq!(reply.body["facts"][0]["accession"], "0000320193-26-000001");
    let indicators = &reply.body["indicators"];
    assert_eq!(
        indicators[0],
        json!({
            "indicator": "revenue_growth_yoy", "available": true, "value": 0.25,
            "unit": "ratio", "periodStart": "2025-01-01", "periodEnd": "2025-12-31",
            "concepts": ["us-gaap:Revenues"], "derived": false,
            "definition": "(revenue - the previous fiscal year's revenue) / the previous fiscal year's revenue",
            "reason": null
        })
    );
    assert_eq!(indicators[1]["value"], 0.2);
    assert_eq!(
        indicators[1]["concepts"],
        json!(["us-gaap:NetIncomeLoss", "us-gaap:Revenues"])
    );
    // Every indicator is present; the facts do not report diluted EPS or total liabilities.
    assert_eq!(indicators[2]["indicator"], "eps_diluted");
    assert_eq!(indicators[2]["available"], false);
    assert_eq!(indicators[2]["value"], serde_json::Value::Null);
    assert_eq!(
        indicators[2]["reason"],
        "no diluted EPS reported for the fiscal year ending 2025-12-31"
    );
    assert_eq!(
        indicators[3]["reason"],
        "no total liabilities or stockholders' equity reported at 2025-12-31"
    );
    assert_eq!(indicators[4]["indicator"], "current_ratio");
    assert_eq!(indicators[4]["value"], 1.5);
    assert_eq!(indicators[4]["periodStart"], serde_json::Value::Null);
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
    let net_margin = &reply.body["company"]["indicators"][1];
    assert_eq!(net_margin["indicator"], "net_margin");
    assert_eq!(net_margin["available"], true);
    assert_eq!(net_margin["value"], 0.2);
    let eps = &reply.body["company"]["indicators"][2];
    assert!(
        eps["available"].is_null() || eps["available"] == false,
        "{eps}"
    );
    assert!(eps["reason"]
        .as_str()
        .is_some_and(|r| r.contains("diluted EPS")));
}

/// The same company without total liabilities: its balance sheet (one filing) gives
/// liabilities and equity, total equity and temporary equity, and the total is derived.
async fn apple_without_total_liabilities(api: &TestApi) {
    apple(api).await;
    let k = "0000320193-26-000001";
    insert_facts(
        api,
        &[
            (
                "us-gaap:LiabilitiesAndStockholdersEquity",
                None,
                "2025-12-31",
                k,
                "2026-02-01",
                500.0,
            ),
            (
                "us-gaap:StockholdersEquityIncludingPortionAttributableToNoncontrollingInterest",
                None,
                "2025-12-31",
                k,
                "2026-02-01",
                210.0,
            ),
            (
                "us-gaap:TemporaryEquityCarryingAmountAttributableToParent",
                None,
                "2025-12-31",
                k,
                "2026-02-01",
                10.0,
            ),
            (
                "us-gaap:StockholdersEquity",
                None,
                "2025-12-31",
                k,
                "2026-02-01",
                200.0,
            ),
        ],
    )
    .await;
}

#[tokio::test]
async fn a_derived_total_says_so_over_rest_and_connect() {
    let api = TestApi::new().await;
    apple_without_total_liabilities(&api).await;
    let concepts = json!([
        "us-gaap:LiabilitiesAndStockholdersEquity",
        "us-gaap:StockholdersEquityIncludingPortionAttributableToNoncontrollingInterest",
        "us-gaap:TemporaryEquityCarryingAmountAttributableToParent",
        "us-gaap:StockholdersEquity"
    ]);
    let reply = api
        .call(Method::GET, "/v1/companies/AAPL", Some("ada"), None)
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let debt_to_equity = &reply.body["indicators"][3];
    assert_eq!(debt_to_equity["indicator"], "debt_to_equity");
    // (500 - 210 - 10) / 200
    assert_eq!(debt_to_equity["value"], 1.4, "{debt_to_equity}");
    assert_eq!(debt_to_equity["derived"], true);
    assert_eq!(debt_to_equity["concepts"], concepts);
    assert_eq!(reply.body["indicators"][4]["derived"], false);

    let request = Request::post("/lzstock.v1.CompanyService/GetCompany")
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::AUTHORIZATION, format!("Bearer {}", token("ada")))
        .body(Body::from(r#"{"ticker": "AAPL"}"#))
        .expect("a request");
    let reply = api.send(request).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let debt_to_equity = &reply.body["company"]["indicators"][3];
    assert_eq!(debt_to_equity["value"], 1.4, "{debt_to_equity}");
    assert_eq!(debt_to_equity["derived"], true);
    assert_eq!(debt_to_equity["concepts"], concepts);
    assert!(reply.body["company"]["facts"]
        .as_array()
        .is_some_and(|facts| facts
            .iter()
            .all(|f| f["accession"] == "0000320193-26-000001"
                || f["accession"] == "0000320193-25-000001")));
}
