//! The handler path: the router against a bare sqlx loop of the same statements, and one
//! commit per batch against one per record.

use super::*;

pub(crate) fn sign_up_body(run: &str, n: usize) -> (String, String) {
    let id = format!("{run}-{n}");
    let body = serde_json::json!({
        "id": id, "occurred_at": "2026-12-07T10:00:00Z",
        "request": {"email": format!("u{n}@example.com"), "name": "U"},
        "response": {"userId": format!("{run}-user-{n}")},
    });
    (id, body.to_string())
}

pub(crate) fn sign_up_records(run: &str, count: usize) -> Vec<MessageRecord> {
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

pub(crate) fn router(pool: &PgPool, subject_root: &str, commit: Commit) -> EventRouter {
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

pub(crate) async fn fresh_pool(server: &PostgresServer, connections: u32) -> PgPool {
    fresh_pool_flushing(server, connections, 0).await
}

/// A pool on a fresh database whose commits each wait `flush_delay_us` more before their
/// WAL flush: PostgreSQL's `commit_delay` with `commit_siblings` 0, the disk of a cloud
/// database (a networked volume, a synchronous standby) on this machine's fast one.
pub(crate) async fn fresh_pool_flushing(
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
pub(crate) async fn through_router(
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
pub(crate) async fn bare_loop(
    server: &PostgresServer,
    count: usize,
    batch: usize,
    in_flight: usize,
) -> f64 {
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
