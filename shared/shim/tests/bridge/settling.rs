//! Ack, retry with backoff, dead-letter, and a function that fails as a whole.

use super::*;

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
    let ((), metrics) = consuming(&bus, "retrying", &InProcess::new(&handler, 1), async {
        let sequence = publish(&bus, "flaky", "flaky-1").await;
        eventually(|| deliveries.lock().expect("lock").len() == 3).await;
        bus.wait_settled("retrying", sequence).await;
    })
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
    let mut published = Vec::new();
    consuming(&bus, "crashing", &function, async {
        for i in 0..3 {
            published.push(publish(&bus, "batch", &format!("batch-{i}")).await);
        }
        eventually(|| function.handled.lock().expect("lock").len() >= 3).await;
        bus.wait_settled("crashing", published[2]).await;
    })
    .await;
    let mut handled = function.handled.lock().expect("lock").clone();
    handled.sort_unstable();
    assert_eq!(handled, published, "each handled once after the crashes");
    let info = bus.consumer_info("crashing").await;
    assert_eq!((info.num_ack_pending, info.num_pending), (0, 0), "{info:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_panicking_handler_is_retried_and_the_consumer_keeps_going() {
    let bus = nats().await;
    let handled = Arc::new(Mutex::new(Vec::<(String, u64)>::new()));
    let seen = Arc::clone(&handled);
    let handler = move |record: MessageRecord| {
        let id = record.header("Nats-Msg-Id").unwrap_or_default().to_owned();
        seen.lock()
            .expect("lock")
            .push((id.clone(), record.deliveries));
        async move {
            assert!(!(id == "boom" && record.deliveries == 1), "handler bug");
            Outcome::Ack
        }
    };
    consuming(&bus, "panicking", &InProcess::new(&handler, 1), async {
        let first = publish(&bus, "fragile", "boom").await;
        let last = publish(&bus, "fragile", "calm").await;
        eventually(|| handled.lock().expect("lock").len() == 3).await;
        bus.wait_settled("panicking", first.max(last)).await;
    })
    .await;
    let mut handled = handled.lock().expect("lock").clone();
    handled.sort();
    assert_eq!(
        handled,
        [("boom".into(), 1), ("boom".into(), 2), ("calm".into(), 1)]
    );
    let info = bus.consumer_info("panicking").await;
    assert_eq!((info.num_ack_pending, info.num_pending), (0, 0), "{info:?}");
}

/// A function that never answers its first invocation.
struct Hanging {
    calls: AtomicUsize,
}

