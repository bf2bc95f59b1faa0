//! The scraper binary's politeness, judged by a stand-in SEC that blocks any caller sending
//! more than 10 requests in any one second (every process of the test is one caller, as
//! one address is to SEC): runs at default settings are never blocked, alone or two at once;
//! server errors are retried until every company syncs; a block pauses the whole run.

use lzstock_harness::sec_standin::{SecStandIn, StandInRules};
use lzstock_harness::{base_env, database, nats, TestDatabase};
use serde_json::Value;

const SCRAPER: &str = env!("CARGO_BIN_EXE_scraper");

/// `count` companies, `T0000`…, with CIKs from 1000.
fn companies(count: u64) -> Vec<(String, u64, f64)> {
    (0..count)
        .map(|n| (format!("T{n:04}"), 1000 + n, 1_000.0 + n as f64))
        .collect()
}

async fn stand_in(rules: StandInRules, companies: &[(String, u64, f64)]) -> SecStandIn {
    let sec = SecStandIn::start(rules).await;
    let listed: Vec<(&str, u64, f64)> = companies
        .iter()
        .map(|(t, c, r)| (t.as_str(), *c, *r))
        .collect();
    sec.put_companies(&listed);
    sec
}

async fn env(sec: &SecStandIn, extra: &[(&str, &str)]) -> (TestDatabase, Vec<(String, String)>) {
    let (db, bus) = tokio::join!(database(), nats());
    let mut env = base_env();
    env.push(("DATABASE_URL".into(), db.url.clone()));
    env.extend(bus.env());
    env.extend(sec.env());
    env.extend(
        extra
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
    );
    (db, env)
}

/// `scraper run --tickers …` over `companies`; its report.
async fn run(env: &[(String, String)], companies: &[(String, u64, f64)]) -> Value {
    let tickers: Vec<&str> = companies.iter().map(|(t, _, _)| t.as_str()).collect();
    let output = tokio::process::Command::new(SCRAPER)
        .args(["run", "--tickers", &tickers.join(",")])
        .envs(env.iter().cloned())
        .env_remove("AWS_LAMBDA_RUNTIME_API")
        .output()
        .await
        .expect("the scraper runs");
    assert!(output.status.success(), "{output:?}");
    serde_json::from_slice(&output.stdout).expect("a JSON report")
}

fn synced(report: &Value) -> usize {
    report["synced"].as_array().map_or(0, Vec::len)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_run_over_200_tickers_at_default_settings_is_never_blocked() {
    let all = companies(200);
    let sec = stand_in(StandInRules::default(), &all).await;
    let (_db, env) = env(&sec, &[]).await;
    let report = run(&env, &all).await;
    let log = sec.log();
    assert_eq!(log.blocks, 0, "blocked: {log:?}");
    assert_eq!(synced(&report), 200, "{report}");
    assert_eq!(report["throttled"], 0);
    assert_eq!(
        log.requests.len(),
        401,
        "the map, then submissions and facts of each"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn two_scraper_processes_at_once_are_never_blocked() {
    let all = companies(80);
    let sec = stand_in(StandInRules::default(), &all).await;
    let (_db, env) = env(&sec, &[]).await;
    // Each process alone may send 10 a second; together they must too.
    let (first, second) = tokio::join!(run(&env, &all[..40]), run(&env, &all[40..]));
    let log = sec.log();
    assert_eq!(log.blocks, 0, "blocked: {log:?}");
    assert_eq!(synced(&first) + synced(&second), 80, "{first}\n{second}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stand_in_answering_503_to_some_requests_still_gets_every_company_synced() {
    let all = companies(30);
    let sec = stand_in(
        StandInRules {
            fail_every: Some(4),
            ..StandInRules::default()
        },
        &all,
    )
    .await;
    let (_db, env) = env(&sec, &[]).await;
    let report = run(&env, &all).await;
    let log = sec.log();
    assert!(log.failed >= 10, "503s were served: {log:?}");
    assert_eq!(log.blocks, 0, "{log:?}");
    assert_eq!(synced(&report), 30, "{report}");
    assert_eq!(report["failed"], serde_json::json!([]), "{report}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_block_pauses_the_whole_run_with_nothing_sent_inside_it() {
    let all = companies(30);
    let sec = stand_in(
        StandInRules {
            block_at: Some(20),
            block_for: std::time::Duration::from_secs(2),
            ..StandInRules::default()
        },
        &all,
    )
    .await;
    let (_db, env) = env(&sec, &[("SEC_BLOCK_PAUSE_SECS", "3")]).await;
    let report = run(&env, &all).await;
    let log = sec.log();
    assert_eq!(log.blocks, 1, "{log:?}");
    assert_eq!(
        log.during_block, 0,
        "no worker retried inside the block: {log:?}"
    );
    assert_eq!(report["throttled"], 1, "{report}");
    assert_eq!(
        synced(&report),
        30,
        "every company synced after the pause: {report}"
    );
}
