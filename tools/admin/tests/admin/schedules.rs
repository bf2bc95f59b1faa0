//! The local scheduler (`lzstock-admin schedules`) fires the template's rules at their
//! times with their input: here a rule set to every minute, on a clock started just before
//! a minute turns, fired at a stand-in for `cargo lambda watch`'s Invoke API.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::Path;
use axum::routing::post;
use axum::Router;
use lzstock_harness::local_http::LocalServer;
use serde_json::Value;

const ADMIN: &str = env!("CARGO_BIN_EXE_lzstock-admin");

const TEMPLATE: &str = r#"
Resources:
  ScraperFunction:
    Type: AWS::Serverless::Function
    Metadata:
      BuildProperties:
        Binary: scraper
    Properties:
      Events:
        EveryMinute:
          Type: ScheduleV2
          Properties:
            ScheduleExpression: cron(* * * * ? *)
            ScheduleExpressionTimezone: Europe/Paris
            Input: '{"tickers": ["AAPL"], "scheduled_time": "<aws.scheduler.scheduled-time>"}'
        Never:
          Type: ScheduleV2
          Properties:
            ScheduleExpression: rate(1 minute)
            State: DISABLED
"#;

type Invocations = Arc<Mutex<Vec<(String, Value)>>>;

fn invoke_api(invocations: Invocations) -> Router {
    Router::new().route(
        "/2015-03-31/functions/{name}/invocations",
        post(move |Path(name): Path<String>, body: Bytes| {
            let invocations = Arc::clone(&invocations);
            async move {
                let event = serde_json::from_slice(&body).unwrap_or(Value::Null);
                invocations.lock().expect("invocations").push((name, event));
                r#"{"synced": ["AAPL"]}"#
            }
        }),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rule_set_to_every_minute_fires_at_the_minute_with_its_input() {
    let invocations = Invocations::default();
    let lambda = LocalServer::start(invoke_api(Arc::clone(&invocations))).await;
    let template = tempfile::NamedTempFile::new().expect("a file");
    std::fs::write(template.path(), TEMPLATE).expect("write");
    let mut scheduler = tokio::process::Command::new(ADMIN)
        .args(["schedules", "--template"])
        .arg(template.path())
        .args(["--invoke", &lambda.url()])
        // Two seconds before 03:00 UTC (04:00 in Paris): the first fire is due at once.
        .env("LZSTOCK_SCHEDULER_START", "2026-11-24T02:59:58Z")
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("the scheduler starts");

    let deadline = Instant::now() + Duration::from_secs(30);
    while invocations.lock().expect("invocations").is_empty() {
        assert!(Instant::now() < deadline, "nothing fired");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    scheduler.kill().await.expect("stop");
    let output = scheduler.wait_with_output().await.expect("output");
    let fired = invocations.lock().expect("invocations").clone();
    assert_eq!(fired.len(), 1, "{fired:?}");
    let (function, event) = &fired[0];
    assert_eq!(function, "scraper");
    assert_eq!(
        event,
        &serde_json::json!({"tickers": ["AAPL"], "scheduled_time": "2026-11-24T03:00:00Z"})
    );
    let printed = String::from_utf8_lossy(&output.stdout);
    assert!(
        printed.contains("2026-11-24T03:00:00Z fire ScraperFunction/EveryMinute → scraper"),
        "{printed}"
    );
    assert!(
        !printed.contains("Never"),
        "a disabled rule is not scheduled: {printed}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn fire_fires_one_rule_now_and_an_unknown_rule_is_named() {
    let invocations = Invocations::default();
    let lambda = LocalServer::start(invoke_api(Arc::clone(&invocations))).await;
    let template = tempfile::NamedTempFile::new().expect("a file");
    std::fs::write(template.path(), TEMPLATE).expect("write");
    let run = |rule: &'static str| {
        tokio::process::Command::new(ADMIN)
            .args(["schedules", "--template"])
            .arg(template.path())
            .args(["--invoke", &lambda.url(), "--fire", rule])
            .env("LZSTOCK_SCHEDULER_START", "2026-11-24T10:15:00Z")
            .output()
    };
    let fired = run("ScraperFunction/EveryMinute").await.expect("runs");
    assert!(fired.status.success(), "{fired:?}");
    assert_eq!(
        invocations.lock().expect("invocations")[0].1["scheduled_time"],
        "2026-11-24T10:15:00Z"
    );
    let unknown = run("ScraperFunction/Nope").await.expect("runs");
    assert!(!unknown.status.success());
    let stderr = String::from_utf8_lossy(&unknown.stderr);
    assert!(stderr.contains("ScraperFunction/EveryMinute"), "{stderr}");
}
