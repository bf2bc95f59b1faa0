//! The bridge under load: a SIGTERM mid-stream, a minute of throttling, and its concurrency following a backlog and throttles.

use super::*;

#[tokio::test(flavor = "multi_thread")]
async fn a_sigterm_during_a_steady_stream_loses_no_settle() {
    const TOTAL: usize = 600;
    let bus = nats().await;
    let endpoint = InvokeEndpoint::start(LAMBDA_PAYLOAD_LIMIT, |_| {
        Answer::Returned(json!({"batchItemFailures": []}))
    })
    .await;
    let settings = [("BRIDGE_BATCH_SIZE", "5"), ("BRIDGE_MAX_WAIT_MS", "20")];
    let mut bridge = spawn(&bus, &endpoint, &settings);
    let publishing = async {
        let mut last = 0;
        for n in 0..TOTAL {
            last = publish(&bus, &format!("steady-{n}"), b"{}".to_vec()).await;
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        last
    };
    let restarting = async {
        let deadline = Instant::now() + Duration::from_secs(60);
        while endpoint.accepted().len() < 20 {
            assert!(Instant::now() < deadline, "no progress before SIGTERM");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        process::signal_pid(bridge.id().expect("pid"), libc::SIGTERM);
        let status = tokio::time::timeout(Duration::from_secs(30), bridge.wait())
            .await
            .expect("the bridge stops after SIGTERM")
            .expect("status");
        assert!(status.success(), "{status:?}");
        spawn(&bus, &endpoint, &settings)
    };
    let (last, _restarted) = tokio::join!(publishing, restarting);
    settled_through(&bus, last).await;

    let mut deliveries: HashMap<u64, Vec<u64>> = HashMap::new();
    for invocation in endpoint.accepted() {
        for (sequence, delivery) in invocation.records {
            deliveries.entry(sequence).or_default().push(delivery);
        }
    }
    assert_eq!(deliveries.len(), TOTAL, "every message invoked");
    let again: Vec<_> = deliveries
        .iter()
        .filter(|(_, d)| d.as_slice() != [1])
        .collect();
    assert!(again.is_empty(), "delivered again after an ack: {again:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_minute_of_throttling_spends_no_delivery_and_dead_letters_nothing() {
    let bus = nats().await;
    let throttle_until = Instant::now() + Duration::from_secs(60);
    let endpoint = InvokeEndpoint::start(LAMBDA_PAYLOAD_LIMIT, move |_| {
        if Instant::now() < throttle_until {
            Answer::Throttled
        } else {
            Answer::Returned(json!({"batchItemFailures": []}))
        }
    })
    .await;
    let port = process::free_port();
    // Two deliveries only, and a short ack_wait: a throttle that spent a delivery, or a
    // batch not kept in progress, would dead-letter within seconds.
    let _bridge = spawn(
        &bus,
        &endpoint,
        &[
            ("BRIDGE_MAX_DELIVER", "2"),
            ("BRIDGE_ACK_WAIT_MS", "3000"),
            ("PORT", &port.to_string()),
        ],
    );
    let mut last = 0;
    for n in 0..20 {
        last = publish(&bus, &format!("throttled-{n}"), b"{}".to_vec()).await;
    }
    settled_through(&bus, last).await;

    assert!(
        endpoint.throttled() > 10,
        "throttled {}",
        endpoint.throttled()
    );
    assert!(
        Instant::now() >= throttle_until,
        "settled only after the throttling"
    );
    assert_eq!(bus.dead_letter_count().await, 0, "nothing dead-lettered");
    let mut handled: HashMap<u64, u64> = HashMap::new();
    for invocation in endpoint.accepted() {
        for (sequence, deliveries) in invocation.records {
            assert_eq!(deliveries, 1, "#{sequence}: no delivery spent on throttles");
            *handled.entry(sequence).or_default() += 1;
        }
    }
    assert_eq!(handled.len(), 20);
    assert!(
        handled.values().all(|n| *n == 1),
        "each handled once: {handled:?}"
    );
    let metrics = reqwest::get(format!("http://127.0.0.1:{port}/metrics"))
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    assert!(
        metrics.contains("lzstock_bridge_invoke_throttles_total{route=\"bridge\"}"),
        "{metrics}"
    );
}

/// The route's `lzstock_bridge_invokes_in_flight` as the bridge's `/metrics` shows it.
async fn invokes_in_flight(port: u16) -> Option<f64> {
    let text = reqwest::get(format!("http://127.0.0.1:{port}/metrics"))
        .await
        .ok()?
        .text()
        .await
        .ok()?;
    text.lines()
        .find(|line| line.starts_with("lzstock_bridge_invokes_in_flight{route=\"bridge\"}"))
        .and_then(|line| line.rsplit(' ').next())
        .and_then(|value| value.parse().ok())
}

// Threads enough for the stand-in's slow answers (they block a worker each) and the test's
// own polling, whatever else runs beside it.
#[tokio::test(flavor = "multi_thread", worker_threads = 12)]
async fn concurrency_rises_under_a_backlog_and_falls_under_throttles() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;

    let bus = nats().await;
    let throttling = Arc::new(AtomicBool::new(false));
    let throttled = Arc::clone(&throttling);
    let endpoint = InvokeEndpoint::start(LAMBDA_PAYLOAD_LIMIT, move |_| {
        if throttled.load(Ordering::SeqCst) {
            return Answer::Throttled;
        }
        // A function that takes a while: invokes overlap when the bridge allows it.
        std::thread::sleep(Duration::from_millis(100));
        Answer::Returned(json!({"batchItemFailures": []}))
    })
    .await;
    let port = process::free_port();
    let _bridge = spawn(
        &bus,
        &endpoint,
        &[
            ("BRIDGE_BATCH_SIZE", "5"),
            ("BRIDGE_MIN_CONCURRENCY", "1"),
            ("BRIDGE_MAX_CONCURRENCY", "6"),
            ("PORT", &port.to_string()),
        ],
    );
    let mut last = 0;
    for n in 0..1500 {
        last = publish(&bus, &format!("backlog-{n}"), b"{}".to_vec()).await;
    }
    // A backlog, invokes succeeding: more of them at once, up to the maximum.
    let mut highest = 0.0_f64;
    let rising = Instant::now();
    while highest < 3.0 && rising.elapsed() < Duration::from_secs(60) {
        highest = highest.max(invokes_in_flight(port).await.unwrap_or(0.0));
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(highest >= 3.0, "concurrency rose from 1 to {highest} only");
    assert!(highest <= 6.0, "never over the maximum: {highest}");

    // Throttled: back down to the minimum, in flight at most one.
    throttling.store(true, Ordering::SeqCst);
    let falling = Instant::now();
    let mut quiet_since: Option<Instant> = None;
    loop {
        let now = invokes_in_flight(port).await.unwrap_or(f64::MAX);
        if now <= 1.0 {
            let since = *quiet_since.get_or_insert_with(Instant::now);
            if since.elapsed() >= Duration::from_secs(3) {
                break;
            }
        } else {
            quiet_since = None;
        }
        assert!(
            falling.elapsed() < Duration::from_secs(30),
            "still {now} invokes in flight under throttling"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    throttling.store(false, Ordering::SeqCst);
    settled_through(&bus, last).await;
    assert_eq!(bus.dead_letter_count().await, 0, "nothing dead-lettered");
}
