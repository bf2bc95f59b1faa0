//! Events per second through the bridge core, against a bare async-nats fetch-and-ack loop
//! measured in the same run. `scripts/bench-events` runs it (release build); BENCHMARKS.md
//! has the figures.
//!
//! Each round publishes its messages first, then times how long a consumer takes until the
//! server reports every one acknowledged (`num_pending` and `num_ack_pending` both 0).

mod cluster;

use std::time::{Duration, Instant};

use async_nats::jetstream::consumer::pull;
use async_nats::HeaderMap;
use futures::StreamExt;
use lzstock_app::config::MailConfig;
use lzstock_events::dashboard_events::parse_signup_tickers;
use lzstock_events::event_deps::EventDeps;
use lzstock_events::event_deps::MailDeps;
use lzstock_events::event_router::EventRouter;
use lzstock_harness::bench::{median, Headline};
use lzstock_harness::cluster::NatsCluster;
use lzstock_harness::{database, nats, nats_on_cluster, TestNats};
use lzstock_infra::dashboards::PgDashboardStore;
use lzstock_infra::database::Database;
use lzstock_shim::backoff::Backoff;
use lzstock_shim::batch::{MessageHandler, MessageRecord, Outcome};
use lzstock_shim::bridge::settings::{StartPosition, DEFAULT_MAX_INVOKE_BYTES};
use lzstock_shim::bridge::{self, BridgeMetrics, ConsumerSettings, InProcess};

use cluster::cluster_rounds;

const BATCH: usize = 100;
const CONCURRENCY: usize = 8;

fn settings(bus: &TestNats, durable: &str) -> ConsumerSettings {
    ConsumerSettings {
        stream: bus.streams.events.clone(),
        durable: durable.to_owned(),
        filter_subjects: vec![bus.streams.events_wildcard()],
        batch_size: BATCH,
        max_wait: Duration::from_millis(500),
        max_deliver: 5,
        ack_wait: Duration::from_secs(30),
        max_ack_pending: 10_000,
        concurrency: CONCURRENCY,
        dead_letter_prefix: "dlq".into(),
        backoff: Backoff::default(),
        invoke_timeout: Duration::from_secs(60),
        max_invoke_bytes: DEFAULT_MAX_INVOKE_BYTES,
        start: StartPosition::All,
    }
}

async fn publish(bus: &TestNats, count: usize, body: impl Fn(usize) -> (String, String)) {
    bus.publish_all("users.signed_up", (0..count).map(body))
        .await;
}

