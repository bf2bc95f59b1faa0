//! Init time and warm-invoke latency of each function against a hello-world
//! `lambda_runtime` binary, all driven through one Runtime API stand-in in this process,
//! with peak RSS. `scripts/bench-cold-start` builds the release binaries and runs it.
//!
//! Init is the time from spawning the binary to its first `GET …/invocation/next`: what
//! Lambda reports as Init Duration (the runtime is ready for an event). A warm invoke is the
//! time from handing the function an event to its posted response.
//!
//! Usage: `bench_cold_start <dir of release binaries> [cold starts] [warm invokes]`

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::Router;
use lzstock_harness::bench::Headline;
use lzstock_harness::local_http::LocalServer;
use lzstock_harness::sec_standin::{SecStandIn, StandInRules};
use lzstock_harness::secrets_manager::SecretsManagerStandIn;
use lzstock_harness::{base_env, database, nats};
use serde_json::{json, Value};
use tokio::sync::{oneshot, Notify};

/// The stand-in's state: the events waiting to be fetched, and who waits for each answer.
#[derive(Default)]
struct Runtime {
    ready: Mutex<Option<Instant>>,
    queue: Mutex<VecDeque<(String, Value)>>,
    queued: Notify,
    answers: Mutex<Vec<(String, oneshot::Sender<Instant>)>>,
    handed: Mutex<Vec<(String, Instant)>>,
}

type Shared = Arc<Runtime>;

async fn next(State(runtime): State<Shared>) -> impl IntoResponse {
    runtime
        .ready
        .lock()
        .expect("ready")
        .get_or_insert_with(Instant::now);
    loop {
        let waiting = runtime.queued.notified();
        if let Some((id, event)) = runtime.queue.lock().expect("queue").pop_front() {
            let mut headers = HeaderMap::new();
            let deadline = chrono::Utc::now().timestamp_millis() + 60_000;
            for (name, value) in [
                ("lambda-runtime-aws-request-id", id.clone()),
                ("lambda-runtime-deadline-ms", deadline.to_string()),
                (
                    "lambda-runtime-invoked-function-arn",
                    "arn:aws:lambda:us-east-1:123456789012:function:bench".to_owned(),
                ),
                (
                    "lambda-runtime-trace-id",
                    "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"
                        .to_owned(),
                ),
            ] {
                headers.insert(name, HeaderValue::from_str(&value).expect("a header"));
            }
            runtime
                .handed
                .lock()
                .expect("handed")
                .push((id, Instant::now()));
            return (headers, event.to_string());
        }
        waiting.await;
    }
}

async fn answered(
    State(runtime): State<Shared>,
    UrlPath(id): UrlPath<String>,
    _: Bytes,
) -> StatusCode {
    let now = Instant::now();
    let mut answers = runtime.answers.lock().expect("answers");
    if let Some(at) = answers.iter().position(|(waiting, _)| *waiting == id) {
        let (_, sender) = answers.swap_remove(at);
        let _ = sender.send(now);
    }
    StatusCode::ACCEPTED
}

fn runtime_api(runtime: Shared) -> Router {
    Router::new()
        .route("/2018-06-01/runtime/invocation/next", get(next))
        .route(
            "/2018-06-01/runtime/invocation/{id}/response",
            post(answered),
        )
        .route("/2018-06-01/runtime/invocation/{id}/error", post(answered))
        .with_state(runtime)
}

struct Function {
    name: &'static str,
    binary: PathBuf,
    env: Vec<(String, String)>,
    event: Value,
}

