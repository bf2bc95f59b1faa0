//! The events function on Lambda end to end: one trace and EMF metrics for a dashboard and its welcome email, and a clean exit on SIGTERM.

use super::*;

/// The Lambda deployment end to end, every process exporting spans to one sink: the API
/// function and the events function behind `cargo lambda watch`, the nats-bridge relaying
/// the outbox and invoking the events function through the Invoke API.
#[tokio::test(flavor = "multi_thread")]
async fn on_lambda_a_dashboard_and_its_welcome_email_make_one_trace_and_every_metric_line_is_emf() {
    let (db, bus) = tokio::join!(database(), nats());
    let sink = lzstock_harness::smtp_sink::SmtpSink::start().await;
    sqlx::query("INSERT INTO user_contacts (user_id, address, name) VALUES ('ada', 'ada@example.com', 'Ada')")
        .execute(&db.pool)
        .await
        .unwrap();
    let traces = tempfile_path("lambda-traces");
    let trace_sink = lzstock_harness::local_http::LocalServer::start(
        lzstock_harness::trace_file::sink_router(traces.clone()),
    )
    .await;
    let mut env = base_env();
    env.push(("DATABASE_URL".into(), db.url.clone()));
    env.extend(bus.env());
    env.push(("SMTP_URL".into(), sink.url()));
    env.push(("OTEL_EXPORTER_OTLP_ENDPOINT".into(), trace_sink.url()));
    env.push(("OTEL_EXPORTER_OTLP_PROTOCOL".into(), "http/json".into()));
    // Long enough that only the per-invocation flush can deliver a function's spans in time.
    env.push(("OTEL_BSP_SCHEDULE_DELAY".into(), "600000".into()));

    let (api_emulator, events_emulator) = tokio::task::block_in_place(|| {
        (
            LambdaEmulator::start().unwrap(),
            LambdaEmulator::start().unwrap(),
        )
    });
    let api = api_emulator
        .run_function(&lzstock_harness::process::workspace_binary("api"), &env)
        .unwrap();
    let events = events_emulator.run_function(EVENTS.as_ref(), &env).unwrap();
    let mut bridge_env = env.clone();
    bridge_env.retain(|(k, _)| k != "OTEL_BSP_SCHEDULE_DELAY");
    bridge_env.extend(
        [
            ("BRIDGE_FUNCTION", "_"),
            ("BRIDGE_MAX_WAIT_MS", "100"),
            ("AWS_REGION", "us-east-1"),
            ("AWS_ACCESS_KEY_ID", "local"),
            ("AWS_SECRET_ACCESS_KEY", "local"),
            ("OTEL_BSP_SCHEDULE_DELAY", "100"),
        ]
        .map(|(k, v)| (k.to_owned(), v.to_owned())),
    );
    bridge_env.push(("AWS_ENDPOINT_URL_LAMBDA".into(), events_emulator.endpoint()));
    let _bridge =
        tokio::process::Command::new(lzstock_harness::process::workspace_binary("nats-bridge"))
            .envs(bridge_env)
            .env("PORT", lzstock_harness::process::free_port().to_string())
            .env_remove("AWS_LAMBDA_RUNTIME_API")
            .kill_on_drop(true)
            .spawn()
            .unwrap();

    let trace = "0af7651916cd43dd8448eb211c80319c";
    let mut create: Value = serde_json::json!({
        "version": "2.0",
        "routeKey": "ANY /{proxy+}",
        "rawPath": "/v1/dashboards",
        "rawQueryString": "",
        "headers": {
            "content-type": "application/json",
            "traceparent": format!("00-{trace}-b7ad6b7169203331-01"),
        },
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "abc123",
            "authorizer": {"jwt": {"claims": {"sub": "ada"}, "scopes": null}},
            "domainName": "abc123.execute-api.us-east-1.amazonaws.com",
            "domainPrefix": "abc123",
            "http": {"method": "POST", "path": "/v1/dashboards", "protocol": "HTTP/1.1",
                     "sourceIp": "203.0.113.7", "userAgent": "test"},
            "requestId": "trace-request-1",
            "routeKey": "ANY /{proxy+}",
            "stage": "$default",
            "time": "24/Nov/2026:10:00:00 +0000",
            "timeEpoch": 1795514400000_i64
        },
        "body": "{\"name\":\"Traced on Lambda\",\"tickers\":[\"AAPL\"]}",
        "isBase64Encoded": false
    });
    let created = api_emulator.invoke(&create).await.unwrap();
    assert_eq!(created["statusCode"], 201, "{created}");
    // A second request, outside any caller's trace: a second invocation's metrics.
    create["headers"]
        .as_object_mut()
        .unwrap()
        .remove("traceparent");
    create["rawPath"] = "/v1/nowhere".into();
    create["requestContext"]["http"]["path"] = "/v1/nowhere".into();
    let missing = api_emulator.invoke(&create).await.unwrap();
    assert_eq!(missing["statusCode"], 404, "{missing}");

    let welcomed = sink.wait_for(1, Duration::from_secs(60)).await;
    assert_eq!(welcomed.len(), 1, "the welcome email");
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let tree = loop {
        let exports = std::fs::read_to_string(&traces).unwrap_or_default();
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
            "the trace never reached the send: {:?}",
            lzstock_harness::trace_file::span_tree(&exports, trace),
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    // HTTP on the API function → publish by the bridge → handler on the events function →
    // its SQL, and the email it queued → publish by the bridge → handler → SMTP.
    let lines: Vec<&str> = tree.lines().collect();
    let depth = |line: &str| line.len() - line.trim_start().len();
    let parent_of = |at: usize| {
        lines[..at]
            .iter()
            .rev()
            .find(|l| depth(l) < depth(lines[at]))
            .map(|l| l.trim_start())
            .unwrap_or_default()
    };
    assert_eq!(lines.iter().filter(|l| depth(l) == 0).count(), 1, "{tree}");
    assert!(lines[0].starts_with("http.request [api]"), "{tree}");
    let mut handlers = 0;
    for (at, line) in lines.iter().enumerate() {
        let span = line.trim_start();
        if span.starts_with("handle_message") {
            handlers += 1;
            assert!(span.contains("[events]"), "{tree}");
            assert!(
                parent_of(at).starts_with("outbox.publish [nats-bridge]"),
                "{tree}"
            );
        }
        if span.starts_with("outbox.publish") {
            let parent = parent_of(at);
            assert!(
                parent.starts_with("http.request") || parent.starts_with("handle_message"),
                "{tree}"
            );
        }
        if span.starts_with("smtp.send") {
            // Under the usecase the handler runs.
            assert!(parent_of(at).starts_with("SendEmail [events]"), "{tree}");
        }
    }
    assert_eq!(handlers, 2, "{tree}");
    assert!(tree.contains("db.query [events]"), "{tree}");
    assert!(tree.contains("db.query [api]"), "{tree}");

    // Every line the functions printed to stdout is EMF, and the counters are there.
    let mut names = std::collections::BTreeSet::new();
    for (function, stdout) in [("api", api.stdout()), ("events", events.stdout())] {
        let lines: Vec<&str> = stdout.lines().filter(|l| !l.trim().is_empty()).collect();
        assert!(!lines.is_empty(), "{function} printed no metrics");
        for line in lines {
            let root = lzstock_harness::emf::check(line)
                .unwrap_or_else(|error| panic!("{function}: {error}: {line}"));
            for metric in root["_aws"]["CloudWatchMetrics"][0]["Metrics"]
                .as_array()
                .unwrap()
            {
                names.insert(format!("{function}:{}", metric["Name"].as_str().unwrap()));
            }
        }
    }
    for expected in [
        "api:lzstock_lambda_cold_starts_total",
        "api:lzstock_lambda_invocations_total",
        "api:lzstock_lambda_duration_seconds",
        "api:lzstock_http_requests_total",
        "events:lzstock_lambda_invocations_total",
        "events:lzstock_events_delivered_total",
        "events:lzstock_events_acked_total",
        "events:lzstock_emails_sent_total",
    ] {
        assert!(names.contains(expected), "{expected} not in {names:?}");
    }
}

fn tempfile_path(name: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(format!(
        "lzstock-{name}-{}-{}.jsonl",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos()
    ))
}

#[tokio::test(flavor = "multi_thread")]
async fn on_lambda_sigterm_flushes_and_exits_cleanly() {
    let (db, bus) = tokio::join!(database(), nats());
    let mut env = base_env();
    env.push(("DATABASE_URL".into(), db.url.clone()));
    env.extend(bus.env());
    let emulator = tokio::task::block_in_place(LambdaEmulator::start).unwrap();
    let mut function = emulator.run_function(EVENTS.as_ref(), &env).unwrap();
    // One invocation first: the function is past init and waiting for its next event.
    let answer = emulator
        .invoke(&serde_json::json!({"records": []}))
        .await
        .unwrap();
    assert_eq!(
        answer["batchItemFailures"],
        serde_json::json!([]),
        "{answer}"
    );
    // What Lambda does when an extension is registered and the sandbox shuts down.
    let status = function.terminate(Duration::from_secs(10));
    assert_eq!(
        status.and_then(|s| s.code()),
        Some(0),
        "exited by its handler, not killed by the signal"
    );
}
