//! End to end: the scraper syncs a company from the stand-in SEC, then the standalone API
//! shows its insights, on the company and on a dashboard tracking it.

use std::time::Duration;

use lzstock_harness::sec_standin::{SecStandIn, StandInRules, ACME_COMPANYFACTS, ACME_SUBMISSIONS};
use lzstock_harness::tokens::issue_token;
use lzstock_harness::{base_env, database, nats, process, TEST_JWT_SECRET};
use serde_json::{json, Value};

#[tokio::test(flavor = "multi_thread")]
async fn get_company_shows_the_right_indicators_after_a_scrape() {
    let sec = SecStandIn::start(StandInRules::default()).await;
    sec.put(
        "/files/company_tickers.json",
        json!({"0": {"cik_str": 42, "ticker": "ACME", "title": "Acme Widgets Inc."}}).to_string(),
    );
    sec.put("/submissions/CIK0000000042.json", ACME_SUBMISSIONS);
    sec.put(
        "/api/xbrl/companyfacts/CIK0000000042.json",
        ACME_COMPANYFACTS,
    );
    let (db, bus) = tokio::join!(database(), nats());
    let mut env = base_env();
    env.push(("DATABASE_URL".into(), db.url.clone()));
    env.extend(bus.env());
    env.extend(sec.env());

    let scraped = tokio::process::Command::new(env!("CARGO_BIN_EXE_scraper"))
        .args(["run", "--tickers", "ACME"])
        .envs(env.iter().cloned())
        .env_remove("AWS_LAMBDA_RUNTIME_API")
        .output()
        .await
        .expect("the scraper runs");
    assert!(scraped.status.success(), "{scraped:?}");
    let report: Value = serde_json::from_slice(&scraped.stdout).expect("a report");
    assert_eq!(report["synced"], json!(["ACME"]), "{report}");

    let port = process::free_port();
    let _api = tokio::process::Command::new(process::workspace_binary("api"))
        .envs(env.iter().cloned())
        .env("PORT", port.to_string())
        .env("RUST_LOG", "error")
        .env_remove("AWS_LAMBDA_RUNTIME_API")
        .kill_on_drop(true)
        .spawn()
        .expect("the api starts");
    tokio::task::block_in_place(|| process::wait_for_port(port, Duration::from_secs(20)))
        .expect("the api listens");
    let http = reqwest::Client::new();
    let base = format!("http://127.0.0.1:{port}");
    let token = issue_token(
        TEST_JWT_SECRET.as_bytes(),
        "ada",
        chrono::Duration::minutes(5),
    )
    .expect("a token");

    let company: Value = http
        .get(format!("{base}/v1/companies/ACME"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("GET company")
        .json()
        .await
        .expect("JSON");
    let indicators = company["indicators"].as_array().expect("indicators");
    let expected = [
        ("revenue_growth_yoy", 100.0 / 1100.0, Some("2024-01-01")),
        ("net_margin", 0.09, Some("2024-01-01")),
        ("eps_diluted", 2.16, Some("2024-01-01")),
        ("debt_to_equity", 2.0, None),
        ("current_ratio", 1.5, None),
    ];
    assert_eq!(indicators.len(), expected.len(), "{company}");
    for (got, (name, value, start)) in indicators.iter().zip(expected) {
        assert_eq!(got["indicator"], name, "{got}");
        assert_eq!(got["available"], true, "{got}");
        let v = got["value"].as_f64().expect("a value");
        assert!((v - value).abs() < 1e-9, "{name}: {v} != {value}");
        assert_eq!(got["periodEnd"], "2024-12-31", "{got}");
        assert_eq!(got["periodStart"].as_str(), start, "{got}");
    }

    let created: Value = http
        .post(format!("{base}/v1/dashboards"))
        .bearer_auth(&token)
        .json(&json!({"name": "Widgets", "tickers": ["ACME", "NONE"], "indicators": ["debt_to_equity"]}))
        .send()
        .await
        .expect("POST dashboard")
        .json()
        .await
        .expect("JSON");
    let id = created["id"].as_str().expect("an id");
    let dashboard: Value = http
        .get(format!("{base}/v1/dashboards/{id}"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("GET dashboard")
        .json()
        .await
        .expect("JSON");
    let companies = &dashboard["companies"];
    assert_eq!(companies[0]["ticker"], "ACME", "{dashboard}");
    assert_eq!(companies[0]["indicators"][0]["indicator"], "debt_to_equity");
    assert_eq!(companies[0]["indicators"][0]["value"], 2.0);
    assert_eq!(companies[1]["ticker"], "NONE");
    assert_eq!(companies[1]["indicators"][0]["available"], false);
}
