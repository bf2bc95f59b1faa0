//! Emails through the whole pipeline, each process as an operator starts it: the standalone
//! API (which relays its outbox to JetStream), the standalone events function (which sends),
//! and a real SMTP server of the test's own. Counts are taken at the server.

use std::collections::BTreeSet;
use std::time::Duration;

use lzstock_harness::secrets_manager::SecretsManagerStandIn;
use lzstock_harness::smtp_sink::SmtpSink;
use lzstock_harness::tokens::issue_token;
use lzstock_harness::{base_env, database, nats, process, TestDatabase, TestNats, TEST_JWT_SECRET};
use serde_json::{json, Value};

const EVENTS: &str = env!("CARGO_BIN_EXE_events");

fn uuid_like() -> String {
    format!(
        "{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos())
    )
}

struct Stack {
    db: TestDatabase,
    bus: TestNats,
    sink: SmtpSink,
    api: String,
    http: reqwest::Client,
    token: String,
    /// Where the events function serves /metrics.
    events_metrics: String,
    /// Where every process's spans are kept (OTLP JSON, one export a line).
    traces: std::path::PathBuf,
    _trace_sink: lzstock_harness::local_http::LocalServer,
    /// Where the events function read its database and mail server from, when it did.
    secrets: Option<SecretsManagerStandIn>,
    _processes: Vec<tokio::process::Child>,
}

impl Stack {
    async fn start() -> Self {
        Self::start_reading_secrets(false).await
    }

    /// The stack; with `from_secrets`, the events function reads `DATABASE_URL` and
    /// `SMTP_URL` from Secrets Manager at init (`*_SECRET`), as on AWS, and the mail server
    /// takes only the login `lzstock`/`first` the SMTP secret holds.
    async fn start_reading_secrets(from_secrets: bool) -> Self {
        let (db, bus) = tokio::join!(database(), nats());
        let sink = SmtpSink::start().await;
        let traces = std::env::temp_dir().join(format!("lzstock-traces-{}.jsonl", uuid_like()));
        let trace_sink = lzstock_harness::local_http::LocalServer::start(
            lzstock_harness::trace_file::sink_router(traces.clone()),
        )
        .await;
        let mut env = base_env();
        env.push(("OTEL_EXPORTER_OTLP_ENDPOINT".into(), trace_sink.url()));
        env.push(("OTEL_EXPORTER_OTLP_PROTOCOL".into(), "http/json".into()));
        env.push(("OTEL_BSP_SCHEDULE_DELAY".into(), "100".into()));
        env.push(("DATABASE_URL".into(), db.url.clone()));
        env.extend(bus.env());
        env.push(("SMTP_URL".into(), sink.url()));
        env.push(("RUST_LOG".into(), "error".into()));
        let port = process::free_port();
        let api = tokio::process::Command::new(process::workspace_binary("api"))
            .envs(env.iter().cloned())
            .env("PORT", port.to_string())
            .env_remove("AWS_LAMBDA_RUNTIME_API")
            .kill_on_drop(true)
            .spawn()
            .expect("the api starts");
        let metrics_port = process::free_port();
        let mut events = tokio::process::Command::new(EVENTS);
        events
            .envs(env.iter().cloned())
            .env("METRICS_PORT", metrics_port.to_string())
            .env_remove("AWS_LAMBDA_RUNTIME_API")
            .kill_on_drop(true);
        let secrets = if from_secrets {
            let secrets = SecretsManagerStandIn::start().await;
            secrets.set("lzstock/database", &json!({"url": db.url}).to_string());
            // The mail server takes a login, as a provider's does.
            sink.require_login("lzstock", "first");
            secrets.set(
                "lzstock/smtp",
                &json!({"url": sink.url_with_login("lzstock", "first")}).to_string(),
            );
            events
                .envs(secrets.env())
                .env("DATABASE_URL_SECRET", "lzstock/database#url")
                .env("SMTP_URL_SECRET", "lzstock/smtp#url")
                .env_remove("DATABASE_URL")
                .env_remove("SMTP_URL");
            Some(secrets)
        } else {
            None
        };
        let events = events.spawn().expect("the events function starts");
        tokio::task::block_in_place(|| process::wait_for_port(port, Duration::from_secs(20)))
            .expect("the api listens");
        Self {
            db,
            bus,
            sink,
            api: format!("http://127.0.0.1:{port}"),
            events_metrics: format!("http://127.0.0.1:{metrics_port}/metrics"),
            traces,
            _trace_sink: trace_sink,
            secrets,
            http: reqwest::Client::new(),
            token: issue_token(
                TEST_JWT_SECRET.as_bytes(),
                "ada",
                chrono::Duration::minutes(10),
            )
            .expect("a token"),
            _processes: vec![api, events],
        }
    }

    async fn post(&self, subject: &str) -> Value {
        let response = self
            .http
            .post(format!("{}/v1/emails", self.api))
            .bearer_auth(&self.token)
            .json(&json!({
                "to": ["bob@example.com"],
                "subject": subject,
                "body": format!("About {subject}."),
            }))
            .send()
            .await
            .expect("POST");
        assert_eq!(response.status(), 202);
        response.json().await.expect("JSON")
    }

