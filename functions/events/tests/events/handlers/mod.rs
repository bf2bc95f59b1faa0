//! The event routes against real PostgreSQL: the routing matrix, exactly-once effects, and
//! the three outcomes.

mod notices;

use std::collections::BTreeMap;

use chrono::Utc;
use lzstock_app::config::MailConfig;
use lzstock_events::dashboard_events::{parse_signup_tickers, FIRST_DASHBOARD};
use lzstock_events::event_deps::EventDeps;
use lzstock_events::event_deps::MailDeps;
use lzstock_events::event_router::EventRouter;
use lzstock_harness::{database, TestDatabase};
use lzstock_infra::dashboards::PgDashboardStore;
use lzstock_infra::database::Database;
use lzstock_shim::backoff::Backoff;
use lzstock_shim::batch::{MessageHandler, MessageRecord, Outcome};
use serde_json::json;
use sqlx::PgPool;

/// A mail server nobody listens on: these tests send no email.
fn mail_config() -> MailConfig {
    MailConfig {
        from: lzstock_domain::email::EmailAddress::parse("noreply@lzstock.test").expect("from"),
        smtp: lzstock_app::config::SmtpConfig {
            url: lzstock_shim::config::Secret::new("smtp://127.0.0.1:1".to_owned()),
        },
    }
}

pub(crate) fn router(pool: PgPool) -> EventRouter {
    EventRouter::new(
        EventDeps {
            mail: MailDeps::new(pool.clone(), "lzstock", Some(&mail_config()), None).expect("mail"),
            dashboards: PgDashboardStore::new(pool.clone(), "lzstock"),
            database: Database::new(pool),
            signup_tickers: parse_signup_tickers("AAPL,MSFT").expect("tickers"),
            backoff: Backoff::default(),
        },
        "lzstock",
    )
}

pub(crate) fn record(subject: &str, id: &str, body: serde_json::Value) -> MessageRecord {
    MessageRecord {
        subject: subject.into(),
        data: body.to_string().into_bytes(),
        headers: BTreeMap::from([("Nats-Msg-Id".to_owned(), vec![id.to_owned()])]),
        stream: "LZSTOCK".into(),
        stream_sequence: 1,
        consumer_sequence: 1,
        deliveries: 1,
        published_at: Utc::now(),
    }
}

pub(crate) fn signed_up(id: &str, user: &str, email: &str) -> MessageRecord {
    record(
        "lzstock.users.signed_up",
        id,
        json!({"id": id, "occurred_at": "2026-11-23T10:00:00Z",
               "request": {"email": email, "name": "Ada"}, "response": {"userId": user}}),
    )
}

async fn dashboards_of(db: &TestDatabase, owner: &str) -> Vec<(String, Vec<String>)> {
    sqlx::query_as("SELECT name, tickers FROM dashboards WHERE owner_id = $1")
        .bind(owner)
        .fetch_all(&db.pool)
        .await
        .expect("dashboards")
}

#[tokio::test]
async fn a_sign_up_creates_one_first_dashboard_however_often_it_arrives() {
    let db = database().await;
    let router = router(db.pool.clone());
    let event = signed_up("evt-1", "user-42", "ada@example.com");
    assert_eq!(router.handle(&event).await, Outcome::Ack);
    let mut again = event.clone();
    again.deliveries = 2;
    assert_eq!(
        router.handle(&again).await,
        Outcome::Ack,
        "a redelivery is acked"
    );
    assert_eq!(
        dashboards_of(&db, "user-42").await,
        [(
            FIRST_DASHBOARD.to_owned(),
            vec!["AAPL".to_owned(), "MSFT".to_owned()]
        )]
    );
    let announced: i64 = sqlx::query_scalar("SELECT count(*) FROM outbox")
        .fetch_one(&db.pool)
        .await
        .expect("outbox");
    assert_eq!(announced, 1, "one dashboards.created, not two");
}

