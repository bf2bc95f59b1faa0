//! The event path's throughput at Lambda scale, on a PostgreSQL that commits as production's
//! does (`fsync`, `synchronous_commit` and `full_page_writes` on). `scripts/bench-throughput`
//! runs it (release build); BENCHMARKS.md has the figures. Each case has its baseline in the
//! same run, on a fresh database:
//!
//! - `handler`: the router's `users.signed_up` path (batches of 10, 4 in flight, no NATS)
//!   against a bare sqlx loop of the same statements per event, one transaction per batch;
//! - `commits`: one commit per batch against one per record, batches of 10 and 100, one
//!   batch at a time on a pool of 2 (what one Lambda instance has);
//! - `lambda`: release `nats-bridge` → `cargo lambda watch` → release `events` against the
//!   bridge core with the same router in-process, then `max_concurrency` 1, 2, 4 and 8 (as
//!   many function instances);
//! - `relay`: the outbox relay publishing rows against a bare async-nats loop publishing the
//!   same messages with the same window of unacknowledged publishes.
//!
//! Usage: `bench_throughput [rounds] [case ...]`.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use async_nats::HeaderMap;
use futures::stream::FuturesUnordered;
use futures::StreamExt;
use lzstock_events::dashboard_events::parse_signup_tickers;
use lzstock_events::event_deps::EventDeps;
use lzstock_events::event_deps::MailDeps;
use lzstock_events::event_router::EventRouter;
use lzstock_events::routing::Commit;
use lzstock_harness::lambda::LambdaEmulator;
use lzstock_harness::{base_env, database_on, nats, process, PostgresServer, TestNats};
use lzstock_infra::dashboards::PgDashboardStore;
use lzstock_infra::database::Database;
use lzstock_infra::outbox::relay::{OutboxRelay, RELAY_IN_FLIGHT};
use lzstock_infra::outbox::{self, OutboxEvent};
use lzstock_shim::backoff::Backoff;
use lzstock_shim::batch::{self, MessageBatch, MessageRecord};
use lzstock_shim::bridge::settings::{StartPosition, DEFAULT_MAX_INVOKE_BYTES};
use lzstock_shim::bridge::{self, BridgeMetrics, ConsumerSettings, InProcess};
use sqlx::PgPool;

/// Records of a batch handled at once by the router (`EVENTS_CONCURRENCY`'s default).
const RECORDS_AT_ONCE: usize = 4;

fn sign_up_body(run: &str, n: usize) -> (String, String) {
    let id = format!("{run}-{n}");
    let body = serde_json::json!({
        "id": id, "occurred_at": "2026-12-07T10:00:00Z",
        "request": {"email": format!("u{n}@example.com"), "name": "U"},
        "response": {"userId": format!("{run}-user-{n}")},
    });
    (id, body.to_string())
}

fn sign_up_records(run: &str, count: usize) -> Vec<MessageRecord> {
    (0..count)
        .map(|n| {
            let (id, body) = sign_up_body(run, n);
            let sequence = u64::try_from(n + 1).expect("small");
            MessageRecord {
                subject: "lzstock.users.signed_up".into(),
                data: body.into_bytes(),
                headers: BTreeMap::from([("Nats-Msg-Id".to_owned(), vec![id])]),
                stream: "LZSTOCK".into(),
                stream_sequence: sequence,
                consumer_sequence: sequence,
                deliveries: 1,
                published_at: chrono::Utc::now(),
            }
        })
        .collect()
}

fn router(pool: &PgPool, subject_root: &str, commit: Commit) -> EventRouter {
    EventRouter::new(
        EventDeps {
            mail: MailDeps::new(pool.clone(), subject_root, None, None).expect("mail"),
            dashboards: PgDashboardStore::new(pool.clone(), subject_root),
            database: Database::new(pool.clone()),
            signup_tickers: parse_signup_tickers("AAPL,MSFT,NVDA").expect("tickers"),
            backoff: Backoff::default(),
        },
        subject_root,
    )
    .committing(commit)
}

