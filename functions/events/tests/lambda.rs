//! The events binary under both hosts: a batch through `cargo lambda watch`, and its own
//! JetStream consumer standalone.

use std::time::Duration;

use async_nats::HeaderMap;
use futures::StreamExt;
use lzstock_harness::lambda::LambdaEmulator;
use lzstock_harness::{base_env, database, nats};
use serde_json::{json, Value};

const EVENTS: &str = env!("CARGO_BIN_EXE_events");

#[tokio::test(flavor = "multi_thread")]
async fn answers_a_batch_under_cargo_lambda_watch() {
    let (db, bus) = tokio::join!(database(), nats());
    let mut env = base_env();
    env.push(("DATABASE_URL".into(), db.url));
    env.extend(bus.env());
    let emulator = tokio::task::block_in_place(LambdaEmulator::start).unwrap();
    let _function = emulator.run_function(EVENTS.as_ref(), &env).unwrap();

    let batch: Value = serde_json::from_str(include_str!("fixtures/message-batch.json")).unwrap();
    let response = emulator.invoke(&batch).await.unwrap();

    // No subject has a route yet: both records are reported as poison, with the reason.
    assert_eq!(
        response,
        json!({"batchItemFailures": [
            {"itemIdentifier": "1", "reject_reason": "no route for subject lzstock.users.signed_up"},
            {"itemIdentifier": "2", "reject_reason": "no route for subject lzstock.dashboards.created"},
        ]})
    );
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