/// One process: its init time, and each warm invoke's latency, and its peak RSS.
async fn measure(function: &Function, invokes: usize) -> (Duration, Vec<Duration>, u64) {
    let runtime = Shared::default();
    let server = LocalServer::start(runtime_api(Arc::clone(&runtime))).await;
    let address = server.url().trim_start_matches("http://").to_owned();
    let spawned = Instant::now();
    let mut child = tokio::process::Command::new(&function.binary)
        .envs(function.env.iter().cloned())
        .env("AWS_LAMBDA_RUNTIME_API", &address)
        .env("AWS_LAMBDA_FUNCTION_NAME", function.name)
        .env("AWS_LAMBDA_FUNCTION_VERSION", "1")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
        .env("RUST_LOG", "warn")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("the function starts");
    let init = loop {
        if let Some(ready) = *runtime.ready.lock().expect("ready") {
            break ready - spawned;
        }
        assert!(
            spawned.elapsed() < Duration::from_secs(30),
            "{} never asked for an event",
            function.name
        );
        tokio::time::sleep(Duration::from_micros(200)).await;
    };
    let mut latencies = Vec::with_capacity(invokes);
    for n in 0..invokes {
        let id = format!("{}-{n}", function.name);
        let (sender, receiver) = oneshot::channel();
        runtime
            .answers
            .lock()
            .expect("answers")
            .push((id.clone(), sender));
        runtime
            .queue
            .lock()
            .expect("queue")
            .push_back((id.clone(), function.event.clone()));
        runtime.queued.notify_waiters();
        let done = tokio::time::timeout(Duration::from_secs(60), receiver)
            .await
            .expect("an answer in time")
            .expect("an answer");
        let handed = runtime
            .handed
            .lock()
            .expect("handed")
            .iter()
            .find(|(h, _)| *h == id)
            .map(|(_, at)| *at)
            .expect("handed out");
        latencies.push(done - handed);
    }
    let rss = child
        .id()
        .and_then(|pid| std::fs::read_to_string(format!("/proc/{pid}/status")).ok())
        .and_then(|status| {
            status
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        })
        .unwrap_or(0);
    let _ = child.kill().await;
    (init, latencies, rss)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    // Nearest rank.
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_precision_loss
    )]
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

/// The size of `name`'s zip from `cargo lambda build --release --arm64 --output-format zip`,
/// in `BENCH_LAMBDA_DIR` (default `target/lambda`).
fn zip_size(name: &str) -> String {
    let dir = std::env::var("BENCH_LAMBDA_DIR").map_or_else(
        |_| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/lambda"),
        PathBuf::from,
    );
    let zip = dir.join(name).join("bootstrap.zip");
    std::fs::metadata(&zip).map_or_else(
        |_| "n/a".to_owned(),
        |m| format!("{:.1} MB", m.len() as f64 / 1e6),
    )
}

