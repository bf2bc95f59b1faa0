//! The events function through infrastructure faults: every event applied exactly once,
//! none dead-lettered.

use std::time::Duration;

use async_nats::HeaderMap;
use lzstock_harness::{
    base_env, database, database_on, nats, nats_on, NatsServer, PostgresServer, TestNats,
};

const EVENTS: &str = env!("CARGO_BIN_EXE_events");

fn sign_up(n: usize) -> (String, String) {
    let id = format!("evt-fault-{n}");
    let body = serde_json::json!({
        "id": id,
        "occurred_at": "2026-11-23T10:00:00Z",
        "request": {"email": format!("user{n}@example.com"), "name": "User"},
        "response": {"userId": format!("user-{n}")},
    })
    .to_string();
    (id, body)
}

/// The events function, standalone, consuming `bus`'s streams with durable `consumer`.
fn spawn_events(database_url: &str, bus: &TestNats, consumer: &str) -> tokio::process::Child {
    tokio::process::Command::new(EVENTS)
        .envs(base_env())
        .env("DATABASE_URL", database_url)
        .envs(bus.env())
        .env("EVENTS_CONSUMER", consumer)
        .env_remove("AWS_LAMBDA_RUNTIME_API")
        .kill_on_drop(true)
        .spawn()
        .expect("the events function starts")
}