impl Invoke for Hanging {
    async fn invoke(&self, _: &MessageBatch) -> Result<BatchResponse, InvokeError> {
        if self.calls.fetch_add(1, Ordering::SeqCst) == 0 {
            std::future::pending::<()>().await;
        }
        Ok(BatchResponse::default())
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_invoke_with_no_answer_times_out_and_the_batch_is_retried() {
    let bus = nats().await;
    let function = Hanging {
        calls: AtomicUsize::new(0),
    };
    let mut settings = settings(&bus, "hanging");
    settings.invoke_timeout = Duration::from_millis(500);
    let metrics = BridgeMetrics::new();
    while_consuming(&bus, &settings, &function, &metrics, async {
        let sequence = publish(&bus, "stuck", "stuck-1").await;
        eventually(|| function.calls.load(Ordering::SeqCst) >= 2).await;
        bus.wait_settled("hanging", sequence).await;
    })
    .await;
    let info = bus.consumer_info("hanging").await;
    // Delivered twice (the timed-out attempt, then the retry), then acknowledged.
    assert_eq!(
        (
            info.delivered.consumer_sequence,
            info.num_ack_pending,
            info.num_pending
        ),
        (2, 0, 0),
        "{info:?}"
    );
    let text = metrics.render();
    let subject = bus.streams.subject("stuck");
    assert!(
        text.contains(&format!(
            "lzstock_bridge_messages_retried_total{{subject=\"{subject}\"}} 1"
        )),
        "{text}"
    );
}

/// A function whose first answer reports a failure under an identifier it never received.
struct Garbled {
    calls: AtomicUsize,
    handled: Mutex<Vec<u64>>,
}

impl Invoke for Garbled {
    async fn invoke(&self, batch: &MessageBatch) -> Result<BatchResponse, InvokeError> {
        if self.calls.fetch_add(1, Ordering::SeqCst) == 0 {
            return Ok(serde_json::from_value(serde_json::json!({
                "batchItemFailures": [{"itemIdentifier": "seq-1", "retry_after_ms": 10}]
            }))
            .expect("response"));
        }
        let mut handled = self.handled.lock().expect("lock");
        handled.extend(batch.records.iter().map(|r| r.stream_sequence));
        Ok(BatchResponse::default())
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_answer_naming_an_unknown_record_fails_the_whole_batch() {
    let bus = nats().await;
    let function = Garbled {
        calls: AtomicUsize::new(0),
        handled: Mutex::new(Vec::new()),
    };
    let mut published = Vec::new();
    consuming(&bus, "garbled", &function, async {
        published.push(publish(&bus, "garbled", "garbled-1").await);
        eventually(|| !function.handled.lock().expect("lock").is_empty()).await;
        bus.wait_settled("garbled", published[0]).await;
    })
    .await;
    // Not acked on the garbled answer: delivered again and handled.
    assert_eq!(*function.handled.lock().expect("lock"), published);
    assert_eq!(function.calls.load(Ordering::SeqCst), 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_function_that_keeps_crashing_is_dead_lettered_with_the_cause() {
    let bus = nats().await;
    let function = Crashing {
        failures: usize::MAX,
        calls: AtomicUsize::new(0),
        handled: Mutex::new(Vec::new()),
    };
    let mut settings = settings(&bus, "always-crashing");
    settings.max_deliver = 2;
    let metrics = BridgeMetrics::new();
    let letters = while_consuming(&bus, &settings, &function, &metrics, async {
        publish(&bus, "doomed", "doomed-1").await;
        dead_letters(&bus, 1).await
    })
    .await;
    assert_eq!(
        header(&letters[0], h::REASON),
        "gave up after 2 deliveries: crashing failed: Runtime.ExitError"
    );
    let text = metrics.render();
    let subject = bus.streams.subject("doomed");
    // A crash is a retry, never a rejection by the handler.
    assert!(
        !text.contains(&format!(
            "lzstock_bridge_messages_rejected_total{{subject=\"{subject}\"}}"
        )),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "lzstock_bridge_messages_retried_total{{subject=\"{subject}\"}} 1"
        )),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_message_too_large_to_copy_whole_is_dead_lettered_without_its_body_and_redriven_whole() {
    let bus = nats().await;
    let max_payload = bus.client.server_info().max_payload;
    // Fits the stream, but not with the dead-letter headers (and a long reason) added.
    let body = vec![b'q'; max_payload - 600];
    let mut headers = HeaderMap::new();
    headers.insert("Nats-Msg-Id", "huge-1");
    let sequence = bus
        .jetstream
        .publish_with_headers(bus.streams.subject("huge"), headers, body.clone().into())
        .await
        .expect("publish")
        .await
        .expect("stored")
        .sequence;
    let handler = |_: MessageRecord| async {
        Outcome::Reject {
            reason: "r".repeat(2000),
        }
    };
    let mut settings = settings(&bus, "huge");
    settings.dead_letter_prefix = bus.streams.dead_letter_prefix.clone();
    let metrics = BridgeMetrics::new();
    while_consuming(
        &bus,
        &settings,
        &InProcess::new(&handler, 1),
        &metrics,
        async {
            bus.wait_settled("huge", sequence).await;
        },
    )
    .await;
    assert_eq!(
        bus.dead_letter_count().await,
        1,
        "dead-lettered, not naked forever"
    );
    let letters = bridge::dead_letters::list(
        &bus.jetstream,
        &bus.streams.dead_letters,
        &Default::default(),
    )
    .await
    .expect("list");
    let letter = bus
        .jetstream
        .get_stream(&bus.streams.dead_letters)
        .await
        .expect("dlq")
        .get_raw_message(letters[0].sequence)
        .await
        .expect("letter");
    assert!(letter.payload.is_empty());
    assert!(letter.headers.get(h::BODY_OMITTED).is_some());

    // Redrive reads the body back from the original stream.
    let redriven = bridge::dead_letters::redrive(
        &bus.jetstream,
        &bus.streams.dead_letters,
        &Default::default(),
        |_| {},
    )
    .await
    .expect("redrive");
    assert_eq!(redriven, 1);
    let republished = bus
        .jetstream
        .get_stream(&bus.streams.events)
        .await
        .expect("events")
        .get_raw_message(bus.last_sequence().await)
        .await
        .expect("republished");
    assert_eq!(republished.payload.len(), body.len());
    assert_eq!(
        republished.headers.get(h::EVENT_ID).map(|v| v.as_str()),
        Some("huge-1")
    );
}
