//! The scraper binary under every trigger: an EventBridge scheduled event through
//! `cargo lambda watch`, the one-shot `scraper run`, and the standalone cron schedule.

use std::process::Stdio;
use std::time::Duration;

use lzstock_harness::lambda::LambdaEmulator;
use lzstock_harness::{base_env, database, nats, TestDatabase};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};

const SCRAPER: &str = env!("CARGO_BIN_EXE_scraper");

async fn tracked_companies() -> (TestDatabase, Vec<(String, String)>) {
    let (db, bus) = tokio::join!(database(), nats());
    sqlx::query(
        "INSERT INTO companies (ticker, cik, name) VALUES
            ('MSFT', '0000789019', 'Microsoft Corp'),
            ('AAPL', '0000320193', 'Apple Inc.')",
    )
    .execute(&db.pool)
    .await
    .expect("companies insert");
    let mut env = base_env();
    env.push(("DATABASE_URL".into(), db.url.clone()));
    env.extend(bus.env());
    (db, env)
}

#[tokio::test(flavor = "multi_thread")]
async fn answers_an_eventbridge_scheduled_event_under_cargo_lambda_watch() {
    let (_db, env) = tracked_companies().await;
    let emulator = tokio::task::block_in_place(LambdaEmulator::start).unwrap();
    let _function = emulator.run_function(SCRAPER.as_ref(), &env).unwrap();

    let event: Value =
        serde_json::from_str(include_str!("fixtures/eventbridge-scheduled.json")).unwrap();
    let report = emulator.invoke(&event).await.unwrap();

    assert_eq!(report["run"]["id"], event["id"], "{report}");
    assert_eq!(report["run"]["trigger"], "event_bridge");
    assert_eq!(report["run"]["scheduled_at"], "2026-11-23T03:00:00Z");
    assert!(
        report["run"]["deadline"].is_string(),
        "Lambda sets a deadline: {report}"
    );
    assert_eq!(report["universe"], serde_json::json!(["AAPL", "MSFT"]));
}

#[tokio::test(flavor = "multi_thread")]
async fn runs_once_for_the_tickers_given() {
    let (_db, env) = tracked_companies().await;
    let output = tokio::process::Command::new(SCRAPER)
        .args(["run", "--tickers", "NVDA,BRK.B"])
        .envs(env)
        .env_remove("AWS_LAMBDA_RUNTIME_API")
        .output()
        .await
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["run"]["trigger"], "manual");
    assert_eq!(report["universe"], serde_json::json!(["NVDA", "BRK.B"]));
}

#[tokio::test(flavor = "multi_thread")]
async fn refuses_a_malformed_ticker_with_a_clear_error() {
    let (_db, env) = tracked_companies().await;
    let output = tokio::process::Command::new(SCRAPER)
        .args(["run", "--tickers", "AAPL,not a ticker"])
        .envs(env)
        .output()
        .await
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(stderr.contains("\"not a ticker\""), "{stderr}");
}

#[tokio::test(flavor = "multi_thread")]
async fn runs_on_its_cron_schedule_standalone() {
    let (_db, env) = tracked_companies().await;
    let mut scraper = tokio::process::Command::new(SCRAPER)
        .envs(env)
        .env("SCRAPER_SCHEDULE", "* * * * * *")
        .env_remove("AWS_LAMBDA_RUNTIME_API")
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(scraper.stderr.take().unwrap()).lines();
    let finished = tokio::time::timeout(Duration::from_secs(20), async {
        while let Some(line) = lines.next_line().await.unwrap() {
            let Ok(entry) = serde_json::from_str::<Value>(&line) else {
                continue;
            };
            if entry["message"] == "scheduled run finished" {
                return entry;
            }
        }
        panic!("the scraper exited without a run");
    })
    .await
    .expect("a run within 20 s on an every-second schedule");
    let report: Value = serde_json::from_str(finished["report"].as_str().unwrap()).unwrap();
    assert_eq!(report["run"]["trigger"], "cron");
    assert_eq!(report["universe"], serde_json::json!(["AAPL", "MSFT"]));
}