/// Publishes sign-up `n`, retrying until the stream acknowledges (the client may be
/// reconnecting).
async fn publish_sign_up(bus: &TestNats, n: usize) {
    let subject = bus.streams.subject("users.signed_up");
    let (id, body) = sign_up(n);
    loop {
        let mut headers = HeaderMap::new();
        headers.insert("Nats-Msg-Id", id.as_str());
        if let Ok(ack) = bus
            .jetstream
            .publish_with_headers(subject.clone(), headers, body.clone().into())
            .await
        {
            if ack.await.is_ok() {
                return;
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn postgres_down_for_seconds_loses_and_doubles_nothing() {
    let mut server = tokio::task::block_in_place(PostgresServer::start).unwrap();
    let (db, bus) = tokio::join!(database_on(&server), nats());
    let _function = spawn_events(&db.url, &bus, "events-faults");

    for n in 0..5 {
        publish_sign_up(&bus, n).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;

    tokio::task::block_in_place(|| server.stop());
    for n in 5..15 {
        publish_sign_up(&bus, n).await;
    }
    tokio::time::sleep(Duration::from_secs(5)).await;
    tokio::task::block_in_place(|| server.resume()).unwrap();
    for n in 15..20 {
        publish_sign_up(&bus, n).await;
    }

    let pool = lzstock_infra::postgres::pool(&db.url, 2).unwrap();
    let applied = tokio::time::timeout(Duration::from_secs(60), async {
        loop {
            let count: Result<i64, _> = sqlx::query_scalar(
                "SELECT count(DISTINCT owner_id) FROM dashboards WHERE owner_id LIKE 'user-%'",
            )
            .fetch_one(&pool)
            .await;
            if let Ok(20) = count {
                return;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    })
    .await;
    assert!(applied.is_ok(), "all 20 sign-ups applied after the outage");
    bus.wait_settled("events-faults", bus.last_sequence().await)
        .await;
    let total: i64 = sqlx::query_scalar("SELECT count(*) FROM dashboards")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(total, 20, "no event applied twice");
    assert_eq!(bus.dead_letter_count().await, 0, "nothing dead-lettered");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_nats_restart_mid_stream_loses_nothing() {
    let mut server = tokio::task::block_in_place(NatsServer::start).unwrap();
    let (db, bus) = tokio::join!(database(), nats_on(&server));
    let _function = spawn_events(&db.url, &bus, "events-restart");
    for n in 0..10 {
        publish_sign_up(&bus, n).await;
    }
    tokio::task::block_in_place(|| server.stop());
    tokio::time::sleep(Duration::from_secs(2)).await;
    tokio::task::block_in_place(|| server.resume()).unwrap();
    for n in 10..20 {
        publish_sign_up(&bus, n).await;
    }
    let applied = tokio::time::timeout(Duration::from_secs(60), async {
        loop {
            let count: i64 = sqlx::query_scalar("SELECT count(*) FROM dashboards")
                .fetch_one(&db.pool)
                .await
                .unwrap();
            if count >= 20 {
                return count;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    })
    .await
    .expect("all 20 sign-ups applied across the restart");
    bus.wait_settled("events-restart", bus.last_sequence().await)
        .await;
    let total: i64 = sqlx::query_scalar("SELECT count(*) FROM dashboards")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!((applied, total), (20, 20));
}

#[tokio::test(flavor = "multi_thread")]
async fn sigkill_mid_batch_between_commit_and_ack_applies_every_event_once() {
    const EVENTS_TOTAL: usize = 200;
    let (db, bus) = tokio::join!(database(), nats());
    for n in 0..EVENTS_TOTAL {
        publish_sign_up(&bus, n).await;
    }
    let spawn = || {
        tokio::process::Command::new(EVENTS)
            .envs(base_env())
            .env("DATABASE_URL", &db.url)
            .envs(bus.env())
            .env("EVENTS_CONSUMER", "events-killed")
            // Big batches: acks go out only once the whole batch is handled, so a kill
            // while it runs lands after some commits and before their acks. Each record
            // commits on its own here, so commits show while the batch runs (with one commit
            // per batch the window is the moment between the commit and the acks;
            // `postgres_stopped_mid_batch_applies_nothing_twice` covers that mode).
            .env("EVENTS_BATCH_SIZE", "50")
            .env("EVENTS_COMMIT", "record")
            // Unacknowledged messages come back to the restarted process after this.
            .env("EVENTS_ACK_WAIT_MS", "2000")
            .env_remove("AWS_LAMBDA_RUNTIME_API")
            .kill_on_drop(true)
            .spawn()
            .expect("the events function starts")
    };
    let processed = || async {
        sqlx::query_scalar::<_, i64>("SELECT count(*) FROM processed_events")
            .fetch_one(&db.pool)
            .await
            .expect("count")
    };

    let mut committed_unacked = 0;
    for round in 1..=3 {
        let mut function = spawn();
        let target = i64::try_from(round * EVENTS_TOTAL / 5).expect("small");
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        while processed().await < target {
            assert!(
                std::time::Instant::now() < deadline,
                "no progress in round {round}"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        function.start_kill().expect("SIGKILL");
        function.wait().await.expect("killed");
        let committed = processed().await;
        let acked = bus
            .consumer_info("events-killed")
            .await
            .ack_floor
            .stream_sequence;
        committed_unacked += committed.saturating_sub(i64::try_from(acked).expect("small"));
    }
    assert!(
        committed_unacked > 0,
        "no kill landed between a commit and its ack"
    );

    let _function = spawn();
    let applied = tokio::time::timeout(Duration::from_secs(90), async {
        loop {
            let info = bus.consumer_info("events-killed").await;
            if info.num_pending == 0 && info.num_ack_pending == 0 {
                return;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    })
    .await;
    assert!(applied.is_ok(), "every event settled after the kills");
    let (total, owners): (i64, i64) =
        sqlx::query_as("SELECT count(*), count(DISTINCT owner_id) FROM dashboards")
            .fetch_one(&db.pool)
            .await
            .expect("counts");
    let expected = i64::try_from(EVENTS_TOTAL).expect("small");
    assert_eq!(
        (total, owners),
        (expected, expected),
        "each sign-up applied exactly once"
    );
    assert_eq!(processed().await, expected);
    assert_eq!(bus.dead_letter_count().await, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn postgres_stopped_mid_batch_applies_nothing_twice() {
    const TOTAL: i64 = 20;
    let mut server = tokio::task::block_in_place(PostgresServer::start).unwrap();
    let (db, bus) = tokio::join!(database_on(&server), nats());
    for n in 0..20 {
        publish_sign_up(&bus, n).await;
    }
    // A session of the test's holds user-7's contact uncommitted: the batch that carries
    // sign-up 7 applies the records before it, then waits on that row inside its
    // transaction, where the outage finds it.
    let mut holder = db.pool.begin().await.unwrap();
    sqlx::query(
        "INSERT INTO user_contacts (user_id, address) VALUES ('user-7', 'held@example.com')",
    )
    .execute(&mut *holder)
    .await
    .unwrap();
    let _function = tokio::process::Command::new(EVENTS)
        .envs(base_env())
        .env("DATABASE_URL", &db.url)
        .envs(bus.env())
        .env("EVENTS_CONSUMER", "events-mid-batch")
        .env("EVENTS_BATCH_SIZE", "20")
        .env_remove("AWS_LAMBDA_RUNTIME_API")
        .kill_on_drop(true)
        .spawn()
        .expect("the events function starts");
    let waiting = tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            let waiting: i64 = sqlx::query_scalar(
                "SELECT count(*) FROM pg_stat_activity
                 WHERE datname = current_database() AND wait_event_type = 'Lock'
                   AND backend_xid IS NOT NULL",
            )
            .fetch_one(&db.pool)
            .await
            .unwrap();
            if waiting > 0 {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    assert!(
        waiting.is_ok(),
        "the batch reached sign-up 7 and waits on it"
    );
    let committed_before: i64 = sqlx::query_scalar("SELECT count(*) FROM processed_events")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert!(
        committed_before < 7,
        "the records before sign-up 7 in its batch are not committed yet ({committed_before})"
    );

    tokio::task::block_in_place(|| server.stop());
    drop(holder);
    tokio::time::sleep(Duration::from_secs(1)).await;
    tokio::task::block_in_place(|| server.resume()).unwrap();

    let pool = lzstock_infra::postgres::pool(&db.url, 2).unwrap();
    let counts = || async {
        sqlx::query_as::<_, (i64, i64, i64, i64)>(
            "SELECT (SELECT count(*) FROM dashboards),
                    (SELECT count(DISTINCT owner_id) FROM dashboards),
                    (SELECT count(*) FROM processed_events),
                    (SELECT count(*) FROM outbox)",
        )
        .fetch_one(&pool)
        .await
    };
    let applied = tokio::time::timeout(Duration::from_secs(60), async {
        loop {
            if let Ok((_, TOTAL, _, _)) = counts().await {
                return;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    })
    .await;
    assert!(applied.is_ok(), "all 20 sign-ups applied after the outage");
    bus.wait_settled("events-mid-batch", bus.last_sequence().await)
        .await;
    assert_eq!(
        counts().await.unwrap(),
        (TOTAL, TOTAL, TOTAL, TOTAL),
        "dashboards, owners, processed events and announcements: each once"
    );
    let held: String =
        sqlx::query_scalar("SELECT address FROM user_contacts WHERE user_id = 'user-7'")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(
        held, "user7@example.com",
        "the test's uncommitted row died with the outage"
    );
    assert_eq!(bus.dead_letter_count().await, 0, "nothing dead-lettered");
}
