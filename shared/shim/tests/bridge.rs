//! The bridge core against a real JetStream, with in-process handlers.

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_nats::jetstream::consumer::pull;
use async_nats::HeaderMap;
use futures::StreamExt;
use lzstock_harness::{nats, TestNats};
use lzstock_shim::batch::{BatchResponse, MessageBatch, MessageRecord, Outcome};
use lzstock_shim::bridge::replay::{self, ReplayFrom};
use lzstock_shim::bridge::{
    self, advisory, dead_letter_headers as h, BridgeMetrics, ConsumerSettings, InProcess, Invoke,
    InvokeError,
};
use lzstock_shim::envelope::Backoff;

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

#[tokio::test(flavor = "multi_thread")]
async fn a_retryable_failure_is_redelivered_after_the_backoff_and_then_succeeds() {
    let bus = nats().await;
    let deliveries = Arc::new(Mutex::new(Vec::<(u64, Instant)>::new()));
    let seen = Arc::clone(&deliveries);
    let handler = move |record: MessageRecord| {
        seen.lock()
            .expect("lock")
            .push((record.deliveries, Instant::now()));
        async move {
            if record.deliveries < 3 {
                Outcome::Retry {
                    delay: Duration::from_millis(700),
                }
            } else {
                Outcome::Ack
            }
        }
    };
    let settings = settings(&bus, "retrying");
    let metrics = BridgeMetrics::new();
    while_consuming(
        &bus,
        &settings,
        &InProcess::new(&handler, 1),
        &metrics,
        async {
            publish(&bus, "flaky", "flaky-1").await;
            eventually(|| deliveries.lock().expect("lock").len() == 3).await;
            tokio::time::sleep(Duration::from_millis(300)).await;
        },
    )
    .await;
    let deliveries = deliveries.lock().expect("lock").clone();
    let counts: Vec<u64> = deliveries.iter().map(|(n, _)| *n).collect();
    assert_eq!(counts, [1, 2, 3]);
    for pair in deliveries.windows(2) {
        // The nak carried the delay: a bare nak would come back within milliseconds.
        assert!(
            pair[1].1 - pair[0].1 >= Duration::from_millis(650),
            "{pair:?}"
        );
    }
    let text = metrics.render();
    let subject = bus.streams.subject("flaky");
    assert!(
        text.contains(&format!(
            "lzstock_bridge_messages_retried_total{{subject=\"{subject}\"}} 2"
        )),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "lzstock_bridge_messages_acked_total{{subject=\"{subject}\"}} 1"
        )),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "lzstock_bridge_messages_delivered_total{{subject=\"{subject}\"}} 3"
        )),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_message_that_keeps_failing_is_dead_lettered_after_max_deliver() {
    let bus = nats().await;
    let calls = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&calls);
    let handler = move |_: MessageRecord| {
        counted.fetch_add(1, Ordering::SeqCst);
        async {
            Outcome::Retry {
                delay: Duration::from_millis(100),
            }
        }
    };
    let mut settings = settings(&bus, "hopeless");
    settings.max_deliver = 3;
    let metrics = BridgeMetrics::new();
    let letters = while_consuming(
        &bus,
        &settings,
        &InProcess::new(&handler, 1),
        &metrics,
        async {
            let sequence = publish(&bus, "hopeless", "hopeless-1").await;
            (sequence, dead_letters(&bus, 1).await)
        },
    )
    .await;
    let (sequence, letters) = letters;
    assert_eq!(calls.load(Ordering::SeqCst), 3);
    let letter = &letters[0];
    assert_eq!(
        letter.subject.as_str(),
        format!("dlq.{}", bus.streams.subject("hopeless"))
    );
    assert_eq!(header(letter, h::DELIVERIES), "3");
    assert_eq!(header(letter, h::REASON), "gave up after 3 deliveries");
    assert_eq!(header(letter, h::ORIGINAL_SEQUENCE), sequence.to_string());
    assert_eq!(header(letter, h::EVENT_ID), "hopeless-1");
    assert!(metrics
        .render()
        .contains("lzstock_bridge_messages_dead_lettered_total"));
}

/// A function that fails as a whole (crashed, unreachable) for its first `failures` calls.
struct Crashing {
    failures: usize,
    calls: AtomicUsize,
    handled: Mutex<Vec<u64>>,
}

