//! Emails through the whole pipeline, each process as an operator starts it: the standalone
//! API (which relays its outbox to JetStream), the standalone events function (which sends),
//! and a real SMTP server of the test's own. Counts are taken at the server.

use std::collections::BTreeSet;
use std::time::Duration;

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
    _processes: Vec<tokio::process::Child>,
}

impl Stack {
    async fn start() -> Self {
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
        let events = tokio::process::Command::new(EVENTS)
            .envs(env.iter().cloned())
            .env("METRICS_PORT", metrics_port.to_string())
            .env_remove("AWS_LAMBDA_RUNTIME_API")
            .kill_on_drop(true)
            .spawn()
            .expect("the events function starts");
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

/// `buf curl` (a third-party client) calling `lzstock.v1.EmailService/<method>`.
async fn buf_curl(stack: &Stack, protocol: &str, method: &str, body: &str) -> Value {
    let buf = process::find_program("buf", "BUF_BIN").expect("buf (installed into .venv)");
    let mut command = tokio::process::Command::new(buf);
    command
        .args(["curl", "--schema"])
        .arg(process::workspace_root().join("proto"))
        .args(["--protocol", protocol])
        .args(["-H", &format!("Authorization: Bearer {}", stack.token)])
        .args(["-d", body]);
    if protocol == "grpc" {
        command.arg("--http2-prior-knowledge");
    }
    let output = command
        .arg(format!("{}/lzstock.v1.EmailService/{method}", stack.api))
        .output()
        .await
        .expect("buf curl runs");
    assert!(
        output.status.success(),
        "buf curl: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("JSON")
}

#[tokio::test(flavor = "multi_thread")]
async fn emails_created_over_connect_and_grpc_arrive_and_read_back_sent() {
    let stack = Stack::start().await;
    let mut ids = Vec::new();
    for protocol in ["connect", "grpc"] {
        let body = format!(
            r#"{{"to": ["bob@example.com"], "subject": "Over {protocol}", "body": "Sent over {protocol}."}}"#
        );
        let created = buf_curl(&stack, protocol, "Create", &body).await;
        assert_eq!(created["email"]["status"], "queued", "{created}");
        ids.push(created["email"]["id"].as_str().expect("id").to_owned());
    }
    stack.wait_settled_emails(2).await;
    let subjects: BTreeSet<Option<String>> = stack
        .sink
        .received()
        .iter()
        .map(|m| m.header("Subject"))
        .collect();
    assert_eq!(
        subjects,
        BTreeSet::from([Some("Over connect".into()), Some("Over grpc".into())])
    );
    for (protocol, id) in ["connect", "grpc"].into_iter().zip(&ids) {
        let read = buf_curl(&stack, protocol, "GetById", &format!(r#"{{"id": "{id}"}}"#)).await;
        assert_eq!(read["email"]["status"], "sent", "{read}");
    }
    let found = buf_curl(&stack, "grpc", "Search", r#"{"search": "grpc"}"#).await;
    assert_eq!(found["totalCount"], "1", "{found}");
    let refused = tokio::process::Command::new(
        process::find_program("buf", "BUF_BIN").expect("buf"),
    )
    .args(["curl", "--schema"])
    .arg(process::workspace_root().join("proto"))
    .args(["--protocol", "connect"])
    .args(["-H", &format!("Authorization: Bearer {}", stack.token)])
    .args([
        "-d",
        r#"{"to": ["bob@example.com"], "subject": "Hi\r\nBcc: eve@example.com", "body": ""}"#,
    ])
    .arg(format!("{}/lzstock.v1.EmailService/Create", stack.api))
    .output()
    .await
    .expect("buf curl runs");
    let error = String::from_utf8_lossy(&refused.stdout).to_string()
        + &String::from_utf8_lossy(&refused.stderr);
    assert!(
        error.contains("invalid_argument") && error.contains("subject"),
        "{error}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_new_user_gets_one_dashboard_and_one_welcome_email_however_often_signed_up_arrives() {
    let stack = Stack::start().await;
    let subject = stack.bus.streams.subject("users.signed_up");
    let event = json!({"id": "signup-1", "occurred_at": "2026-11-24T10:00:00Z",
        "request": {"email": "grace@example.com", "name": "Grace"},
        "response": {"userId": "grace"}})
    .to_string();
    // The identity service publishing it three times (a publisher's retries).
    for _ in 0..3 {
        let mut headers = async_nats::HeaderMap::new();
        headers.insert("Nats-Msg-Id", "signup-1");
        stack
            .bus
            .jetstream
            .publish_with_headers(subject.clone(), headers, event.clone().into())
            .await
            .expect("publish")
            .await
            .expect("stored");
    }
    let welcomed = stack.sink.wait_for(1, Duration::from_secs(60)).await;
    assert_eq!(welcomed.len(), 1);
    assert_eq!(
        welcomed[0].header("To").as_deref(),
        Some("grace@example.com")
    );
    assert_eq!(
        welcomed[0].header("Subject").as_deref(),
        Some("Welcome to LZStock")
    );
    stack.wait_settled_emails(1).await;
    let dashboards: i64 =
        sqlx::query_scalar("SELECT count(*) FROM dashboards WHERE owner_id = 'grace'")
            .fetch_one(&stack.db.pool)
            .await
            .expect("count");
    assert_eq!(dashboards, 1);
    assert_eq!(stack.sink.received().len(), 1, "one welcome, ever");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_dashboard_and_its_welcome_email_make_one_trace_across_the_broker() {
    let stack = Stack::start().await;
    sqlx::query("INSERT INTO user_contacts (user_id, address, name) VALUES ('ada', 'ada@example.com', 'Ada')")
        .execute(&stack.db.pool)
        .await
        .expect("a contact");
    let trace = "5b8efff798038103d269b633813fc60c";
    let response = stack
        .http
        .post(format!("{}/v1/dashboards", stack.api))
        .bearer_auth(&stack.token)
        .header("traceparent", format!("00-{trace}-eee19b7ec3c1b174-01"))
        .json(&json!({"name": "Traced", "tickers": ["AAPL"]}))
        .send()
        .await
        .expect("POST");
    assert_eq!(response.status(), 201);
    let welcomed = stack.sink.wait_for(1, Duration::from_secs(60)).await;
    assert_eq!(welcomed.len(), 1, "the welcome email");
    // The spans arrive within a batch delay or two.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let tree = loop {
        let exports = std::fs::read_to_string(&stack.traces).unwrap_or_default();
        if let Some(tree) = lzstock_harness::trace_file::whole_tree(
            &exports,
            trace,
            &[
                ("http.request", 1),
                ("outbox.publish", 2),
                ("handle_message", 2),
                ("smtp.send", 1),
            ],
        ) {
            break tree;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the trace never reached the send: {:?} ({} exports)",
            lzstock_harness::trace_file::span_tree(&exports, trace),
            exports.lines().count()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    // One root (the caller's request), everything else under it: the dashboards.created
    // handler under the request, the emails.created handler under that one, the send under
    // its handler.
    let roots: Vec<&str> = tree.lines().filter(|l| !l.starts_with(' ')).collect();
    assert_eq!(roots.len(), 1, "{tree}");
    assert!(roots[0].starts_with("http.request [api]"), "{tree}");
    let handlers: Vec<usize> = tree
        .lines()
        .filter(|l| l.trim_start().starts_with("handle_message"))
        .map(|l| l.len() - l.trim_start().len())
        .collect();
    assert_eq!(handlers.len(), 2, "{tree}");
    // Each handler hangs under the publish that carried its event across the broker.
    let depth = |line: &str| line.len() - line.trim_start().len();
    let lines: Vec<&str> = tree.lines().collect();
    for (at, line) in lines.iter().enumerate() {
        if line.trim_start().starts_with("handle_message") {
            let parent = lines[..at]
                .iter()
                .rev()
                .find(|l| depth(l) < depth(line))
                .expect("a parent");
            assert!(
                parent.trim_start().starts_with("outbox.publish")
                    && depth(parent) + 2 == depth(line),
                "{line:?} is not under a publish: {tree}"
            );
        }
    }
    assert!(
        handlers[1] > handlers[0],
        "the send's handler hangs under the welcome's: {tree}"
    );
    let send = tree
        .lines()
        .find(|l| l.trim_start().starts_with("smtp.send"))
        .expect("smtp.send");
    assert!(send.len() - send.trim_start().len() > handlers[1], "{tree}");
    assert!(tree.contains("db.query"), "{tree}");
}
