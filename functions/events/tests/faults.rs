//! The events function through infrastructure faults: every event applied exactly once,
//! none dead-lettered.

use std::time::Duration;

use async_nats::HeaderMap;
use lzstock_harness::{base_env, database, database_on, nats, nats_on, NatsServer, PostgresServer};

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

#[tokio::test(flavor = "multi_thread")]
async fn postgres_down_for_seconds_loses_and_doubles_nothing() {
    let mut server = tokio::task::block_in_place(PostgresServer::start).unwrap();
    let (db, bus) = tokio::join!(database_on(&server), nats());
    let _function = tokio::process::Command::new(EVENTS)
        .envs(base_env())
        .env("DATABASE_URL", &db.url)
        .envs(bus.env())
        .env("EVENTS_CONSUMER", "events-faults")
        .env_remove("AWS_LAMBDA_RUNTIME_API")
        .kill_on_drop(true)
        .spawn()
        .unwrap();

    let publish = |n: usize| {
        let js = bus.jetstream.clone();
        let subject = bus.streams.subject("users.signed_up");
        async move {
            let (id, body) = sign_up(n);
            let mut headers = HeaderMap::new();
            headers.insert("Nats-Msg-Id", id.as_str());
            js.publish_with_headers(subject, headers, body.into())
                .await
                .unwrap()
                .await
                .unwrap();
        }
    };
    for n in 0..5 {
        publish(n).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;

    tokio::task::block_in_place(|| server.stop());
    for n in 5..15 {
        publish(n).await;
    }
    tokio::time::sleep(Duration::from_secs(5)).await;
    tokio::task::block_in_place(|| server.resume()).unwrap();
    for n in 15..20 {
        publish(n).await;
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
    let _function = tokio::process::Command::new(EVENTS)
        .envs(base_env())
        .env("DATABASE_URL", &db.url)
        .envs(bus.env())
        .env("EVENTS_CONSUMER", "events-restart")
        .env_remove("AWS_LAMBDA_RUNTIME_API")
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let publish = |n: usize| {
        let js = bus.jetstream.clone();
        let subject = bus.streams.subject("users.signed_up");
        async move {
            let (id, body) = sign_up(n);
            // The client may still be reconnecting: retry until the stream acknowledges.
            loop {
                let mut headers = HeaderMap::new();
                headers.insert("Nats-Msg-Id", id.as_str());
                if let Ok(ack) = js
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
    };
    for n in 0..10 {
        publish(n).await;
    }
    tokio::task::block_in_place(|| server.stop());
    tokio::time::sleep(Duration::from_secs(2)).await;
    tokio::task::block_in_place(|| server.resume()).unwrap();
    for n in 10..20 {
        publish(n).await;
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
