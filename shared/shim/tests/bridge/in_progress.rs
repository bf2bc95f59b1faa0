//! In-progress acks: a slow handler, and a batch fetched while another runs.

use super::*;

/// A handler taking three seconds a message (three times [`one_at_a_time`]'s ack wait),
/// counting its calls in `calls`.
fn slow_handler(
    calls: &Arc<AtomicUsize>,
) -> impl Fn(MessageRecord) -> std::pin::Pin<Box<dyn Future<Output = Outcome> + Send>> + Send + Sync
{
    let calls = Arc::clone(calls);
    move |_: MessageRecord| {
        let calls = Arc::clone(&calls);
        Box::pin(async move {
            calls.fetch_add(1, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_secs(3)).await;
            Outcome::Ack
        })
    }
}

/// One message a batch, and a one-second ack wait.
fn one_at_a_time(bus: &TestNats, durable: &str) -> ConsumerSettings {
    let mut settings = settings(bus, durable);
    settings.batch_size = 1;
    settings.ack_wait = Duration::from_secs(1);
    settings
}

#[tokio::test(flavor = "multi_thread")]
async fn a_handler_slower_than_ack_wait_is_kept_in_progress_not_redelivered() {
    let bus = nats().await;
    let calls = Arc::new(AtomicUsize::new(0));
    let handler = slow_handler(&calls);
    let settings = one_at_a_time(&bus, "slow");
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
        let sequence = publish(&bus, "slow", "slow-1").await;
        // Once acknowledged, no redelivery can come: a handler started for one would have
        // been counted before the ack.
        bus.wait_settled("slow", sequence).await;
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
    let handler = slow_handler(&calls);
    let settings = one_at_a_time(&bus, "prefetching");
    let metrics = BridgeMetrics::new();
    let info = while_consuming(
        &bus,
        &settings,
        &InProcess::new(&handler, 1),
        &metrics,
        async {
            publish(&bus, "slow", "slow-1").await;
            let last = publish(&bus, "slow", "slow-2").await;
            // The second waits ~3 s, fetched, behind the first: three times the ack wait.
            eventually(|| calls.load(Ordering::SeqCst) == 2).await;
            bus.wait_settled("prefetching", last).await;
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