#[tokio::test]
async fn poison_is_rejected_with_its_reason() {
    let db = database().await;
    let router = router(db.pool.clone());
    let cases = [
        (
            record("lzstock.users.signed_up", "e1", json!("not an envelope")),
            "envelope",
        ),
        (
            record(
                "lzstock.users.signed_up",
                "e2",
                json!({"id": "e2", "occurred_at": "2026-11-23T10:00:00Z", "request": {"email": 5}, "response": {}}),
            ),
            "envelope",
        ),
        (signed_up("e3", "", "ada@example.com"), "userId"),
        (signed_up("e4", "user-1", "not-an-address"), "email"),
        (
            record("lzstock.nobody.listens", "e5", json!({})),
            "no route",
        ),
        (
            record("elsewhere.users.signed_up", "e6", json!({})),
            "no route",
        ),
    ];
    for (event, expected) in cases {
        match router.handle(&event).await {
            Outcome::Reject { reason } => assert!(reason.contains(expected), "{reason}"),
            other => panic!("{}: {other:?}", event.subject),
        }
    }
    assert!(dashboards_of(&db, "user-1").await.is_empty());
}

#[tokio::test]
async fn a_database_outage_is_retried_later() {
    let dead =
        lzstock_infra::postgres::pool("postgres://postgres@127.0.0.1:1/none", 1).expect("a pool");
    let router = router(dead);
    let outcome = router
        .handle(&signed_up("evt-9", "user-9", "ada@example.com"))
        .await;
    assert!(matches!(outcome, Outcome::Retry { .. }), "{outcome:?}");
}

#[tokio::test]
async fn a_created_dashboard_is_recorded_once() {
    let db = database().await;
    let router = router(db.pool.clone());
    let event = record(
        "lzstock.dashboards.created",
        "d1",
        json!({"id": "d1", "occurred_at": "2026-11-23T10:00:00Z",
               "request": {"name": "Tech", "tickers": ["AAPL"]},
               "response": {"id": "x", "ownerId": "ada"}}),
    );
    assert_eq!(router.handle(&event).await, Outcome::Ack);
    assert_eq!(router.handle(&event).await, Outcome::Ack);
    let recorded: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM processed_events WHERE handler = 'dashboards.created'",
    )
    .fetch_one(&db.pool)
    .await
    .expect("processed");
    assert_eq!(recorded, 1);
}

#[tokio::test]
async fn the_handler_span_continues_the_publishers_trace() {
    use opentelemetry::trace::{SpanId, TraceId, TracerProvider as _};
    use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider};
    use tracing_subscriber::layer::SubscriberExt;

    let exporter = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(exporter.clone())
        .build();
    let subscriber = tracing_subscriber::registry()
        .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("events-test")));
    // A current-thread test runtime: the handler's span is created on this thread.
    let _installed = tracing::subscriber::set_default(subscriber);

    let db = database().await;
    let router = router(db.pool.clone());
    let mut event = signed_up("evt-traced", "user-traced", "trace@example.com");
    event.headers.insert(
        "traceparent".into(),
        vec!["00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".into()],
    );
    // Other tests of this binary hit the same callsites with no subscriber, in parallel;
    // one of them can cache a callsite's interest as "never" while this test's subscriber
    // is being registered (a registration that began before it and ends after). Let any
    // such registration finish, then ask every callsite again, now that it is.
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    tracing::callsite::rebuild_interest_cache();
    assert_eq!(router.handle(&event).await, Outcome::Ack);
    assert_eq!(dashboards_of(&db, "user-traced").await.len(), 1);

    let spans = exporter.get_finished_spans().expect("spans");
    let span = spans
        .iter()
        .find(|span| span.name == "handle_message")
        .unwrap_or_else(|| panic!("no handle_message span in {spans:?}"));
    assert_eq!(
        span.span_context.trace_id(),
        TraceId::from_hex("4bf92f3577b34da6a3ce929d0e0e4736").expect("hex")
    );
    assert_eq!(
        span.parent_span_id,
        SpanId::from_hex("00f067aa0ba902b7").expect("hex"),
        "the publisher's span is the parent"
    );
    assert!(span.parent_span_is_remote);
}