/// `env` with each `(variable, secret)` read from Secrets Manager instead (`*_SECRET`).
fn with_secrets(
    env: &[(String, String)],
    secrets: &SecretsManagerStandIn,
    from: &[(&str, &str)],
) -> Vec<(String, String)> {
    let mut env: Vec<(String, String)> = env
        .iter()
        .filter(|(name, _)| !from.iter().any(|(variable, _)| variable == name))
        .cloned()
        .collect();
    for (variable, secret) in from {
        env.push((format!("{variable}_SECRET"), (*secret).to_owned()));
    }
    env.extend(secrets.env());
    env
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let dir = PathBuf::from(
        args.get(1)
            .expect("usage: bench_cold_start <release dir> [cold] [warm]"),
    );
    let cold: usize = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(10);
    let warm: usize = args.get(3).and_then(|a| a.parse().ok()).unwrap_or(200);

    let (db, bus) = tokio::join!(database(), nats());
    let sec = SecStandIn::start(StandInRules::default()).await;
    // The same functions reading DATABASE_URL (and the events function SMTP_URL) from
    // Secrets Manager at init, through the SDK, from a stand-in on loopback.
    let secrets = SecretsManagerStandIn::start().await;
    secrets.set(
        "lzstock/database",
        &json!({"url": db.url, "direct_url": db.url}).to_string(),
    );
    secrets.set(
        "lzstock/smtp",
        &json!({"url": "smtp://127.0.0.1:2525"}).to_string(),
    );
    let mut env = base_env();
    env.push(("DATABASE_URL".into(), db.url.clone()));
    env.push(("DATABASE_MAX_CONNECTIONS".into(), "2".into()));
    env.extend(bus.env());
    env.extend(sec.env());
    let apigw = json!({
        "version": "2.0", "routeKey": "GET /livez", "rawPath": "/livez", "rawQueryString": "",
        "headers": {"host": "abc123.execute-api.us-east-1.amazonaws.com"},
        "requestContext": {"accountId": "123456789012", "apiId": "abc123",
            "domainName": "abc123.execute-api.us-east-1.amazonaws.com", "domainPrefix": "abc123",
            "http": {"method": "GET", "path": "/livez", "protocol": "HTTP/1.1",
                     "sourceIp": "203.0.113.7", "userAgent": "bench"},
            "requestId": "bench", "routeKey": "GET /livez", "stage": "$default",
            "time": "24/Nov/2026:10:00:00 +0000", "timeEpoch": 1795514400000_i64},
        "isBase64Encoded": false
    });
    let functions = [
        Function {
            name: "hello",
            binary: dir.join("examples/hello_lambda"),
            env: Vec::new(),
            event: json!({"hello": "world"}),
        },
        Function {
            name: "api",
            binary: dir.join("api"),
            env: env.clone(),
            event: apigw.clone(),
        },
        Function {
            name: "events",
            binary: dir.join("events"),
            env: env.clone(),
            event: json!({"records": []}),
        },
        Function {
            name: "scraper",
            binary: dir.join("scraper"),
            env: env.clone(),
            event: json!({"tickers": []}),
        },
        Function {
            name: "migrate",
            binary: dir.join("migrate"),
            env: env.clone(),
            event: json!({}),
        },
        Function {
            name: "api+secrets",
            binary: dir.join("api"),
            env: with_secrets(&env, &secrets, &[("DATABASE_URL", "lzstock/database#url")]),
            event: apigw.clone(),
        },
        Function {
            name: "events+secrets",
            binary: dir.join("events"),
            env: with_secrets(
                &env,
                &secrets,
                &[
                    ("DATABASE_URL", "lzstock/database#url"),
                    ("SMTP_URL", "lzstock/smtp#url"),
                ],
            ),
            event: json!({"records": []}),
        },
    ];
    println!("{cold} cold starts and {warm} warm invokes per function, one process per cold start");
    let mut rows = Vec::new();
    for function in &functions {
        let mut inits = Vec::new();
        let mut latencies = Vec::new();
        let mut rss = 0;
        for round in 0..cold {
            // Warm invokes in the first process only; the others measure init.
            let (init, taken, peak) = measure(function, if round == 0 { warm } else { 1 }).await;
            inits.push(init);
            if round == 0 {
                latencies = taken;
            }
            rss = rss.max(peak);
        }
        inits.sort();
        latencies.sort();
        rows.push((
            function.name,
            percentile(&inits, 50.0),
            percentile(&latencies, 50.0),
            percentile(&latencies, 99.0),
            rss,
        ));
    }
    let hello_init = rows[0].1;
    let init_of = |name: &str| {
        rows.iter()
            .find(|row| row.0 == name)
            .map(|row| row.1.as_secs_f64() * 1e3)
    };
    // The slowest function (without secrets: their cost is a row of its own).
    if let Some((name, slowest)) = rows[1..]
        .iter()
        .filter(|row| !row.0.contains('+'))
        .map(|row| (row.0, row.1.as_secs_f64() * 1e3))
        .max_by(|a, b| a.1.total_cmp(&b.1))
    {
        let hello = hello_init.as_secs_f64() * 1e3;
        Headline {
            area: "Cold start",
            figure: &format!("init p50 of the slowest function ({name})"),
            unit: "ms",
            baseline: "a hello-world lambda_runtime binary",
        }
        .report(slowest, hello, slowest / hello);
    }
    if let (Some(with), Some(without)) = (init_of("api+secrets"), init_of("api")) {
        Headline {
            area: "Cold start",
            figure: "api init p50, DATABASE_URL from Secrets Manager",
            unit: "ms",
            baseline: "api init p50, DATABASE_URL in the environment",
        }
        .report(with, without, with / without);
    }
    println!();
    println!("| function | init p50 | init / hello | warm p50 | warm p99 | peak RSS | arm64 zip |");
    println!("|---|---|---|---|---|---|---|");
    for (name, init, p50, p99, rss) in rows {
        println!(
            "| {name} | {:.1} ms | {:.2} | {:.2} ms | {:.2} ms | {:.1} MiB | {} |",
            ms(init),
            init.as_secs_f64() / hello_init.as_secs_f64(),
            ms(p50),
            ms(p99),
            rss as f64 / 1024.0,
            if name == "hello" {
                "n/a".to_owned()
            } else {
                zip_size(name.split('+').next().unwrap_or(name))
            },
        );
    }
}
