//! The bridge binary against what crosses its boundaries: a function's answer it cannot
//! trust, messages too large for one invoke, settings changed between runs, and a SIGTERM
//! in the middle of a steady stream. The function is a stand-in Invoke API over HTTP.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use async_nats::HeaderMap;
use futures::StreamExt;
use lzstock_harness::invoke_api::{Answer, InvokeEndpoint, LAMBDA_PAYLOAD_LIMIT};
use lzstock_harness::{nats, process, TestNats};
use lzstock_shim::batch::MessageBatch;
use lzstock_shim::bridge::dead_letter_headers as h;
use serde_json::json;

const BRIDGE: &str = env!("CARGO_BIN_EXE_nats-bridge");

fn spawn(
    bus: &TestNats,
    endpoint: &InvokeEndpoint,
    extra: &[(&str, &str)],
) -> tokio::process::Child {
    tokio::process::Command::new(BRIDGE)
        .envs(bus.env())
        .envs(endpoint.env())
        .env("BRIDGE_FUNCTION", "events")
        .env("BRIDGE_MAX_WAIT_MS", "200")
        .env("PORT", process::free_port().to_string())
        .env("RUST_LOG", "error")
        .envs(extra.iter().map(|(k, v)| (*k, *v)))
        .kill_on_drop(true)
        .spawn()
        .expect("bridge")
}

async fn publish(bus: &TestNats, id: &str, body: Vec<u8>) -> u64 {
    let mut headers = HeaderMap::new();
    headers.insert("Nats-Msg-Id", id);
    bus.jetstream
        .publish_with_headers(bus.streams.subject("things.happened"), headers, body.into())
        .await
        .expect("publish")
        .await
        .expect("stored")
        .sequence
}

