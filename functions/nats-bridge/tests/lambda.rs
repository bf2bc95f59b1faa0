//! The bridge pulling JetStream and invoking the events function through the Lambda
//! Invoke API of `cargo lambda watch`: the production path, end to end.

use std::time::{Duration, Instant};

use async_nats::HeaderMap;
use lzstock_harness::lambda::LambdaEmulator;
use lzstock_harness::{base_env, database, nats, process, TestNats};

const BRIDGE: &str = env!("CARGO_BIN_EXE_nats-bridge");

async fn publish(bus: &TestNats, id: &str, body: String) {
    let mut headers = HeaderMap::new();
    headers.insert("Nats-Msg-Id", id);
    headers.insert(
        "traceparent",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
    );
    bus.jetstream
        .publish_with_headers(bus.streams.subject("users.signed_up"), headers, body.into())
        .await
        .expect("publish")
        .await
        .expect("stored");
}

fn sign_up(n: usize) -> String {
    serde_json::json!({
        "id": format!("evt-bridge-{n}"),
        "occurred_at": "2026-11-23T10:00:00Z",
        "request": {"email": format!("user{n}@example.com"), "name": "User"},
        "response": {"userId": format!("bridge-user-{n}")},
    })
    .to_string()
}

/// The variables that point the bridge at the emulator's Invoke API.
fn bridge_env(bus: &TestNats, emulator: &LambdaEmulator) -> Vec<(String, String)> {
    let mut env = bus.env();
    env.extend(
        [
            ("BRIDGE_FUNCTION", "_"),
            ("BRIDGE_MAX_WAIT_MS", "200"),
            ("AWS_REGION", "us-east-1"),
            ("AWS_ACCESS_KEY_ID", "local"),
            ("AWS_SECRET_ACCESS_KEY", "local"),
            ("RUST_LOG", "info"),
        ]
        .map(|(k, v)| (k.to_owned(), v.to_owned())),
    );
    env.push(("AWS_ENDPOINT_URL_LAMBDA".into(), emulator.endpoint()));
    env
}

async fn dashboards(pool: &sqlx::PgPool) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM dashboards WHERE owner_id LIKE 'bridge-user-%'")
        .fetch_one(pool)
        .await
        .expect("count")
}

#[tokio::test(flavor = "multi_thread")]
async fn the_bridge_invokes_the_events_function_and_settles_every_record() {
    let (db, bus) = tokio::join!(database(), nats());
    let emulator = tokio::task::block_in_place(LambdaEmulator::start).expect("emulator");
    let mut function_env = base_env();
    function_env.push(("DATABASE_URL".into(), db.url.clone()));
    function_env.extend(bus.env());
    let _function = emulator
        .run_function(&process::workspace_binary("events"), &function_env)
        .expect("events function");

    let port = process::free_port();
    let env = bridge_env(&bus, &emulator);
    let mut bridge = tokio::process::Command::new(BRIDGE)
        .envs(env.iter().cloned())
        .env("PORT", port.to_string())
        .kill_on_drop(true)
        .spawn()
        .expect("bridge");

    for n in 0..5 {
        publish(&bus, &format!("evt-bridge-{n}"), sign_up(n)).await;
    }
    // The same event again: the stream's duplicate window drops it.
    publish(&bus, "evt-bridge-0", sign_up(0)).await;
    publish(&bus, "evt-bridge-bad", "{not json".to_owned()).await;

    let deadline = Instant::now() + Duration::from_secs(60);
    while dashboards(&db.pool).await < 5 {
        assert!(
            Instant::now() < deadline,
            "sign-ups not applied through the bridge"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let letters = loop {
        let found = lzstock_shim::bridge::dead_letters::list(
            &bus.jetstream,
            &bus.streams.dead_letters,
            &Default::default(),
        )
        .await
        .expect("dead letters");
        if !found.is_empty() || Instant::now() > deadline {
            break found;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(letters.len(), 1, "{letters:?}");
    assert_eq!(letters[0].event_id, "evt-bridge-bad");
    assert_eq!(letters[0].deliveries, "1", "poison is not retried");
    assert!(letters[0].reason.contains("envelope"), "{letters:?}");

    let metrics = reqwest::get(format!("http://127.0.0.1:{port}/metrics"))
        .await
        .expect("metrics")
        .text()
        .await
        .expect("metrics body");
    let subject = bus.streams.subject("users.signed_up");
    for line in [
        format!("lzstock_bridge_messages_delivered_total{{subject=\"{subject}\"}} 6"),
        format!("lzstock_bridge_messages_acked_total{{subject=\"{subject}\"}} 5"),
        format!("lzstock_bridge_messages_rejected_total{{subject=\"{subject}\"}} 1"),
        format!("lzstock_bridge_messages_dead_lettered_total{{subject=\"{subject}\"}} 1"),
        "lzstock_bridge_invoke_duration_seconds_count{route=\"bridge\"}".to_owned(),
        "lzstock_bridge_messages_pending{route=\"bridge\"} 0".to_owned(),
    ] {
        assert!(metrics.contains(&line), "{line} missing in\n{metrics}");
    }

    // Replaying the whole history through the function applies nothing twice.
    let replay = tokio::process::Command::new(BRIDGE)
        .envs(env.iter().cloned())
        .args(["replay", "--from-sequence", "1"])
        .output()
        .await
        .expect("replay runs");
    let report = String::from_utf8_lossy(&replay.stderr);
    assert!(replay.status.success(), "{report}");
    assert!(
        report.contains("replayed 6 message(s): 5 handled, 1 dead-lettered"),
        "{report}"
    );
    assert_eq!(dashboards(&db.pool).await, 5);

    // SIGTERM: the bridge drains and exits 0.
    process::signal_pid(bridge.id().expect("pid"), libc::SIGTERM);
    let status = tokio::time::timeout(Duration::from_secs(20), bridge.wait())
        .await
        .expect("the bridge stops after SIGTERM")
        .expect("exit status");
    assert!(status.success(), "{status:?}");
}
