//! The bridge core against a real JetStream, with in-process handlers: how records are
//! settled, how the consumer recovers, and in-progress acks.

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_nats::jetstream::consumer::pull;
use async_nats::HeaderMap;
use futures::StreamExt;
use lzstock_harness::{nats, TestNats};
use lzstock_shim::backoff::Backoff;
use lzstock_shim::batch::{BatchResponse, MessageBatch, MessageRecord, Outcome};
use lzstock_shim::bridge::replay::{self, ReplayFrom};
use lzstock_shim::bridge::settings::{StartPosition, DEFAULT_MAX_INVOKE_BYTES};
use lzstock_shim::bridge::{
    self, advisory, dead_letter_headers as h, BridgeMetrics, ConsumerSettings, InProcess, Invoke,
    InvokeError,
};

mod durable;
mod in_progress;
mod recovery;
mod settling;

fn settings(bus: &TestNats, durable: &str) -> ConsumerSettings {
    ConsumerSettings {
        stream: bus.streams.events.clone(),
        durable: durable.to_owned(),
        filter_subjects: vec![bus.streams.events_wildcard()],
        batch_size: 10,
        max_wait: Duration::from_millis(200),
        max_deliver: 5,
        ack_wait: Duration::from_secs(5),
        max_ack_pending: 100,
        concurrency: 4,
        dead_letter_prefix: "dlq".into(),
        backoff: Backoff {
            base: Duration::from_millis(300),
            max: Duration::from_secs(2),
        },
        invoke_timeout: Duration::from_secs(30),
        max_invoke_bytes: DEFAULT_MAX_INVOKE_BYTES,
        start: StartPosition::All,
    }
}

async fn publish(bus: &TestNats, name: &str, id: &str) -> u64 {
    let mut headers = HeaderMap::new();
    headers.insert("Nats-Msg-Id", id);
    bus.jetstream
        .publish_with_headers(bus.streams.subject(name), headers, "{}".into())
        .await
        .expect("publish")
        .await
        .expect("stored")
        .sequence
}

/// Runs a consumer with `invoker` while `check` runs, then shuts it down and waits for it.
async fn while_consuming<I: Invoke, T>(
    bus: &TestNats,
    settings: &ConsumerSettings,
    invoker: &I,
    metrics: &BridgeMetrics,
    check: impl Future<Output = T>,
) -> T {
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let shutdown = async move {
        let mut stopped = stopped;
        let _ = stopped.changed().await;
    };
    let consuming = bridge::run(&bus.jetstream, settings, invoker, metrics, shutdown);
    let checking = async {
        let out = check.await;
        stop.send(true).expect("consumer still running");
        out
    };
    let (consumed, out) = tokio::join!(consuming, checking);
    consumed.expect("consumer ran");
    out
}

/// [`while_consuming`] with the default [`settings`] under `durable`; returns `check`'s
/// output and the consumer's metrics.
async fn consuming<I: Invoke, T>(
    bus: &TestNats,
    durable: &str,
    invoker: &I,
    check: impl Future<Output = T>,
) -> (T, BridgeMetrics) {
    let metrics = BridgeMetrics::new();
    let out = while_consuming(bus, &settings(bus, durable), invoker, &metrics, check).await;
    (out, metrics)
}

/// Waits until `done` holds, for at most 20 s.
async fn eventually(mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !done() {
        assert!(Instant::now() < deadline, "condition not reached in 20 s");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn dead_letters(bus: &TestNats, count: usize) -> Vec<async_nats::jetstream::Message> {
    let consumer = bus
        .jetstream
        .get_stream(&bus.streams.dead_letters)
        .await
        .expect("dlq stream")
        .create_consumer(pull::Config::default())
        .await
        .expect("dlq consumer");
    let mut messages = consumer.messages().await.expect("dlq messages");
    let mut letters = Vec::new();
    while letters.len() < count {
        let next = tokio::time::timeout(Duration::from_secs(20), messages.next())
            .await
            .expect("dead letter in time")
            .expect("dlq stream open")
            .expect("dead letter");
        letters.push(next);
    }
    letters
}

fn header(message: &async_nats::jetstream::Message, name: &str) -> String {
    message
        .headers
        .as_ref()
        .and_then(|h| h.get(name))
        .map(|v| v.as_str().to_owned())
        .unwrap_or_default()
}