async fn fresh_pool(server: &PostgresServer, connections: u32) -> PgPool {
    fresh_pool_flushing(server, connections, 0).await
}

/// A pool on a fresh database whose commits each wait `flush_delay_us` more before their
/// WAL flush: PostgreSQL's `commit_delay` with `commit_siblings` 0, the disk of a cloud
/// database (a networked volume, a synchronous standby) on this machine's fast one.
async fn fresh_pool_flushing(
    server: &PostgresServer,
    connections: u32,
    flush_delay_us: u32,
) -> PgPool {
    let db = database_on(server).await;
    if flush_delay_us > 0 {
        for setting in [
            format!(
                r#"ALTER DATABASE "{}" SET commit_delay = {flush_delay_us}"#,
                db.name
            ),
            format!(r#"ALTER DATABASE "{}" SET commit_siblings = 0"#, db.name),
        ] {
            sqlx::query(&setting)
                .execute(&db.pool)
                .await
                .expect("commit delay");
        }
    }
    lzstock_infra::postgres::pool(&db.url, connections).expect("pool")
}

/// Events per second through the router: `batch`-sized batches, `in_flight` at a time.
async fn through_router(
    server: &PostgresServer,
    count: usize,
    batch: usize,
    in_flight: usize,
    connections: u32,
    commit: Commit,
    flush_delay_us: u32,
) -> f64 {
    let pool = fresh_pool_flushing(server, connections, flush_delay_us).await;
    let router = router(&pool, "lzstock", commit);
    let batches: Vec<MessageBatch> = sign_up_records("router", count)
        .chunks(batch)
        .map(|records| MessageBatch {
            records: records.to_vec(),
        })
        .collect();
    let started = Instant::now();
    futures::stream::iter(batches)
        .for_each_concurrent(in_flight, |batch| {
            let router = &router;
            async move {
                let answer = batch::process(&batch, RECORDS_AT_ONCE, router).await;
                assert!(answer.batch_item_failures.is_empty(), "{answer:?}");
            }
        })
        .await;
    let rate = count as f64 / started.elapsed().as_secs_f64();
    assert_eq!(processed(&pool).await, count);
    rate
}

/// The same statements the `users.signed_up` handler runs per event, written by hand: one
/// transaction per batch, `in_flight` batches at a time.
async fn bare_loop(server: &PostgresServer, count: usize, batch: usize, in_flight: usize) -> f64 {
    let pool = fresh_pool(server, u32::try_from(in_flight + 1).expect("small")).await;
    let records = sign_up_records("bare", count);
    let started = Instant::now();
    futures::stream::iter(records.chunks(batch))
        .for_each_concurrent(in_flight, |records| {
            let pool = &pool;
            async move {
                let mut tx = pool.begin().await.expect("begin");
                for record in records {
                    let event: serde_json::Value =
                        serde_json::from_slice(&record.data).expect("json");
                    let owner = event["response"]["userId"].as_str().expect("user");
                    let email = event["request"]["email"].as_str().expect("email");
                    let event_id = event["id"].as_str().expect("id");
                    sqlx::query(
                        "INSERT INTO processed_events (handler, event_id, subject)
                         VALUES ('users.signed_up', $1, $2) ON CONFLICT DO NOTHING",
                    )
                    .bind(event_id)
                    .bind(&record.subject)
                    .execute(&mut *tx)
                    .await
                    .expect("claim");
                    let dashboard = uuid::Uuid::now_v7();
                    sqlx::query(
                        "INSERT INTO dashboards (id, owner_id, name, tickers, indicators, created_at)
                         VALUES ($1, $2, 'My first dashboard', $3, $4, now())",
                    )
                    .bind(dashboard)
                    .bind(owner)
                    .bind(vec!["AAPL", "MSFT", "NVDA"])
                    .bind(vec!["revenue", "net_income"])
                    .execute(&mut *tx)
                    .await
                    .expect("dashboard");
                    sqlx::query(
                        "INSERT INTO outbox (id, subject, payload, traceparent) VALUES ($1, $2, $3, NULL)",
                    )
                    .bind(uuid::Uuid::now_v7())
                    .bind("lzstock.dashboards.created")
                    .bind(serde_json::json!({"id": dashboard, "ownerId": owner}))
                    .execute(&mut *tx)
                    .await
                    .expect("outbox");
                    sqlx::query(
                        "INSERT INTO user_contacts (user_id, address, name) VALUES ($1, $2, 'U')
                         ON CONFLICT (user_id) DO UPDATE SET address = EXCLUDED.address",
                    )
                    .bind(owner)
                    .bind(email)
                    .execute(&mut *tx)
                    .await
                    .expect("contact");
                }
                tx.commit().await.expect("commit");
            }
        })
        .await;
    let rate = count as f64 / started.elapsed().as_secs_f64();
    assert_eq!(processed(&pool).await, count);
    rate
}

async fn processed(pool: &PgPool) -> usize {
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM processed_events")
        .fetch_one(pool)
        .await
        .expect("count");
    usize::try_from(count).expect("non-negative")
}

async fn publish_sign_ups(bus: &TestNats, run: &str, count: usize) {
    let subject = bus.streams.subject("users.signed_up");
    let mut acks = futures::stream::iter((0..count).map(|n| {
        let (id, body) = sign_up_body(run, n);
        let subject = subject.clone();
        async move {
            let mut headers = HeaderMap::new();
            headers.insert("Nats-Msg-Id", id.as_str());
            bus.jetstream
                .publish_with_headers(subject, headers, body.into())
                .await
                .expect("publish")
                .await
                .expect("stored")
        }
    }))
    .buffer_unordered(256);
    while acks.next().await.is_some() {}
}

/// Events per second between the first and the last record processed, polled in PostgreSQL.
async fn rate_until_processed(pool: &PgPool, count: usize) -> f64 {
    let (mut first, mut seen_first) = (Instant::now(), 0);
    loop {
        let done = processed(pool).await;
        if seen_first == 0 && done > 0 {
            first = Instant::now();
            seen_first = done;
        }
        if done >= count {
            return (count - seen_first) as f64 / first.elapsed().as_secs_f64();
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// The bridge core in-process with the router: batches of 10, one at a time.
async fn in_process(server: &PostgresServer, count: usize) -> f64 {
    let bus = nats().await;
    let db = database_on(server).await;
    let pool = lzstock_infra::postgres::pool(&db.url, 2).expect("pool");
    let router = router(&pool, &bus.streams.subject_root, Commit::Batch);
    publish_sign_ups(&bus, "inproc", count).await;
    let settings = ConsumerSettings {
        stream: bus.streams.events.clone(),
        durable: "in-process".into(),
        filter_subjects: vec![bus.streams.events_wildcard()],
        batch_size: 10,
        max_wait: Duration::from_millis(200),
        max_deliver: 5,
        ack_wait: Duration::from_secs(30),
        max_ack_pending: 1000,
        concurrency: RECORDS_AT_ONCE,
        dead_letter_prefix: "dlq".into(),
        backoff: Backoff::default(),
        invoke_timeout: Duration::from_secs(60),
        max_invoke_bytes: DEFAULT_MAX_INVOKE_BYTES,
        start: StartPosition::All,
    };
    let invoker = InProcess::new(&router, RECORDS_AT_ONCE);
    let metrics = BridgeMetrics::new();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let (rate, _) = tokio::join!(
        async {
            let rate = rate_until_processed(&pool, count).await;
            let _ = stop.send(());
            rate
        },
        bridge::run(&bus.jetstream, &settings, &invoker, &metrics, async {
            let _ = stopped.await;
        })
    );
    rate
}

/// The release `nats-bridge` invoking `instances` release `events` functions behind
/// `cargo lambda watch`, with `max_concurrency` = `instances`.
async fn on_lambda(server: &PostgresServer, count: usize, instances: usize) -> f64 {
    let bus = nats().await;
    let db = database_on(server).await;
    publish_sign_ups(&bus, "lambda", count).await;
    let emulator = tokio::task::block_in_place(LambdaEmulator::start).expect("cargo lambda watch");
    let mut function_env = base_env();
    function_env.push(("DATABASE_URL".into(), db.url.clone()));
    function_env.push(("DATABASE_MAX_CONNECTIONS".into(), "2".into()));
    function_env.push(("RUST_LOG".into(), "warn".into()));
    function_env.extend(bus.env());
    let _functions: Vec<_> = (0..instances)
        .map(|_| {
            emulator
                .run_function(&process::workspace_binary("events"), &function_env)
                .expect("events function")
        })
        .collect();
    let concurrency = instances.to_string();
    let _bridge = tokio::process::Command::new(process::workspace_binary("nats-bridge"))
        .envs(bus.env())
        .envs([
            ("BRIDGE_FUNCTION", "_"),
            ("BRIDGE_BATCH_SIZE", "10"),
            ("BRIDGE_MAX_WAIT_MS", "200"),
            ("BRIDGE_MIN_CONCURRENCY", concurrency.as_str()),
            ("BRIDGE_MAX_CONCURRENCY", concurrency.as_str()),
            ("AWS_REGION", "us-east-1"),
            ("AWS_ACCESS_KEY_ID", "local"),
            ("AWS_SECRET_ACCESS_KEY", "local"),
            ("RUST_LOG", "warn"),
        ])
        .env("AWS_ENDPOINT_URL_LAMBDA", emulator.endpoint())
        .env("PORT", process::free_port().to_string())
        .stdout(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("nats-bridge");
    rate_until_processed(&db.pool, count).await
}

/// Outbox rows for `count` events on `bus`'s streams, written in one transaction.
async fn outbox_rows(pool: &PgPool, bus: &TestNats, count: usize) -> Vec<OutboxEvent> {
    let events: Vec<OutboxEvent> = (0..count)
        .map(|n| OutboxEvent {
            id: uuid::Uuid::now_v7(),
            subject: bus.streams.subject("dashboards.created"),
            payload: serde_json::json!({"id": n, "response": {"ownerId": format!("owner-{n}")}}),
            traceparent: None,
        })
        .collect();
    let mut tx = pool.begin().await.expect("begin");
    for event in &events {
        outbox::insert(&mut tx, event).await.expect("insert");
    }
    tx.commit().await.expect("commit");
    events
}

/// The relay publishing `count` rows: events per second from its first pass to the last.
async fn relay(server: &PostgresServer, count: usize) -> f64 {
    let bus = nats().await;
    let pool = fresh_pool(server, 4).await;
    outbox_rows(&pool, &bus, count).await;
    let relay = OutboxRelay::new(pool.clone(), bus.jetstream.clone());
    let started = Instant::now();
    let mut published = 0;
    while published < count {
        published += relay.publish_pending().await.expect("relay pass").published;
    }
    count as f64 / started.elapsed().as_secs_f64()
}

/// The same messages published by a bare loop keeping [`RELAY_IN_FLIGHT`] unacknowledged.
async fn bare_publish(server: &PostgresServer, count: usize) -> f64 {
    let bus = nats().await;
    let pool = fresh_pool(server, 4).await;
    let events = outbox_rows(&pool, &bus, count).await;
    let started = Instant::now();
    let mut waiting = FuturesUnordered::new();
    for event in events {
        while waiting.len() >= RELAY_IN_FLIGHT {
            waiting.next().await;
        }
        let mut headers = HeaderMap::new();
        headers.insert("Nats-Msg-Id", event.id.to_string().as_str());
        let body = serde_json::to_vec(&event.payload).expect("json");
        let ack = bus
            .jetstream
            .publish_with_headers(event.subject, headers, body.into())
            .await
            .expect("publish");
        waiting.push(async move { ack.await.expect("stored") });
    }
    while waiting.next().await.is_some() {}
    count as f64 / started.elapsed().as_secs_f64()
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// Runs `measure` `rounds` times and prints each round and the medians of both sides and
/// of the per-round ratios.
async fn compare<F, Fut>(name: &str, rounds: usize, mut measure: F)
where
    F: FnMut(usize) -> Fut,
    Fut: std::future::Future<Output = (f64, f64)>,
{
    let (mut cases, mut baselines, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
    for round in 1..=rounds {
        let (case, baseline) = measure(round).await;
        println!(
            "{name} round {round}: {case:.0}/s against {baseline:.0}/s ({:.2})",
            case / baseline
        );
        cases.push(case);
        baselines.push(baseline);
        ratios.push(case / baseline);
    }
    println!(
        "| {name} | {:.0} | {:.0} | **{:.2}** |",
        median(cases),
        median(baselines),
        median(ratios)
    );
}

#[tokio::main]
async fn main() {
    let _telemetry = lzstock_shim::telemetry::init();
    let mut args = std::env::args().skip(1);
    let rounds: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(3);
    let cases: Vec<String> = args.collect();
    let wanted = |case: &str| cases.is_empty() || cases.iter().any(|c| c == case);
    let server = tokio::task::block_in_place(PostgresServer::start_durable).expect("PostgreSQL");

    if wanted("handler") {
        println!("| case | events/s | baseline events/s | ratio (median of rounds) |");
        println!("|---|---|---|---|");
        // Alternating order between rounds: neither side always meets a warmer machine.
        compare("handler path / bare sqlx loop", rounds, |round| {
            let server = &server;
            async move {
                let router = || through_router(server, 4000, 10, 4, 5, Commit::Batch, 0);
                let bare = || bare_loop(server, 4000, 10, 4);
                if round % 2 == 1 {
                    let case = router().await;
                    (case, bare().await)
                } else {
                    let baseline = bare().await;
                    (router().await, baseline)
                }
            }
        })
        .await;
    }
    if wanted("commits") {
        // This machine's disk flushes in about 0.1 ms (pg_test_fsync); a cloud database's
        // takes a millisecond or more, emulated with commit_delay.
        for flush_delay_us in [0, 1000] {
            for batch in [10, 100] {
                let name = format!(
                    "commit per batch / per record, batch {batch}, flush +{flush_delay_us} µs"
                );
                compare(&name, rounds, |round| {
                    let server = &server;
                    async move {
                        let count = if flush_delay_us > 0 { 1000 } else { 2000 };
                        let run = |commit| {
                            through_router(server, count, batch, 1, 2, commit, flush_delay_us)
                        };
                        if round % 2 == 1 {
                            let case = run(Commit::Batch).await;
                            (case, run(Commit::Record).await)
                        } else {
                            let baseline = run(Commit::Record).await;
                            (run(Commit::Batch).await, baseline)
                        }
                    }
                })
                .await;
            }
        }
    }
    if wanted("lambda") {
        compare("Lambda path / in-process bridge core", rounds, |round| {
            let server = &server;
            async move {
                if round % 2 == 1 {
                    let case = on_lambda(server, 2000, 1).await;
                    (case, in_process(server, 2000).await)
                } else {
                    let baseline = in_process(server, 2000).await;
                    (on_lambda(server, 2000, 1).await, baseline)
                }
            }
        })
        .await;
        let mut one = Vec::new();
        for instances in [1, 2, 4, 8] {
            let mut rates = Vec::new();
            for round in 1..=rounds {
                let rate = on_lambda(&server, 4000, instances).await;
                println!("Lambda path, max_concurrency {instances}, round {round}: {rate:.0}/s");
                rates.push(rate);
            }
            let rate = median(rates);
            if instances == 1 {
                one.push(rate);
            }
            println!(
                "| Lambda path, max_concurrency {instances} | {rate:.0} | {:.2}x of 1 |",
                rate / one[0]
            );
        }
    }
    if wanted("relay") {
        compare("outbox relay / bare publish loop", rounds, |round| {
            let server = &server;
            async move {
                if round % 2 == 1 {
                    let case = relay(server, 5000).await;
                    (case, bare_publish(server, 5000).await)
                } else {
                    let baseline = bare_publish(server, 5000).await;
                    (relay(server, 5000).await, baseline)
                }
            }
        })
        .await;
    }
}