impl Invoke for Crashing {
    async fn invoke(&self, batch: &MessageBatch) -> Result<BatchResponse, InvokeError> {
        if self.calls.fetch_add(1, Ordering::SeqCst) < self.failures {
            return Err(InvokeError::Function {
                function: "crashing".into(),
                detail: "Runtime.ExitError".into(),
            });
        }
        let mut handled = self.handled.lock().expect("lock");
        handled.extend(batch.records.iter().map(|r| r.stream_sequence));
        Ok(BatchResponse::default())
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failed_invoke_naks_the_whole_batch_with_backoff_and_it_is_handled_later() {
    let bus = nats().await;
    let function = Crashing {
        failures: 2,
        calls: AtomicUsize::new(0),
        handled: Mutex::new(Vec::new()),
    };
    let settings = settings(&bus, "crashing");
    let metrics = BridgeMetrics::new();
    let mut published = Vec::new();
    while_consuming(&bus, &settings, &function, &metrics, async {
        for i in 0..3 {
            published.push(publish(&bus, "batch", &format!("batch-{i}")).await);
        }
        eventually(|| function.handled.lock().expect("lock").len() >= 3).await;
        tokio::time::sleep(Duration::from_millis(500)).await;
    })
    .await;
    let mut handled = function.handled.lock().expect("lock").clone();
    handled.sort_unstable();
    assert_eq!(handled, published, "each handled once after the crashes");
    let info = bus.consumer_info("crashing").await;
    assert_eq!((info.num_ack_pending, info.num_pending), (0, 0), "{info:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_consumer_deleted_under_the_bridge_is_re_created_and_nothing_is_missed() {
    let bus = nats().await;
    let handled = Arc::new(Mutex::new(Vec::<String>::new()));
    let seen = Arc::clone(&handled);
    let handler = move |record: MessageRecord| {
        seen.lock()
            .expect("lock")
            .push(record.header("Nats-Msg-Id").unwrap_or_default().to_owned());
        async { Outcome::Ack }
    };
    let settings = settings(&bus, "resubscribing");
    let metrics = BridgeMetrics::new();
    while_consuming(
        &bus,
        &settings,
        &InProcess::new(&handler, 1),
        &metrics,
        async {
            publish(&bus, "before", "before").await;
            eventually(|| handled.lock().expect("lock").len() == 1).await;
            bus.jetstream
                .get_stream(&bus.streams.events)
                .await
                .expect("stream")
                .delete_consumer("resubscribing")
                .await
                .expect("deleted");
            publish(&bus, "after", "after").await;
            eventually(|| handled.lock().expect("lock").len() >= 2).await;
        },
    )
    .await;
    let handled = handled.lock().expect("lock").clone();
    assert!(handled.contains(&"after".to_owned()), "{handled:?}");
    assert!(metrics
        .render()
        .contains("lzstock_bridge_consumer_stalls_total{route=\"resubscribing\"}"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_message_that_ran_out_of_deliveries_with_no_bridge_is_dead_lettered_from_the_advisory() {
    let bus = nats().await;
    advisory::provision(&bus.jetstream, &bus.streams.events)
        .await
        .expect("advisory stream");
    // A bridge that takes the message and dies, twice, on a consumer allowing two deliveries.
    let consumer = bus
        .jetstream
        .get_stream(&bus.streams.events)
        .await
        .expect("stream")
        .create_consumer(pull::Config {
            durable_name: Some("crashed".into()),
            ack_wait: Duration::from_millis(500),
            max_deliver: 2,
            ..Default::default()
        })
        .await
        .expect("consumer");
    let sequence = publish(&bus, "orphan", "orphan-1").await;
    for _ in 0..2 {
        let mut batch = consumer
            .fetch()
            .max_messages(1)
            .expires(Duration::from_secs(2))
            .messages()
            .await
            .expect("fetch");
        let message = batch.next().await.expect("delivered").expect("message");
        drop(message); // never acked
        tokio::time::sleep(Duration::from_millis(700)).await;
    }
    // The next pull (a bridge coming back) makes the server give the message up: it raises
    // the advisory, with nobody listening yet, and delivers nothing.
    let mut batch = consumer
        .fetch()
        .max_messages(1)
        .expires(Duration::from_secs(1))
        .messages()
        .await
        .expect("fetch");
    assert!(batch.next().await.is_none(), "no third delivery");
    // A listener starting now still finds the advisory.
    let metrics = BridgeMetrics::new();
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let listening = advisory::run(
        &bus.jetstream,
        &bus.streams.events,
        "dlq",
        &metrics,
        async move {
            let mut stopped = stopped;
            let _ = stopped.changed().await;
        },
    );
    let checking = async {
        let letters = dead_letters(&bus, 1).await;
        stop.send(true).expect("listener running");
        letters
    };
    let (stored, letters) = tokio::join!(listening, checking);
    assert_eq!(stored.expect("listener ran"), 1);
    let letter = &letters[0];
    assert_eq!(header(letter, h::ORIGINAL_SEQUENCE), sequence.to_string());
    assert_eq!(header(letter, h::DELIVERIES), "2");
    assert!(
        header(letter, h::REASON).contains("ran out of deliveries"),
        "{letter:?}"
    );
    assert_eq!(header(letter, h::EVENT_ID), "orphan-1");
}

#[tokio::test(flavor = "multi_thread")]
async fn replay_re_delivers_history_from_a_sequence_to_the_route() {
    let bus = nats().await;
    let mut sequences = Vec::new();
    for i in 0..4 {
        sequences.push(publish(&bus, "history", &format!("history-{i}")).await);
    }
    publish(&bus, "elsewhere", "not-this-route").await;
    let handled = Arc::new(Mutex::new(Vec::<u64>::new()));
    let seen = Arc::clone(&handled);
    let handler = move |record: MessageRecord| {
        seen.lock().expect("lock").push(record.stream_sequence);
        async { Outcome::Ack }
    };
    let mut settings = settings(&bus, "history");
    settings.filter_subjects = vec![bus.streams.subject("history")];
    settings.batch_size = 2;
    let mut reports = 0;
    let summary = replay::replay(
        &bus.jetstream,
        &settings,
        ReplayFrom::Sequence(sequences[1]),
        &InProcess::new(&handler, 1),
        |_| reports += 1,
    )
    .await
    .expect("replayed");
    let mut handled = handled.lock().expect("lock").clone();
    handled.sort_unstable();
    assert_eq!(handled, sequences[1..]);
    assert_eq!(
        (summary.delivered, summary.acked, summary.dead_lettered),
        (3, 3, 0)
    );
    assert_eq!(reports, 2, "progress after each batch");
}

#[tokio::test(flavor = "multi_thread")]
async fn shutdown_during_a_batch_finishes_and_acks_it_before_returning() {
    let bus = nats().await;
    let started = Arc::new(tokio::sync::Notify::new());
    let notify = Arc::clone(&started);
    let handler = move |_: MessageRecord| {
        let notify = Arc::clone(&notify);
        async move {
            notify.notify_one();
            tokio::time::sleep(Duration::from_secs(1)).await;
            Outcome::Ack
        }
    };
    let settings = settings(&bus, "draining");
    let metrics = BridgeMetrics::new();
    while_consuming(
        &bus,
        &settings,
        &InProcess::new(&handler, 1),
        &metrics,
        async {
            publish(&bus, "slow", "slow-1").await;
            // Stop as soon as the handler starts: the consumer must still finish and ack.
            started.notified().await;
        },
    )
    .await;
    let info = bus.consumer_info("draining").await;
    assert_eq!(
        (info.ack_floor.stream_sequence, info.num_ack_pending),
        (1, 0),
        "{info:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_handler_slower_than_ack_wait_is_kept_in_progress_not_redelivered() {
    let bus = nats().await;
    let calls = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&calls);
    let handler = move |_: MessageRecord| {
        let counted = Arc::clone(&counted);
        async move {
            counted.fetch_add(1, Ordering::SeqCst);
            // Three times the ack wait.
            tokio::time::sleep(Duration::from_secs(3)).await;
            Outcome::Ack
        }
    };
    let mut settings = settings(&bus, "slow");
    settings.batch_size = 1;
    settings.ack_wait = Duration::from_secs(1);
    // Two replicas share the durable consumer, as two processes would: without in-progress
    // acks, the second receives the message again once ack_wait passes.
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let until_stopped = || {
        let mut stopped = stopped.clone();
        async move {
            let _ = stopped.changed().await;
        }
    };
    let invoker = InProcess::new(&handler, 1);
    let metrics = BridgeMetrics::new();
    let first = bridge::run(
        &bus.jetstream,
        &settings,
        &invoker,
        &metrics,
        until_stopped(),
    );
    let second = bridge::run(
        &bus.jetstream,
        &settings,
        &invoker,
        &metrics,
        until_stopped(),
    );
    let checking = async {
        publish(&bus, "slow", "slow-1").await;
        tokio::time::sleep(Duration::from_secs(6)).await;
        let info = bus.consumer_info("slow").await;
        stop.send(true).expect("consumers running");
        info
    };
    let (first, second, info) = tokio::join!(first, second, checking);
    first.expect("first ran");
    second.expect("second ran");
    assert_eq!(calls.load(Ordering::SeqCst), 1, "handled once");
    assert_eq!(
        (info.num_ack_pending, info.num_redelivered),
        (0, 0),
        "{info:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_batch_fetched_while_a_slow_one_runs_is_kept_in_progress_too() {
    let bus = nats().await;
    let calls = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&calls);
    let handler = move |_: MessageRecord| {
        let counted = Arc::clone(&counted);
        async move {
            counted.fetch_add(1, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_secs(3)).await;
            Outcome::Ack
        }
    };
    let mut settings = settings(&bus, "prefetching");
    settings.batch_size = 1;
    settings.ack_wait = Duration::from_secs(1);
    let metrics = BridgeMetrics::new();
    let info = while_consuming(
        &bus,
        &settings,
        &InProcess::new(&handler, 1),
        &metrics,
        async {
            publish(&bus, "slow", "slow-1").await;
            publish(&bus, "slow", "slow-2").await;
            // The second waits ~3 s, fetched, behind the first: three times the ack wait.
            eventually(|| calls.load(Ordering::SeqCst) == 2).await;
            tokio::time::sleep(Duration::from_millis(3500)).await;
            bus.consumer_info("prefetching").await
        },
    )
    .await;
    assert_eq!(calls.load(Ordering::SeqCst), 2, "each handled once");
    assert_eq!(
        (info.num_ack_pending, info.num_redelivered),
        (0, 0),
        "{info:?}"
    );
}