async fn wait_all_acked(bus: &TestNats, durable: &str) {
    loop {
        if let Ok(mut consumer) = bus
            .jetstream
            .get_stream(&bus.streams.events)
            .await
            .expect("stream")
            .get_consumer::<pull::Config>(durable)
            .await
        {
            let info = consumer.info().await.expect("info");
            if info.num_pending == 0
                && info.num_ack_pending == 0
                && info.delivered.stream_sequence > 0
            {
                return;
            }
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// The bare loop: fetch a batch, ack each message, repeat.
async fn raw(bus: &TestNats, count: usize) -> f64 {
    publish(bus, count, |n| (format!("raw-{n}"), "{}".into())).await;
    let consumer = bus
        .jetstream
        .get_stream(&bus.streams.events)
        .await
        .expect("stream")
        .create_consumer(pull::Config {
            durable_name: Some("raw".into()),
            max_ack_pending: 10_000,
            ..Default::default()
        })
        .await
        .expect("consumer");
    let started = Instant::now();
    let consuming = async {
        let mut seen = 0;
        while seen < count {
            let mut batch = consumer
                .fetch()
                .max_messages(BATCH)
                .expires(Duration::from_millis(500))
                .messages()
                .await
                .expect("fetch");
            while let Some(message) = batch.next().await {
                message.expect("message").ack().await.expect("ack");
                seen += 1;
            }
        }
    };
    // Timed as the bridge is: until the server reports every message acknowledged.
    let ((), elapsed) = tokio::join!(consuming, async {
        wait_all_acked(bus, "raw").await;
        started.elapsed()
    });
    count as f64 / elapsed.as_secs_f64()
}

async fn through_bridge<H: MessageHandler>(bus: &TestNats, durable: &str, handler: &H) -> f64 {
    let settings = settings(bus, durable);
    let invoker = InProcess::new(handler, CONCURRENCY);
    let metrics = BridgeMetrics::new();
    let started = Instant::now();
    let elapsed = std::sync::Mutex::new(Duration::ZERO);
    // The shutdown future is driven beside the consumer: it fires, and stops the timer, as
    // soon as the server reports every message acknowledged.
    bridge::run(&bus.jetstream, &settings, &invoker, &metrics, async {
        wait_all_acked(bus, durable).await;
        *elapsed.lock().expect("lock") = started.elapsed();
    })
    .await
    .expect("bridge");
    let elapsed = *elapsed.lock().expect("lock");
    let published = bus
        .jetstream
        .get_stream(&bus.streams.events)
        .await
        .expect("stream")
        .info()
        .await
        .expect("info")
        .state
        .messages;
    published as f64 / elapsed.as_secs_f64()
}

async fn empty(bus: &TestNats, count: usize) -> f64 {
    publish(bus, count, |n| (format!("empty-{n}"), "{}".into())).await;
    through_bridge(bus, "empty", &Empty).await
}

/// A handler that does nothing: what remains is the bridge core's own cost.
struct Empty;

impl MessageHandler for Empty {
    async fn handle(&self, _: &MessageRecord) -> Outcome {
        Outcome::Ack
    }
}

/// Sign-ups through the bridge core into the real handler (PostgreSQL, the outbox).
async fn signups(count: usize) -> f64 {
    signups_on(&nats().await, count).await
}

/// [`signups`] on `bus`'s streams.
async fn signups_on(bus: &TestNats, count: usize) -> f64 {
    let bus = bus.clone();
    let db = database().await;
    let router = EventRouter::new(
        EventDeps {
            mail: MailDeps::new(
                db.pool.clone(),
                &bus.streams.subject_root,
                Some(&MailConfig {
                    from: lzstock_domain::email::EmailAddress::parse("noreply@lzstock.test")
                        .expect("from"),
                    smtp: lzstock_app::config::SmtpConfig {
                        url: lzstock_shim::config::Secret::new("smtp://127.0.0.1:1".into()),
                    },
                }),
                None,
            )
            .expect("mail"),
            dashboards: PgDashboardStore::new(db.pool.clone(), bus.streams.subject_root.clone()),
            database: Database::new(db.pool.clone()),
            signup_tickers: parse_signup_tickers("AAPL,MSFT,NVDA").expect("tickers"),
            backoff: Backoff::default(),
        },
        bus.streams.subject_root.clone(),
    );
    publish(&bus, count, |n| {
        let id = format!("signup-{n}");
        let body = serde_json::json!({
            "id": id, "occurred_at": "2026-11-23T10:00:00Z",
            "request": {"email": format!("u{n}@example.com"), "name": "U"},
            "response": {"userId": format!("bench-{n}")},
        });
        (id, body.to_string())
    })
    .await;
    let signup_rate = through_bridge(&bus, "signups", &router).await;
    let created: i64 = sqlx::query_scalar("SELECT count(*) FROM dashboards")
        .fetch_one(&db.pool)
        .await
        .expect("count");
    assert_eq!(created, i64::try_from(count).expect("small"));
    signup_rate
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    // As the binaries do: spans are exported when OTEL_EXPORTER_OTLP_ENDPOINT is set
    // (`scripts/bench-tracing` compares the two).
    let _telemetry = lzstock_shim::telemetry::init();
    let rounds: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(3);
    if std::env::args().nth(2).as_deref() == Some("cluster") {
        let kills = std::env::args()
            .nth(3)
            .and_then(|a| a.parse().ok())
            .unwrap_or(5);
        cluster_rounds(rounds, kills).await;
        return;
    }
    if std::env::args().nth(2).as_deref() == Some("bridge") {
        // One round of the bridge's two cases only, as one machine-readable line.
        let empty_rate = empty(&nats().await, 50_000).await;
        let signup_rate = signups(2_000).await;
        println!("bridge {empty_rate:.0} {signup_rate:.0}");
        return;
    }
    let empty_count = 50_000;
    let signup_count = 2_000;
    let (mut raws, mut empties, mut signup_rates) = (Vec::new(), Vec::new(), Vec::new());
    for round in 1..=rounds {
        // Fresh streams per measurement: each starts from the same state. The order
        // alternates between rounds, so neither side always runs on a warmer server.
        let (raw_rate, empty_rate) = if round % 2 == 1 {
            let raw_rate = raw(&nats().await, empty_count).await;
            (raw_rate, empty(&nats().await, empty_count).await)
        } else {
            let empty_rate = empty(&nats().await, empty_count).await;
            (raw(&nats().await, empty_count).await, empty_rate)
        };

        let signup_rate = signups(signup_count).await;

        println!(
            "round {round}: raw {raw_rate:.0}/s, bridge+empty {empty_rate:.0}/s ({:.2}), bridge+signed_up {signup_rate:.0}/s ({:.3})",
            empty_rate / raw_rate,
            signup_rate / raw_rate
        );
        raws.push(raw_rate);
        empties.push(empty_rate);
        signup_rates.push(signup_rate);
    }
    let ratios_empty: Vec<f64> = empties.iter().zip(&raws).map(|(e, r)| e / r).collect();
    let ratios_signup: Vec<f64> = signup_rates.iter().zip(&raws).map(|(s, r)| s / r).collect();
    println!();
    println!("batch size {BATCH}, concurrency {CONCURRENCY}, {rounds} rounds, medians:");
    println!("| consumer | messages | events/s | ratio to raw |");
    println!("|---|---|---|---|");
    println!(
        "| bare async-nats fetch + ack | {empty_count} | {:.0} | 1.00 |",
        median(&raws)
    );
    println!(
        "| bridge core, empty handler | {empty_count} | {:.0} | {:.2} |",
        median(&empties),
        median(&ratios_empty)
    );
    println!(
        "| bridge core, users.signed_up → PostgreSQL | {signup_count} | {:.0} | {:.3} |",
        median(&signup_rates),
        median(&ratios_signup)
    );
    Headline {
        area: "Bridge core",
        figure: "empty handler: fetch, batch, invoke, settle",
        unit: "events/s",
        baseline: "bare async-nats fetch + ack",
    }
    .report(median(&empties), median(&raws), median(&ratios_empty));
}
