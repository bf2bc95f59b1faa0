//! `nats-bridge dlq list` and `nats-bridge redrive`: a sign-up dead-lettered while the
//! database was down is applied exactly once after the cause is fixed and it is redriven.

use std::time::Duration;

use async_nats::HeaderMap;
use lzstock_harness::{base_env, database_on, nats, process, PostgresServer};

const BRIDGE: &str = env!("CARGO_BIN_EXE_nats-bridge");

async fn bridge(args: &[&str], env: &[(String, String)]) -> (String, String) {
    let output = tokio::process::Command::new(BRIDGE)
        .args(args)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .output()
        .await
        .expect("nats-bridge runs");
    assert!(output.status.success(), "{output:?}");
    (
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn a_redriven_dead_letter_is_applied_once_after_the_cause_is_fixed() {
    let mut postgres = tokio::task::block_in_place(PostgresServer::start).unwrap();
    let (db, bus) = tokio::join!(database_on(&postgres), nats());
    tokio::task::block_in_place(|| postgres.stop());

    let _events = tokio::process::Command::new(process::workspace_binary("events"))
        .envs(base_env())
        .env("DATABASE_URL", &db.url)
        .envs(bus.env())
        .env("EVENTS_CONSUMER", "events-redrive")
        .env("EVENTS_MAX_DELIVER", "1")
        .env_remove("AWS_LAMBDA_RUNTIME_API")
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let subject = bus.streams.subject("users.signed_up");
    let body = serde_json::json!({
        "id": "evt-redrive",
        "occurred_at": "2026-11-23T10:00:00Z",
        "request": {"email": "ada@example.com", "name": "Ada"},
        "response": {"userId": "user-redrive"},
    });
    let mut headers = HeaderMap::new();
    headers.insert("Nats-Msg-Id", "evt-redrive");
    bus.jetstream
        .publish_with_headers(subject.clone(), headers, body.to_string().into())
        .await
        .unwrap()
        .await
        .unwrap();

    let mut env: Vec<(String, String)> = bus.env();
    env.push(("PORT".into(), process::free_port().to_string()));
    let listed = tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            let (stdout, _) = bridge(&["dlq", "list"], &env).await;
            if !stdout.is_empty() {
                return stdout;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    })
    .await
    .expect("the event is dead-lettered while the database is down");
    assert!(listed.contains(&subject), "{listed}");
    assert!(listed.contains("event=evt-redrive"), "{listed}");
    assert!(listed.contains("gave up after 1 deliveries"), "{listed}");

    // The cause is fixed; redrive.
    tokio::task::block_in_place(|| postgres.resume()).unwrap();
    let (_, summary) = bridge(&["redrive", "--subject", &subject], &env).await;
    assert!(summary.contains("1 dead letter(s) redriven"), "{summary}");

    let pool = lzstock_infra::postgres::pool(&db.url, 2).unwrap();
    let count = || async {
        sqlx::query_scalar::<_, i64>(
            "SELECT count(*) FROM dashboards WHERE owner_id = 'user-redrive'",
        )
        .fetch_one(&pool)
        .await
        .unwrap_or(0)
    };
    tokio::time::timeout(Duration::from_secs(30), async {
        while count().await == 0 {
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    })
    .await
    .expect("the redriven event is applied");

    let (_, again) = bridge(&["redrive"], &env).await;
    assert!(again.contains("0 dead letter(s) redriven"), "{again}");
    let (stdout, _) = bridge(&["dlq", "list"], &env).await;
    assert!(
        stdout.is_empty(),
        "the dead-letter stream is empty: {stdout}"
    );
    // Once the consumer has settled everything the stream holds, nothing more can come.
    bus.wait_settled("events-redrive", bus.last_sequence().await)
        .await;
    assert_eq!(count().await, 1, "applied exactly once");
}
