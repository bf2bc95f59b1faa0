//! The scraper binary under every trigger, syncing from a stand-in SEC over real HTTP: an
//! EventBridge scheduled event through `cargo lambda watch`, the one-shot `scraper run`, and
//! the standalone cron schedule.

use std::process::Stdio;
use std::time::Duration;

use lzstock_harness::lambda::LambdaEmulator;
use lzstock_harness::sec_standin::{SecStandIn, StandInRules};
use lzstock_harness::{base_env, database, nats, TestDatabase};
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, BufReader};

const SCRAPER: &str = env!("CARGO_BIN_EXE_scraper");

/// A stand-in SEC listing AAPL and MSFT, each with one 10-K and its revenue.
async fn sec() -> SecStandIn {
    let sec = SecStandIn::start(StandInRules::default()).await;
    sec.put_companies(&[("AAPL", 320_193, 391_035.0), ("MSFT", 789_019, 245_122.0)]);
    sec
}

/// A database with a dashboard on AAPL and MSFT (the scheduled universe), and the
/// variables that point the scraper at it and at `sec`.
async fn setup(sec: &SecStandIn) -> (TestDatabase, Vec<(String, String)>) {
    let (db, bus) = tokio::join!(database(), nats());
    sqlx::query(
        "INSERT INTO dashboards (id, owner_id, name, tickers)
         VALUES (gen_random_uuid(), 'ada', 'Tech', ARRAY['AAPL', 'MSFT'])",
    )
    .execute(&db.pool)
    .await
    .expect("dashboard");
    let mut env = base_env();
    env.push(("DATABASE_URL".into(), db.url.clone()));
    env.extend(bus.env());
    env.extend(sec.env());
    (db, env)
}

async fn run_once(env: &[(String, String)], args: &[&str]) -> Value {
    let output = tokio::process::Command::new(SCRAPER)
        .arg("run")
        .args(args)
        .envs(env.iter().cloned())
        .env_remove("AWS_LAMBDA_RUNTIME_API")
        .output()
        .await
        .expect("the scraper runs");
    assert!(output.status.success(), "{output:?}");
    serde_json::from_slice(&output.stdout).expect("a JSON report")
}

/// Invokes the scraper under `cargo lambda watch` with each of `events` in turn; returns
/// its answers.
async fn invoke_each(env: &[(String, String)], events: &[&Value]) -> Vec<Value> {
    let emulator = tokio::task::block_in_place(LambdaEmulator::start).expect("emulator");
    let _function = emulator
        .run_function(SCRAPER.as_ref(), env)
        .expect("function");
    let mut answers = Vec::new();
    for event in events {
        answers.push(emulator.invoke(event).await.expect("report"));
    }
    answers
}

async fn invoke(env: &[(String, String)], event: &Value) -> Value {
    invoke_each(env, &[event]).await.remove(0)
}

fn scheduled_event() -> Value {
    serde_json::from_str(include_str!("../../../../../events/scraper-scheduled.json"))
        .expect("event")
}

async fn facts_updated_events(db: &TestDatabase) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM outbox WHERE subject LIKE '%.companies.facts_updated'")
        .fetch_one(&db.pool)
        .await
        .expect("events")
}

fn facts_fetched(sec: &SecStandIn) -> usize {
    sec.log()
        .requests
        .iter()
        .filter(|path| path.starts_with("/api/xbrl/companyfacts/"))
        .count()
}

