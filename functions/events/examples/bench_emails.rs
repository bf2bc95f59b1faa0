//! Emails per second through the whole pipeline (POST /v1/emails → outbox → JetStream →
//! events function → SMTP) against a bare lettre send loop to the same SMTP server in the
//! same run; and GET /v1/emails/{id} with a warm Redis cache against the same API without
//! one. Release binaries, run as an operator runs them. `scripts/bench-emails` runs it;
//! BENCHMARKS.md has the figures.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use chrono::Utc;
use futures::StreamExt;
use lzstock_domain::common::OwnerId;
use lzstock_domain::email::{
    Body, Email, EmailAddress, EmailId, EmailStatus, Mailer, Recipients, Subject,
};
use lzstock_harness::bench::{median, Headline};
use lzstock_harness::redis::RedisServer;
use lzstock_harness::smtp_sink::SmtpSink;
use lzstock_harness::tokens::issue_token;
use lzstock_harness::{base_env, database, nats, process, TEST_JWT_SECRET};
use lzstock_infra::smtp::SmtpMailer;

const EMAILS: usize = 1_000;
const READS: usize = 5_000;
const CONCURRENCY: usize = 16;

fn binary(name: &str) -> PathBuf {
    let dir = std::env::var_os("LZSTOCK_BIN_DIR")
        .map_or_else(|| PathBuf::from("target/release"), PathBuf::from);
    dir.join(name)
}

fn email(n: usize) -> Email {
    Email {
        id: EmailId::new(),
        owner: OwnerId::parse("bench").expect("owner"),
        from: EmailAddress::parse("noreply@lzstock.test").expect("from"),
        to: Recipients::parse(&["bob@example.com"]).expect("to"),
        subject: Subject::parse(&format!("Bench {n}")).expect("subject"),
        body: Body::parse("A short body.").expect("body"),
        status: EmailStatus::Sending,
        last_error: None,
        created_at: Utc::now(),
        sent_at: None,
    }
}

async fn bare_lettre(sink: &SmtpSink) -> f64 {
    let mailer = SmtpMailer::from_url(&sink.url(), "lzstock.test").expect("mailer");
    let before = sink.received().len();
    let started = Instant::now();
    futures::stream::iter((0..EMAILS).map(|n| {
        let mailer = mailer.clone();
        async move { mailer.send(&email(n)).await.expect("sent") }
    }))
    .buffer_unordered(CONCURRENCY)
    .collect::<Vec<()>>()
    .await;
    let elapsed = started.elapsed();
    assert_eq!(sink.received().len() - before, EMAILS);
    EMAILS as f64 / elapsed.as_secs_f64()
}

struct Api {
    _child: tokio::process::Child,
    url: String,
}

async fn api(env: &[(String, String)], extra: &[(&str, String)]) -> Api {
    let port = process::free_port();
    let child = tokio::process::Command::new(binary("api"))
        .envs(env.iter().cloned())
        .envs(extra.iter().map(|(k, v)| (*k, v.clone())))
        .env("PORT", port.to_string())
        .env_remove("AWS_LAMBDA_RUNTIME_API")
        .kill_on_drop(true)
        .spawn()
        .expect("api (build it: cargo build --release --bins)");
    tokio::task::block_in_place(|| process::wait_for_port(port, Duration::from_secs(30)))
        .expect("the api listens");
    Api {
        _child: child,
        url: format!("http://127.0.0.1:{port}"),
    }
}

async fn reads_per_second(http: &reqwest::Client, url: &str, token: &str) -> f64 {
    let get = || async {
        let response = http.get(url).bearer_auth(token).send().await.expect("GET");
        assert!(response.status().is_success());
        let _ = response.bytes().await;
    };
    get().await; // warms the cache, when there is one
    let started = Instant::now();
    futures::stream::iter((0..READS).map(|_| get()))
        .buffer_unordered(CONCURRENCY)
        .collect::<Vec<()>>()
        .await;
    READS as f64 / started.elapsed().as_secs_f64()
}

