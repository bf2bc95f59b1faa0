//! A consumer deleted under the bridge, advisories of messages out of deliveries, replay,
//! and the graceful drain.

use super::*;

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
    let ((), metrics) = consuming(&bus, "resubscribing", &InProcess::new(&handler, 1), async {
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
    })
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
    advisory::provision(&bus.jetstream, &bus.streams.events, None)
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
async fn replay_from_a_time_starts_at_the_first_message_stored_after_it() {
    let bus = nats().await;
    publish(&bus, "timed", "before-1").await;
    publish(&bus, "timed", "before-2").await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    let since = chrono::Utc::now();
    tokio::time::sleep(Duration::from_millis(50)).await;
    let after = [
        publish(&bus, "timed", "after-1").await,
        publish(&bus, "timed", "after-2").await,
    ];
    let handled = Arc::new(Mutex::new(Vec::<u64>::new()));
    let seen = Arc::clone(&handled);
    let handler = move |record: MessageRecord| {
        seen.lock().expect("lock").push(record.stream_sequence);
        async { Outcome::Ack }
    };
    let summary = replay::replay(
        &bus.jetstream,
        &settings(&bus, "timed"),
        ReplayFrom::Time(since),
        &InProcess::new(&handler, 1),
        |_| {},
    )
    .await
    .expect("replayed");
    let mut handled = handled.lock().expect("lock").clone();
    handled.sort_unstable();
    assert_eq!(handled, after);
    assert_eq!(summary.acked, 2);
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
    consuming(&bus, "draining", &InProcess::new(&handler, 1), async {
        publish(&bus, "slow", "slow-1").await;
        // Stop as soon as the handler starts: the consumer must still finish and ack.
        started.notified().await;
    })
    .await;
    let info = bus.consumer_info("draining").await;
    assert_eq!(
        (info.ack_floor.stream_sequence, info.num_ack_pending),
        (1, 0),
        "{info:?}"
    );
}

/// A function whose first invoke panics inside the bridge's loop (as a bug in an `Invoke`
/// would), and which answers normally after that.
struct PanicsOnce {
    calls: AtomicUsize,
}

impl Invoke for PanicsOnce {
    async fn invoke(&self, batch: &MessageBatch) -> Result<BatchResponse, InvokeError> {
        assert!(
            self.calls.fetch_add(1, Ordering::SeqCst) > 0,
            "a bug in the first invoke"
        );
        let _ = batch;
        Ok(BatchResponse::default())
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_route_loop_that_panics_is_restarted_and_its_message_handled_after_ack_wait() {
    let bus = nats().await;
    let mut settings = settings(&bus, "panicky");
    settings.ack_wait = Duration::from_secs(1);
    let function = PanicsOnce {
        calls: AtomicUsize::new(0),
    };
    let metrics = BridgeMetrics::new();
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let shutdown = || {
        let mut stopped = stopped.clone();
        async move {
            let _ = stopped.wait_for(|s| *s).await;
        }
    };
    let health = lzstock_shim::tasks::TaskHealth::new();
    let supervised = bridge::supervise("panicky", &metrics, &health, shutdown, |stop| {
        bridge::run(&bus.jetstream, &settings, &function, &metrics, stop)
    });
    let checking = async {
        let sequence = publish(&bus, "fragile", "fragile-1").await;
        bus.wait_settled("panicky", sequence).await;
        stop.send(true).expect("running");
    };
    let (done, ()) = tokio::join!(supervised, checking);
    done.expect("stopped by shutdown, not by a panic");
    assert_eq!(function.calls.load(Ordering::SeqCst), 2, "redelivered once");
    assert!(metrics
        .render()
        .contains("lzstock_bridge_route_panics_total{route=\"panicky\"} 1"));
}
