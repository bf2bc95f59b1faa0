//! The Lambda path: the release bridge invoking the release events function under `cargo
//! lambda watch`, against the bridge core with the same router in-process.

use super::*;

pub(crate) async fn processed(pool: &PgPool) -> usize {
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM processed_events")
        .fetch_one(pool)
        .await
        .expect("count");
    usize::try_from(count).expect("non-negative")
}

pub(crate) async fn publish_sign_ups(bus: &TestNats, run: &str, count: usize) {
    bus.publish_all("users.signed_up", (0..count).map(|n| sign_up_body(run, n)))
        .await;
}

/// Events per second between the first and the last record processed, polled in PostgreSQL.
pub(crate) async fn rate_until_processed(pool: &PgPool, count: usize) -> f64 {
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
pub(crate) async fn in_process(server: &PostgresServer, count: usize) -> f64 {
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
pub(crate) async fn on_lambda(server: &PostgresServer, count: usize, instances: usize) -> f64 {
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
