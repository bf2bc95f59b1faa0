//! Emails by every other path: created over Connect and gRPC, a new user's welcome, and one trace from the request to the mail server.

use super::*;

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