#[tokio::test(flavor = "multi_thread")]
async fn answers_an_eventbridge_scheduled_event_under_cargo_lambda_watch() {
    let sec = sec().await;
    let (_db, env) = setup(&sec).await;
    let event = scheduled_event();
    let emulator = tokio::task::block_in_place(LambdaEmulator::start).expect("emulator");
    let function = emulator
        .run_function(SCRAPER.as_ref(), &env)
        .expect("function");
    let report = emulator.invoke(&event).await.expect("report");

    // Its metrics leave as EMF lines on stdout, flushed before the answer.
    let stdout = function.stdout();
    let metrics: Vec<Value> = stdout
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|line| {
            lzstock_harness::emf::check(line).unwrap_or_else(|error| panic!("{error}: {line}"))
        })
        .collect();
    let total = |name: &str| -> f64 { metrics.iter().filter_map(|m| m[name].as_f64()).sum() };
    assert_eq!(total("lzstock_scraper_requests_total"), 5.0, "{stdout}");
    assert_eq!(
        total("lzstock_scraper_companies_synced_total"),
        2.0,
        "{stdout}"
    );
    assert_eq!(total("lzstock_lambda_cold_starts_total"), 1.0, "{stdout}");

    assert_eq!(
        report["run"]["id"], event["time"],
        "named by its fire time: {report}"
    );
    assert_eq!(report["run_id"], "2026-11-23T03:00:00Z/dashboards");
    assert_eq!(report["run"]["trigger"], "event_bridge");
    // cargo lambda watch sends the invocation's timeout where Lambda sends a time (a
    // deadline in 1970): the run ignores it, and its report says no deadline applied.
    assert!(
        report.get("deadline").is_none() && report["run"].get("deadline").is_none(),
        "the emulator's deadline is ignored, and not shown: {report}"
    );
    assert_eq!(report["synced"], json!(["AAPL", "MSFT"]), "{report}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_same_scheduled_event_delivered_twice_does_the_work_once() {
    let sec = sec().await;
    let (db, env) = setup(&sec).await;
    let event = scheduled_event();
    // EventBridge redelivers a fire with a new request id but the same event.
    let answers = invoke_each(&env, &[&event, &event]).await;
    let (first, second) = (&answers[0], &answers[1]);
    assert_eq!(first["synced"], json!(["AAPL", "MSFT"]), "{first}");
    assert_eq!(second["run_id"], first["run_id"]);
    assert_eq!(second["repeated"], true, "{second}");
    assert_eq!(second["synced"], first["synced"], "the run's own report");
    assert_eq!(
        second["requests"], 0,
        "nothing asked of SEC again: {second}"
    );
    assert_eq!(facts_fetched(&sec), 2);
    assert_eq!(facts_updated_events(&db).await, 2);

    // A later fire is a new run: it checks for new filings and finds none.
    let mut next = event.clone();
    next["time"] = json!("2026-11-24T03:00:00Z");
    let later = invoke(&env, &next).await;
    assert_eq!(later["skipped"], json!(["AAPL", "MSFT"]), "{later}");
    assert!(later.get("repeated").is_none(), "{later}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_fire_whose_first_attempt_was_cut_off_is_resumed_where_it_stopped() {
    let sec = sec().await;
    let (db, env) = setup(&sec).await;
    let event = scheduled_event();
    // The first attempt synced AAPL, then its instance died: the run is unfinished and its
    // lease has run out.
    let aapl = run_once(&env, &["--tickers", "AAPL"]).await;
    assert_eq!(aapl["synced"], json!(["AAPL"]), "{aapl}");
    sqlx::raw_sql(
        "INSERT INTO scrape_runs (id, held_until)
         VALUES ('2026-11-23T03:00:00Z/dashboards', now() - interval '1 minute');
         INSERT INTO scrape_run_companies (run_id, ticker, outcome)
         VALUES ('2026-11-23T03:00:00Z/dashboards', 'AAPL', 'synced')",
    )
    .execute(&db.pool)
    .await
    .expect("an unfinished run");

    let report = invoke(&env, &event).await;
    assert_eq!(report["synced"], json!(["AAPL", "MSFT"]), "{report}");
    assert_eq!(
        report["requests"], 2,
        "only MSFT's submissions and facts were fetched: {report}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_fire_another_instance_is_doing_is_refused_for_a_later_retry() {
    let sec = sec().await;
    let (db, env) = setup(&sec).await;
    sqlx::query(
        "INSERT INTO scrape_runs (id, held_until)
         VALUES ('2026-11-23T03:00:00Z/dashboards', now() + interval '1 minute')",
    )
    .execute(&db.pool)
    .await
    .expect("a held run");
    let emulator = tokio::task::block_in_place(LambdaEmulator::start).expect("emulator");
    let _function = emulator
        .run_function(SCRAPER.as_ref(), &env)
        .expect("function");
    let error = emulator
        .invoke(&scheduled_event())
        .await
        .expect_err("a function error, so Lambda retries later");
    assert!(error.to_string().contains("another invocation"), "{error}");
    assert!(sec.log().requests.is_empty(), "nothing asked of SEC");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rules_constant_input_names_what_to_sync() {
    let sec = sec().await;
    let (_db, env) = setup(&sec).await;
    // A target with a constant input receives that document instead of the event.
    let report = invoke(&env, &json!({"tickers": ["MSFT"]})).await;
    assert_eq!(report["requested"], 1, "{report}");
    assert_eq!(report["synced"], json!(["MSFT"]), "{report}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_run_syncs_the_good_tickers_reports_the_bad_and_a_second_run_fetches_no_facts() {
    let sec = sec().await;
    let (db, env) = setup(&sec).await;
    let report = run_once(&env, &["--tickers", "AAPL,not a ticker,ZZZZ"]).await;
    assert_eq!(report["run"]["trigger"], "manual");
    assert_eq!(report["requested"], 3);
    assert_eq!(report["synced"], json!(["AAPL"]), "{report}");
    let failed: Vec<&str> = report["failed"]
        .as_array()
        .expect("failed")
        .iter()
        .filter_map(|f| f["ticker"].as_str())
        .collect();
    assert_eq!(failed, ["ZZZZ", "not a ticker"], "{report}");
    assert_eq!(report["throttled"], 0);
    let events = facts_updated_events(&db).await;
    assert_eq!(events, 1);

    let again = run_once(&env, &["--tickers", "AAPL"]).await;
    assert_eq!(again["skipped"], json!(["AAPL"]), "{again}");
    assert_eq!(
        facts_fetched(&sec),
        1,
        "no companyfacts fetched the second time"
    );
    let still = facts_updated_events(&db).await;
    assert_eq!(still, 1, "nothing published the second time");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_run_past_its_deadline_leaves_the_rest_to_the_next() {
    let sec = sec().await;
    let (_db, env) = setup(&sec).await;
    let late = run_once(&env, &["--universe", "dashboards", "--deadline", "0s"]).await;
    assert_eq!(late["remaining"], json!(["AAPL", "MSFT"]), "{late}");
    assert_eq!(late["requests"], 1, "only the ticker map: {late}");
    let used: chrono::DateTime<chrono::Utc> = late["deadline"]
        .as_str()
        .and_then(|t| t.parse().ok())
        .unwrap_or_else(|| panic!("the report shows the deadline it used: {late}"));
    let off = (chrono::Utc::now() - used).num_seconds().abs();
    assert!(off < 60, "--deadline 0s is about now: {used}");
    // The next run, whatever it was asked for, finishes them first.
    let next = run_once(&env, &["--tickers", "MSFT"]).await;
    assert_eq!(next["requested"], 2, "{next}");
    assert_eq!(next["synced"], json!(["AAPL", "MSFT"]), "{next}");
    let after = run_once(&env, &["--tickers", "MSFT"]).await;
    assert_eq!(after["requested"], 1, "nothing is owed any more: {after}");
}

#[tokio::test(flavor = "multi_thread")]
async fn runs_on_its_cron_schedule_standalone() {
    let sec = sec().await;
    let (_db, env) = setup(&sec).await;
    let mut scraper = tokio::process::Command::new(SCRAPER)
        .envs(env)
        .env("SCRAPER_SCHEDULE", "* * * * * *")
        .env_remove("AWS_LAMBDA_RUNTIME_API")
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("scraper");
    let mut lines = BufReader::new(scraper.stderr.take().expect("stderr")).lines();
    let finished = tokio::time::timeout(Duration::from_secs(30), async {
        while let Some(line) = lines.next_line().await.expect("a line") {
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
    .expect("a run within 30 s on an every-second schedule");
    let report: Value =
        serde_json::from_str(finished["report"].as_str().expect("report")).expect("JSON");
    assert_eq!(report["run"]["trigger"], "cron");
    assert_eq!(report["synced"], json!(["AAPL", "MSFT"]), "{report}");
}

#[tokio::test(flavor = "multi_thread")]
async fn answers_the_constant_input_of_the_templates_schedule() {
    let sec = sec().await;
    let (_db, env) = setup(&sec).await;
    // What EventBridge Scheduler delivers for the template's nightly rule, its
    // `<aws.scheduler.scheduled-time>` filled in.
    let input: Value = serde_json::from_str(include_str!(
        "../../../../../events/scraper-schedule-input.json"
    ))
    .expect("input");
    let report = invoke(&env, &input).await;
    assert_eq!(
        report["run_id"], "2026-11-24T03:00:00Z/dashboards",
        "{report}"
    );
    assert_eq!(report["synced"], json!(["AAPL", "MSFT"]), "{report}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_local_scheduler_fires_the_templates_nightly_rule_at_the_standalone_scraper() {
    let sec = sec().await;
    let (_db, env) = setup(&sec).await;
    // `--fire` fires the rule of the project's own template now (the clock set to the
    // rule's hour), at the `scraper` binary beside `lzstock-admin`, with the rule's input.
    let output =
        tokio::process::Command::new(lzstock_harness::process::workspace_binary("lzstock-admin"))
            .args([
                "schedules",
                "--fire",
                "ScraperFunction/Nightly",
                "--template",
            ])
            .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/../../template.yaml"))
            .envs(env.iter().cloned())
            .env("LZSTOCK_SCHEDULER_START", "2026-11-24T03:00:00Z")
            .env_remove("AWS_LAMBDA_RUNTIME_API")
            .output()
            .await
            .expect("lzstock-admin runs");
    let printed = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{printed}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        printed.contains("2026-11-24T03:00:00Z fire ScraperFunction/Nightly → scraper"),
        "{printed}"
    );
    assert!(
        printed.contains(r#""run_id":"2026-11-24T03:00:00Z/dashboards""#),
        "the scraper ran the rule's input: {printed}"
    );
}

mod sec_unreachable;
