//! The standalone consumer against a real JetStream.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_nats::HeaderMap;
use lzstock_harness::nats;
use lzstock_shim::batch::{MessageRecord, Outcome};
use lzstock_shim::consumer::{self, ConsumerSettings};

fn settings(stream: &str, filter: String, ack_wait: Duration) -> ConsumerSettings {
    ConsumerSettings {
        stream: stream.to_owned(),
        durable: "slow".into(),
        filter_subjects: vec![filter],
        batch_size: 1,
        max_wait: Duration::from_millis(200),
        max_deliver: 5,
        ack_wait,
        max_ack_pending: 10,
        concurrency: 1,
        dead_letter_prefix: "dlq".into(),
    }
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
    let settings = settings(
        &bus.streams.events,
        bus.streams.events_wildcard(),
        Duration::from_secs(1),
    );
    // Two replicas share the durable consumer, as two processes would: without in-progress
    // acks, the second receives the message again once ack_wait passes.
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let until_stopped = || {
        let mut stopped = stopped.clone();
        async move {
            let _ = stopped.changed().await;
        }
    };
    let first = consumer::run(&bus.jetstream, &settings, &handler, until_stopped());
    let second = consumer::run(&bus.jetstream, &settings, &handler, until_stopped());
    let checking = async {
        let mut headers = HeaderMap::new();
        headers.insert("Nats-Msg-Id", "slow-1");
        bus.jetstream
            .publish_with_headers(bus.streams.subject("slow"), headers, "{}".into())
            .await
            .unwrap()
            .await
            .unwrap();

        tokio::time::sleep(Duration::from_secs(6)).await;
        let mut consumer = bus
            .jetstream
            .get_stream(&bus.streams.events)
            .await
            .unwrap()
            .get_consumer::<async_nats::jetstream::consumer::pull::Config>("slow")
            .await
            .unwrap();
        let info = consumer.info().await.unwrap().clone();
        stop.send(true).unwrap();
        info
    };
    let (first, second, info) = tokio::join!(first, second, checking);
    first.unwrap();
    second.unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 1, "handled once");
    assert_eq!(
        (info.num_ack_pending, info.num_redelivered),
        (0, 0),
        "{info:?}"
    );
}
