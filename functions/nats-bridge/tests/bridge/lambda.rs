//! The bridge pulling JetStream and invoking the events function through the Lambda
//! Invoke API of `cargo lambda watch`: the production path, end to end.

use std::time::{Duration, Instant};

use async_nats::HeaderMap;
use lzstock_harness::lambda::LambdaEmulator;
use lzstock_harness::{base_env, database, nats, process, TestNats};

const BRIDGE: &str = env!("CARGO_BIN_EXE_nats-bridge");

async fn publish(bus: &TestNats, id: &str, body: String) {
    publish_to(bus, "users.signed_up", id, body).await;
}

async fn publish_to(bus: &TestNats, subject: &str, id: &str, body: String) {
    let mut headers = HeaderMap::new();
    headers.insert("Nats-Msg-Id", id);
    headers.insert(
        "traceparent",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
    );
    bus.jetstream
        .publish_with_headers(bus.streams.subject(subject), headers, body.into())
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

/// Starts the events function behind `emulator`, on `db` and `bus`, with `extra` settings.
fn events_function(
    emulator: &LambdaEmulator,
    db: &lzstock_harness::TestDatabase,
    bus: &TestNats,
    extra: &[(&str, &str)],
) -> lzstock_harness::lambda::LambdaFunction {
    let mut env = base_env();
    env.push(("DATABASE_URL".into(), db.url.clone()));
    env.extend(bus.env());
    env.extend(
        extra
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
    );
    emulator
        .run_function(&process::workspace_binary("events"), &env)
        .expect("events function")
}

#[tokio::test(flavor = "multi_thread")]
async fn the_bridge_invokes_the_events_function_and_settles_every_record() {
    let (db, bus) = tokio::join!(database(), nats());
    let emulator = tokio::task::block_in_place(LambdaEmulator::start).expect("emulator");
    let _function = events_function(&emulator, &db, &bus, &[]);

    let port = process::free_port();
    let env = bridge_env(&bus, &emulator);
    let mut bridge = tokio::process::Command::new(BRIDGE)
        .envs(env.iter().cloned())
        .env("PORT", port.to_string())
        .env("BRIDGE_BATCHES_IN_FLIGHT", "2")
        .kill_on_drop(true)
        .spawn()
        .expect("bridge");

    for n in 0..5 {
        publish(&bus, &format!("evt-bridge-{n}"), sign_up(n)).await;
    }
    // The same event again: the stream's duplicate window drops it.
    publish(&bus, "evt-bridge-0", sign_up(0)).await;
    // Poison of three kinds, each dead-lettered after one delivery; then a good event, which
    // shows the consumer kept going.
    publish(&bus, "evt-bridge-bad", "{not json".to_owned()).await;
    let wrong = serde_json::json!({
        "id": "evt-bridge-wrong", "occurred_at": "2026-11-23T10:00:00Z",
        "request": {"email": 5, "name": "User"}, "response": {"userId": "nobody"},
    });
    publish(&bus, "evt-bridge-wrong", wrong.to_string()).await;
    publish_to(
        &bus,
        "nobody.listens",
        "evt-bridge-unroutable",
        "{}".to_owned(),
    )
    .await;
    publish(&bus, "evt-bridge-5", sign_up(5)).await;

    let deadline = Instant::now() + Duration::from_secs(60);
    while dashboards(&db.pool).await < 6 {
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
        if found.len() >= 3 || Instant::now() > deadline {
            break found;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(letters.len(), 3, "{letters:?}");
    for letter in &letters {
        assert_eq!(letter.deliveries, "1", "poison is not retried: {letter:?}");
    }
    let reason_of = |id: &str| {
        letters
            .iter()
            .find(|l| l.event_id == id)
            .map(|l| l.reason.clone())
            .unwrap_or_else(|| panic!("{id} not dead-lettered: {letters:?}"))
    };
    assert!(reason_of("evt-bridge-bad").contains("envelope"));
    assert!(reason_of("evt-bridge-wrong").contains("envelope"));
    assert!(reason_of("evt-bridge-unroutable").contains("no route"));

    let subject = bus.streams.subject("users.signed_up");
    let expected = [
        format!("lzstock_bridge_messages_delivered_total{{subject=\"{subject}\"}} 8"),
        format!("lzstock_bridge_messages_acked_total{{subject=\"{subject}\"}} 6"),
        format!("lzstock_bridge_messages_rejected_total{{subject=\"{subject}\"}} 2"),
        format!("lzstock_bridge_messages_dead_lettered_total{{subject=\"{subject}\"}} 2"),
        format!(
            "lzstock_bridge_messages_dead_lettered_total{{subject=\"{}\"}} 1",
            bus.streams.subject("nobody.listens")
        ),
        "lzstock_bridge_invoke_duration_seconds_count{route=\"bridge\"}".to_owned(),
        "lzstock_bridge_messages_pending{route=\"bridge\"} 0".to_owned(),
        "lzstock_bridge_messages_ack_pending{route=\"bridge\"} 0".to_owned(),
        "lzstock_bridge_max_ack_pending{route=\"bridge\"}".to_owned(),
        "lzstock_bridge_invoke_duration_seconds_bucket{route=\"bridge\",le=\"0.001\"}".to_owned(),
    ];
    // The last batch may still be settling: read until the counters are complete.
    loop {
        let metrics = reqwest::get(format!("http://127.0.0.1:{port}/metrics"))
            .await
            .expect("metrics")
            .text()
            .await
            .expect("metrics body");
        let missing: Vec<&String> = expected.iter().filter(|l| !metrics.contains(*l)).collect();
        if missing.is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{missing:?} missing in\n{metrics}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // Two pull loops share the route's consumer: idle, each has a pull request waiting.
    while bus.consumer_info("bridge").await.num_waiting != 2 {
        assert!(
            Instant::now() < deadline,
            "{:?}",
            bus.consumer_info("bridge").await
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
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
        report.contains("replayed 9 message(s): 6 handled, 3 dead-lettered"),
        "{report}"
    );
    assert_eq!(dashboards(&db.pool).await, 6);

    // SIGTERM: the bridge drains and exits 0.
    process::signal_pid(bridge.id().expect("pid"), libc::SIGTERM);
    let status = tokio::time::timeout(Duration::from_secs(20), bridge.wait())
        .await
        .expect("the bridge stops after SIGTERM")
        .expect("exit status");
    assert!(status.success(), "{status:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_bridge_killed_mid_batch_and_restarted_applies_every_event_once() {
    const TOTAL: usize = 100;
    let (db, bus) = tokio::join!(database(), nats());
    let emulator = tokio::task::block_in_place(LambdaEmulator::start).expect("emulator");
    // Each record commits on its own, so commits show while a batch is still with the
    // function and the kill can land between them and the bridge's ack. (With one commit
    // per batch that window is the few milliseconds between the commit and the answer;
    // the standalone consumer's kill test covers that mode.)
    let _function = events_function(&emulator, &db, &bus, &[("EVENTS_COMMIT", "record")]);
    for n in 0..TOTAL {
        publish(&bus, &format!("evt-bridge-{n}"), sign_up(n)).await;
    }
    let mut env = bridge_env(&bus, &emulator);
    env.push(("BRIDGE_BATCH_SIZE".into(), "25".into()));
    // What the killed bridge held comes back to the restarted one after this.
    env.push(("BRIDGE_ACK_WAIT_MS".into(), "2000".into()));
    let spawn = || {
        tokio::process::Command::new(BRIDGE)
            .envs(env.iter().cloned())
            .env("PORT", process::free_port().to_string())
            .kill_on_drop(true)
            .spawn()
            .expect("bridge")
    };

    let mut bridge = spawn();
    let deadline = Instant::now() + Duration::from_secs(60);
    while dashboards(&db.pool).await < 10 {
        assert!(Instant::now() < deadline, "no progress before the kill");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // SIGKILL while a batch is with the function: it commits with no bridge left to ack.
    bridge.start_kill().expect("SIGKILL");
    bridge.wait().await.expect("killed");
    tokio::time::sleep(Duration::from_millis(500)).await;
    let committed = dashboards(&db.pool).await;
    let acked = bus.consumer_info("bridge").await.ack_floor.stream_sequence;
    assert!(
        u64::try_from(committed).expect("positive") > acked,
        "the kill landed after every commit was acked ({committed} committed, {acked} acked)"
    );

    let _bridge = spawn();
    loop {
        let info = bus.consumer_info("bridge").await;
        if info.num_pending == 0 && info.num_ack_pending == 0 {
            break;
        }
        assert!(
            Instant::now() < deadline + Duration::from_secs(60),
            "{info:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let (total, owners): (i64, i64) = sqlx::query_as(
        "SELECT count(*), count(DISTINCT owner_id) FROM dashboards WHERE owner_id LIKE 'bridge-user-%'",
    )
    .fetch_one(&db.pool)
    .await
    .expect("counts");
    let expected = i64::try_from(TOTAL).expect("small");
    assert_eq!(
        (total, owners),
        (expected, expected),
        "each sign-up applied exactly once"
    );
    assert_eq!(bus.dead_letter_count().await, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn two_bridges_share_a_route_and_the_survivor_finishes_what_a_killed_one_held() {
    use lzstock_harness::cluster::NatsCluster;

    let cluster = tokio::task::block_in_place(|| NatsCluster::start(3)).expect("cluster");
    let (db, bus) = tokio::join!(database(), lzstock_harness::nats_on_cluster(&cluster));
    let emulator = tokio::task::block_in_place(LambdaEmulator::start).expect("emulator");
    let _function = events_function(&emulator, &db, &bus, &[]);
    let env = bridge_env(&bus, &emulator);
    // What a killed bridge held comes back after ack_wait.
    let bridge = |port: u16| {
        tokio::process::Command::new(BRIDGE)
            .envs(env.iter().cloned())
            .env("PORT", port.to_string())
            .env("NATS_STREAM_REPLICAS", "3")
            .env("BRIDGE_ACK_WAIT_MS", "3000")
            .env("BRIDGE_BATCH_SIZE", "5")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("bridge")
    };
    let mut first = bridge(process::free_port());
    let _second = bridge(process::free_port());

    const SIGN_UPS: usize = 200;
    for n in 0..SIGN_UPS {
        publish(&bus, &format!("evt-bridge-{n}"), sign_up(n)).await;
    }
    // Killed while the work is under way: some applied, not all.
    let deadline = Instant::now() + Duration::from_secs(60);
    while dashboards(&db.pool).await < 20 {
        assert!(Instant::now() < deadline, "nothing applied");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    first.kill().await.expect("killed");
    let killed_at = dashboards(&db.pool).await;
    assert!(killed_at < SIGN_UPS as i64, "killed before the end");

    let deadline = Instant::now() + Duration::from_secs(120);
    while dashboards(&db.pool).await < SIGN_UPS as i64 {
        assert!(
            Instant::now() < deadline,
            "the surviving bridge did not finish: {} of {SIGN_UPS}",
            dashboards(&db.pool).await
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    bus.wait_settled("bridge", bus.last_sequence().await).await;
    assert_eq!(
        dashboards(&db.pool).await,
        SIGN_UPS as i64,
        "each applied once"
    );
    assert_eq!(bus.dead_letter_count().await, 0, "nothing dead-lettered");
}