#[tokio::main]
async fn main() {
    let rounds: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(3);
    let (db, bus) = tokio::join!(database(), nats());
    let sink = SmtpSink::start().await;
    let redis = tokio::task::block_in_place(RedisServer::start).expect("redis-server");
    let mut env = base_env();
    env.push(("DATABASE_URL".into(), db.url.clone()));
    env.extend(bus.env());
    env.push(("SMTP_URL".into(), sink.url()));
    env.push(("RUST_LOG".into(), "error".into()));
    env.push(("DATABASE_MAX_CONNECTIONS".into(), "16".into()));

    let cached = api(&env, &[("REDIS_URL", redis.url())]).await;
    let uncached = api(&env, &[]).await;
    let _events = tokio::process::Command::new(binary("events"))
        .envs(env.iter().cloned())
        .env("EVENTS_BATCH_SIZE", "50")
        .env("EVENTS_CONCURRENCY", "16")
        .env_remove("AWS_LAMBDA_RUNTIME_API")
        .kill_on_drop(true)
        .spawn()
        .expect("events");
    let http = reqwest::Client::new();
    let token = issue_token(
        TEST_JWT_SECRET.as_bytes(),
        "bench",
        chrono::Duration::hours(1),
    )
    .expect("token");

    println!("| round | bare lettre (emails/s) | pipeline (emails/s) | ratio |");
    println!("|---|---|---|---|");
    let (mut bares, mut pipelines, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
    let mut last_id = String::new();
    for round in 1..=rounds {
        let bare = bare_lettre(&sink).await;
        let before = sink.received().len();
        let started = Instant::now();
        let ids: Vec<String> = futures::stream::iter((0..EMAILS).map(|n| {
            let (http, token, url) = (&http, &token, &uncached.url);
            async move {
                let response = http
                    .post(format!("{url}/v1/emails"))
                    .bearer_auth(token)
                    .json(&serde_json::json!({"to": ["bob@example.com"],
                        "subject": format!("Pipeline {round}-{n}"), "body": "A short body."}))
                    .send()
                    .await
                    .expect("POST");
                assert_eq!(response.status(), 202);
                let body: serde_json::Value = response.json().await.expect("JSON");
                body["id"].as_str().expect("id").to_owned()
            }
        }))
        .buffer_unordered(CONCURRENCY)
        .collect()
        .await;
        let arrived = sink
            .wait_for(before + EMAILS, Duration::from_secs(600))
            .await;
        let elapsed = started.elapsed();
        assert_eq!(arrived.len(), before + EMAILS, "every email arrived");
        let pipeline = EMAILS as f64 / elapsed.as_secs_f64();
        bares.push(bare);
        pipelines.push(pipeline);
        ratios.push(pipeline / bare);
        println!(
            "| {round} | {bare:.0} | {pipeline:.0} | {:.2} |",
            pipeline / bare
        );
        last_id = ids.last().cloned().unwrap_or_default();
    }
    println!("median ratio: {:.2}", median(&ratios));
    Headline {
        area: "Emails",
        figure: "POST /v1/emails → outbox → NATS → events → SMTP",
        unit: "emails/s",
        baseline: "bare lettre loop to the same SMTP server",
    }
    .report(median(&pipelines), median(&bares), median(&ratios));

    println!("| round | GET, uncached (req/s) | GET, warm Redis (req/s) | ratio |");
    println!("|---|---|---|---|");
    let (mut plains, mut warms, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
    for round in 1..=rounds {
        let plain = reads_per_second(
            &http,
            &format!("{}/v1/emails/{last_id}", uncached.url),
            &token,
        )
        .await;
        let warm = reads_per_second(
            &http,
            &format!("{}/v1/emails/{last_id}", cached.url),
            &token,
        )
        .await;
        println!("| {round} | {plain:.0} | {warm:.0} | {:.2} |", warm / plain);
        plains.push(plain);
        warms.push(warm);
        ratios.push(warm / plain);
    }
    Headline {
        area: "Emails",
        figure: "GET /v1/emails/{id}, warm Redis cache",
        unit: "requests/s",
        baseline: "the same read without the cache",
    }
    .report(median(&warms), median(&plains), median(&ratios));
}