/// Waits until the route's consumer has acknowledged everything up to `last`: the positive
/// signal that the bridge settled every message it will settle.
async fn settled_through(bus: &TestNats, last: u64) {
    let deadline = Instant::now() + Duration::from_secs(90);
    let stream = bus
        .jetstream
        .get_stream(&bus.streams.events)
        .await
        .expect("events stream");
    loop {
        // The consumer exists once the bridge has started.
        let info = stream.consumer_info("bridge").await.ok();
        if info
            .as_ref()
            .is_some_and(|info| info.ack_floor.stream_sequence >= last && info.num_ack_pending == 0)
        {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "not settled through {last}: {info:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Every dead letter in the stream.
async fn dead_letters(bus: &TestNats) -> Vec<async_nats::jetstream::Message> {
    let count = usize::try_from(bus.dead_letter_count().await).expect("small");
    if count == 0 {
        return Vec::new();
    }
    let consumer = bus
        .jetstream
        .get_stream(&bus.streams.dead_letters)
        .await
        .expect("dlq stream")
        .create_consumer(async_nats::jetstream::consumer::pull::Config::default())
        .await
        .expect("dlq consumer");
    let mut batch = consumer
        .fetch()
        .max_messages(count)
        .expires(Duration::from_secs(5))
        .messages()
        .await
        .expect("fetch");
    let mut letters = Vec::new();
    while let Some(message) = batch.next().await {
        letters.push(message.expect("dead letter"));
    }
    letters
}

fn header(message: &async_nats::jetstream::Message, name: &str) -> String {
    message
        .headers
        .as_ref()
        .and_then(|headers| headers.get(name))
        .map(|value| value.as_str().to_owned())
        .unwrap_or_default()
}

fn failures(batch: &MessageBatch, reason: impl Fn(u64) -> Option<String>) -> serde_json::Value {
    let failures: Vec<_> = batch
        .records
        .iter()
        .filter_map(|record| {
            reason(record.stream_sequence).map(|reason| {
                json!({"itemIdentifier": record.item_identifier(), "reject_reason": reason})
            })
        })
        .collect();
    json!({ "batchItemFailures": failures })
}

#[tokio::test(flavor = "multi_thread")]
async fn reasons_with_control_characters_or_100_kb_are_dead_lettered_cleanly_and_the_bridge_stays_up(
) {
    let bus = nats().await;
    let reasons: HashMap<u64, String> = HashMap::from([
        (1, "first line\r\nsecond line".to_owned()),
        (2, "a NUL \0 inside".to_owned()),
        (3, "x".repeat(100 * 1024)),
    ]);
    let answered = reasons.clone();
    let endpoint = InvokeEndpoint::start(LAMBDA_PAYLOAD_LIMIT, move |batch| {
        // Sequence 4: the function itself fails, with a multi-line error document.
        if batch.records.iter().any(|r| r.stream_sequence == 4) {
            return Answer::Failed(json!({
                "errorType": "Panic",
                "errorMessage": "thread panicked\nat src/main.rs:1\r\nstack backtrace: ...",
            }));
        }
        Answer::Returned(failures(batch, |sequence| answered.get(&sequence).cloned()))
    })
    .await;
    for n in 1..=4 {
        publish(&bus, &format!("poison-{n}"), b"{}".to_vec()).await;
    }
    // One delivery each: a record whose invoke failed is dead-lettered at once too.
    let mut bridge = spawn(
        &bus,
        &endpoint,
        &[("BRIDGE_MAX_DELIVER", "1"), ("BRIDGE_BATCH_SIZE", "1")],
    );
    settled_through(&bus, 4).await;
    // A healthy message after the poison is still handled: the bridge is up and working.
    let healthy = publish(&bus, "healthy", b"{}".to_vec()).await;
    settled_through(&bus, healthy).await;
    assert!(
        bridge.try_wait().expect("status").is_none(),
        "the bridge exited"
    );

    let letters = dead_letters(&bus).await;
    let mut sequences: Vec<String> = letters
        .iter()
        .map(|l| header(l, h::ORIGINAL_SEQUENCE))
        .collect();
    sequences.sort();
    assert_eq!(sequences, ["1", "2", "3", "4"], "each dead-lettered once");
    for letter in &letters {
        let reason = header(letter, h::REASON);
        assert!(
            !reason.chars().any(char::is_control),
            "control character in {reason:?}"
        );
        assert!(reason.len() <= 1024, "{} bytes", reason.len());
        assert!(!reason.is_empty());
    }
    let reason_of = |sequence: &str| {
        letters
            .iter()
            .find(|l| header(l, h::ORIGINAL_SEQUENCE) == sequence)
            .map(|l| header(l, h::REASON))
            .unwrap_or_default()
    };
    assert_eq!(reason_of("1"), "first line  second line");
    assert_eq!(reason_of("2"), "a NUL   inside");
    assert!(reason_of("3").starts_with("xxxx") && reason_of("3").ends_with('…'));
    assert!(
        reason_of("4").contains("thread panicked"),
        "{}",
        reason_of("4")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn ten_900_kb_messages_in_one_batch_are_invoked_in_parts_under_the_limit() {
    let bus = nats().await;
    let endpoint = InvokeEndpoint::start(LAMBDA_PAYLOAD_LIMIT, |_| {
        Answer::Returned(json!({"batchItemFailures": []}))
    })
    .await;
    let mut last = 0;
    for n in 0..10_u8 {
        last = publish(&bus, &format!("big-{n}"), vec![b'a' + n; 900 * 1024]).await;
    }
    let _bridge = spawn(&bus, &endpoint, &[("BRIDGE_BATCH_SIZE", "10")]);
    settled_through(&bus, last).await;

    assert_eq!(bus.dead_letter_count().await, 0);
    assert_eq!(endpoint.refused(), 0, "no invoke went over the limit");
    let accepted = endpoint.accepted();
    let mut seen: Vec<u64> = accepted
        .iter()
        .flat_map(|i| i.records.iter().map(|(sequence, _)| *sequence))
        .collect();
    seen.sort_unstable();
    assert_eq!(seen, (1..=10).collect::<Vec<_>>(), "each invoked once");
    assert!(accepted.len() >= 3, "{} invokes", accepted.len());
    assert!(accepted.iter().all(|i| i.bytes <= LAMBDA_PAYLOAD_LIMIT));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_message_too_large_for_any_invoke_is_dead_lettered_at_once() {
    let bus = nats().await;
    let endpoint = InvokeEndpoint::start(LAMBDA_PAYLOAD_LIMIT, |_| {
        Answer::Returned(json!({"batchItemFailures": []}))
    })
    .await;
    publish(&bus, "small-1", b"{}".to_vec()).await;
    publish(&bus, "huge", vec![b'z'; 200 * 1024]).await;
    let last = publish(&bus, "small-2", b"{}".to_vec()).await;
    let _bridge = spawn(&bus, &endpoint, &[("BRIDGE_MAX_INVOKE_BYTES", "100000")]);
    settled_through(&bus, last).await;
    let letters = dead_letters(&bus).await;
    assert_eq!(letters.len(), 1);
    assert_eq!(header(&letters[0], h::DELIVERIES), "1");
    assert!(header(&letters[0], h::REASON).contains("more than one invoke may carry"));
    let seen: Vec<u64> = endpoint
        .accepted()
        .iter()
        .flat_map(|i| i.records.iter().map(|(s, _)| *s))
        .collect();
    assert_eq!(seen, [1, 3]);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_restart_with_changed_settings_updates_the_existing_durable() {
    let bus = nats().await;
    let endpoint =
        InvokeEndpoint::start(LAMBDA_PAYLOAD_LIMIT, |_| Answer::Returned(json!({}))).await;
    let last = publish(&bus, "one", b"{}".to_vec()).await;
    let mut bridge = spawn(&bus, &endpoint, &[("BRIDGE_MAX_DELIVER", "5")]);
    settled_through(&bus, last).await;
    assert_eq!(bus.consumer_info("bridge").await.config.max_deliver, 5);
    process::signal_pid(bridge.id().expect("pid"), libc::SIGTERM);
    bridge.wait().await.expect("stopped");

    let _bridge = spawn(
        &bus,
        &endpoint,
        &[("BRIDGE_MAX_DELIVER", "3"), ("BRIDGE_ACK_WAIT_MS", "12000")],
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let config = bus.consumer_info("bridge").await.config;
        if config.max_deliver == 3 {
            assert_eq!(config.ack_wait, Duration::from_secs(12));
            break;
        }
        assert!(Instant::now() < deadline, "still {config:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Updated in place, not re-created: what was acknowledged stays acknowledged.
    let more = publish(&bus, "two", b"{}".to_vec()).await;
    settled_through(&bus, more).await;
    let sequences: Vec<u64> = endpoint
        .accepted()
        .iter()
        .flat_map(|i| i.records.iter().map(|(s, _)| *s))
        .collect();
    assert_eq!(sequences, [1, 2]);
}

mod load;