    async fn get(&self, id: &str) -> Value {
        self.http
            .get(format!("{}/v1/emails/{id}", self.api))
            .bearer_auth(&self.token)
            .send()
            .await
            .expect("GET")
            .json()
            .await
            .expect("JSON")
    }

    /// Waits until no email is `queued` or `sending` (each sent or failed).
    async fn wait_settled_emails(&self, count: i64) {
        let deadline = std::time::Instant::now() + Duration::from_secs(90);
        loop {
            let settled: i64 = sqlx::query_scalar(
                "SELECT count(*) FROM emails WHERE status IN ('sent', 'failed')",
            )
            .fetch_one(&self.db.pool)
            .await
            .expect("count");
            if settled >= count {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "only {settled} of {count} settled"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        // Then nothing more can be delivered: every event acknowledged.
        self.bus
            .wait_settled("events", self.bus.last_sequence().await)
            .await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_posted_email_arrives_once_with_its_headers_and_reads_back_sent() {
    let stack = Stack::start().await;
    let email = stack.post("Quarterly numbers").await;
    let id = email["id"].as_str().expect("id");
    stack.wait_settled_emails(1).await;
    let received = stack.sink.received();
    assert_eq!(received.len(), 1);
    let mail = &received[0];
    assert_eq!(mail.header("From").as_deref(), Some("noreply@lzstock.test"));
    assert_eq!(mail.header("To").as_deref(), Some("bob@example.com"));
    assert_eq!(mail.header("Subject").as_deref(), Some("Quarterly numbers"));
    assert_eq!(
        mail.header("Message-ID"),
        Some(format!("<{id}@lzstock.test>"))
    );
    assert!(mail.body().contains("About Quarterly numbers."));
    let read = stack.get(id).await;
    assert_eq!(read["status"], "sent", "{read}");
    assert!(read["sentAt"].is_string());

    // The events function's /metrics moved with the work.
    let metrics = stack
        .http
        .get(&stack.events_metrics)
        .send()
        .await
        .expect("GET /metrics")
        .text()
        .await
        .expect("text");
    assert!(metrics.contains("lzstock_emails_sent_total 1"), "{metrics}");
    assert!(
        metrics.contains(r#"lzstock_events_acked_total{subject="emails.created"} 1"#),
        "{metrics}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn fifty_emails_requested_while_the_mail_server_is_down_are_each_sent_once() {
    let mut stack = Stack::start().await;
    stack.sink.stop().await;
    let mut ids = BTreeSet::new();
    for n in 0..50 {
        ids.insert(
            stack.post(&format!("Notice {n}")).await["id"]
                .as_str()
                .map(str::to_owned),
        );
    }
    // A positive signal that sending was tried and failed: errors recorded.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let failed: i64 =
            sqlx::query_scalar("SELECT count(*) FROM emails WHERE last_error IS NOT NULL")
                .fetch_one(&stack.db.pool)
                .await
                .expect("count");
        if failed > 0 {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "no attempt failed");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    stack.sink.resume().await;
    stack.wait_settled_emails(50).await;
    let received = stack.sink.received();
    let message_ids: BTreeSet<Option<String>> =
        received.iter().map(|m| m.header("Message-ID")).collect();
    assert_eq!(received.len(), 50, "each email once at the server");
    assert_eq!(message_ids.len(), 50);
    let sent: i64 = sqlx::query_scalar("SELECT count(*) FROM emails WHERE status = 'sent'")
        .fetch_one(&stack.db.pool)
        .await
        .expect("count");
    assert_eq!(sent, 50);
    assert_eq!(stack.bus.dead_letter_count().await, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_451_is_retried_into_one_send_and_a_550_fails_the_email_without_retry() {
    let stack = Stack::start().await;
    stack
        .sink
        .answer_next(&[(451, "4.7.1 greylisted, try again")]);
    let retried = stack.post("Greylisted").await;
    stack.wait_settled_emails(1).await;
    assert_eq!(stack.sink.received().len(), 1);
    assert_eq!(stack.sink.refused(), 1);
    assert_eq!(
        stack.get(retried["id"].as_str().expect("id")).await["status"],
        "sent"
    );

    stack
        .sink
        .answer_next(&[(550, "5.1.1 mailbox unavailable")]);
    let refused = stack.post("Refused").await;
    stack.wait_settled_emails(2).await;
    let read = stack.get(refused["id"].as_str().expect("id")).await;
    assert_eq!(read["status"], "failed", "{read}");
    assert!(
        read["lastError"]
            .as_str()
            .is_some_and(|e| e.contains("mailbox unavailable")),
        "{read}"
    );
    assert_eq!(stack.sink.refused(), 2, "the 550 was not retried");
    assert_eq!(stack.sink.received().len(), 1);
    assert_eq!(
        stack.bus.dead_letter_count().await,
        0,
        "acked, not dead-lettered"
    );
}

mod paths;
mod secrets;
