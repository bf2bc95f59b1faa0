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
    tokio::time::sleep(Duration::from_secs(1)).await;
    let total: i64 = sqlx::query_scalar("SELECT count(*) FROM dashboards")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(total, 20, "no event applied twice");
    let mut dlq = bus
        .jetstream
        .get_stream(&bus.streams.dead_letters)
        .await
        .unwrap();
    assert_eq!(
        dlq.info().await.unwrap().state.messages,
        0,
        "nothing dead-lettered"
    );
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
    tokio::time::sleep(Duration::from_secs(1)).await;
    let total: i64 = sqlx::query_scalar("SELECT count(*) FROM dashboards")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!((applied, total), (20, 20));
}
