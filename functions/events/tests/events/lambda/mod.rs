//! The events binary under both hosts: a batch through `cargo lambda watch`, and its own
//! JetStream consumer standalone.

use std::time::Duration;

use async_nats::HeaderMap;
use futures::StreamExt;
use lzstock_harness::lambda::LambdaEmulator;
use lzstock_harness::{base_env, database, nats};
use serde_json::Value;

const EVENTS: &str = env!("CARGO_BIN_EXE_events");

#[tokio::test(flavor = "multi_thread")]
async fn answers_a_batch_under_cargo_lambda_watch() {
    let (db, bus) = tokio::join!(database(), nats());
    let mut env = base_env();
    env.push(("DATABASE_URL".into(), db.url.clone()));
    env.extend(bus.env());
    // The fixture's subjects are under the production root.
    env.retain(|(k, _)| k != "EVENTS_SUBJECT_ROOT");
    let emulator = tokio::task::block_in_place(LambdaEmulator::start).unwrap();
    let _function = emulator.run_function(EVENTS.as_ref(), &env).unwrap();

    let batch: Value =
        serde_json::from_str(include_str!("../../../../../events/events-batch.json")).unwrap();
    let response = emulator.invoke(&batch).await.unwrap();

    // Only failures are reported: the good sign-up is done, the other two are poison.
    let failures = response["batchItemFailures"].as_array().unwrap();
    assert_eq!(failures.len(), 2, "{response}");
    assert_eq!(failures[0]["itemIdentifier"], "2");
    assert!(failures[0]["reject_reason"]
        .as_str()
        .unwrap()
        .contains("envelope"));
    assert_eq!(failures[1]["itemIdentifier"], "3");
    assert_eq!(
        failures[1]["reject_reason"],
        "no route for subject lzstock.nobody.listens"
    );
    let names: Vec<String> =
        sqlx::query_scalar("SELECT name FROM dashboards WHERE owner_id = 'user-lambda'")
            .fetch_all(&db.pool)
            .await
            .unwrap();
    assert_eq!(names, ["My first dashboard"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn consumes_jetstream_standalone_and_dead_letters_what_it_cannot_route() {
    let (db, bus) = tokio::join!(database(), nats());
    let mut function = tokio::process::Command::new(EVENTS)
        .envs(base_env())
        .env("DATABASE_URL", &db.url)
        .envs(bus.env())
        .env("EVENTS_CONSUMER", "events-test")
        .env_remove("AWS_LAMBDA_RUNTIME_API")
        .kill_on_drop(true)
        .spawn()
        .unwrap();

    let subject = bus.streams.subject("nobody.listens");
    let mut headers = HeaderMap::new();
    headers.insert("Nats-Msg-Id", "evt-1");
    let stored = bus
        .jetstream
        .publish_with_headers(subject.clone(), headers, r#"{"id":"evt-1"}"#.into())
        .await
        .unwrap()
        .await
        .unwrap();

    let mut dead_letters = bus
        .client
        .subscribe(format!("dlq.{subject}"))
        .await
        .unwrap();
    let dlq = bus
        .jetstream
        .get_stream(&bus.streams.dead_letters)
        .await
        .unwrap();
    let letter = tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            if let Ok(message) = dlq.get_raw_message(1).await {
                return message;
            }
            tokio::select! {
                _ = dead_letters.next() => {}
                () = tokio::time::sleep(Duration::from_millis(100)) => {}
            }
        }
    })
    .await
    .expect("the message is dead-lettered");

    assert_eq!(letter.subject.as_str(), format!("dlq.{subject}"));
    assert_eq!(&letter.payload[..], br#"{"id":"evt-1"}"#);
    let header = |name: &str| {
        letter
            .headers
            .get(name)
            .map(|v| v.as_str().to_owned())
            .unwrap_or_default()
    };
    assert_eq!(header("LZStock-Original-Subject"), subject);
    assert_eq!(
        header("LZStock-Original-Sequence"),
        stored.sequence.to_string()
    );
    assert_eq!(header("LZStock-Deliveries"), "1");
    assert_eq!(
        header("LZStock-Reason"),
        format!("no route for subject {subject}")
    );

    function.kill().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_sign_up_published_to_jetstream_twice_has_one_effect() {
    let (db, bus) = tokio::join!(database(), nats());
    let _function = tokio::process::Command::new(EVENTS)
        .envs(base_env())
        .env("DATABASE_URL", &db.url)
        .envs(bus.env())
        .env("EVENTS_CONSUMER", "events-signup")
        .env_remove("AWS_LAMBDA_RUNTIME_API")
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let body = serde_json::json!({
        "id": "evt-js-1",
        "occurred_at": "2026-11-23T10:00:00Z",
        "request": {"email": "grace@example.com", "name": "Grace"},
        "response": {"userId": "user-js"},
    })
    .to_string();
    for _ in 0..2 {
        let mut headers = HeaderMap::new();
        headers.insert("Nats-Msg-Id", "evt-js-1");
        bus.jetstream
            .publish_with_headers(
                bus.streams.subject("users.signed_up"),
                headers,
                body.clone().into(),
            )
            .await
            .unwrap()
            .await
            .unwrap();
    }
    let created = tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            let names: Vec<String> =
                sqlx::query_scalar("SELECT name FROM dashboards WHERE owner_id = 'user-js'")
                    .fetch_all(&db.pool)
                    .await
                    .unwrap();
            if !names.is_empty() {
                return names;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await
    .expect("the consumer applies the event");
    // A second copy, had the stream kept one, is settled once the consumer is through the
    // last sequence.
    bus.wait_settled("events-signup", bus.last_sequence().await)
        .await;
    let count: i64 =
        sqlx::query_scalar("SELECT count(*) FROM dashboards WHERE owner_id = 'user-js'")
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert_eq!((created.len(), count), (1, 1));
}

mod on_lambda;
