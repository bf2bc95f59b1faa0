//! The outbox relay against real PostgreSQL and NATS: each event published once, through a
//! broker outage, past a poison row, pruned after its retention, and by two relays at once.

use std::time::Duration;

use futures::StreamExt;
use lzstock_domain::dashboard::CreateDashboard;
use lzstock_harness::{database, nats, nats_on, NatsServer};
use lzstock_infra::dashboards::PgDashboardStore;
use lzstock_infra::outbox::{OutboxEvent, OutboxRelay, RelaySettings};
use serde_json::{json, Value};

use crate::dashboards::{owner, request};

#[tokio::test]
async fn the_relay_publishes_each_event_once_even_when_it_repeats_itself() {
    let (db, bus) = tokio::join!(database(), nats());
    let store = PgDashboardStore::new(db.pool.clone(), bus.streams.subject_root.clone());
    let create = CreateDashboard::new(store);
    for name in ["A", "B", "C"] {
        create
            .execute(owner("ada"), request(name), None)
            .await
            .unwrap();
    }
    let relay = OutboxRelay::new(db.pool.clone(), bus.jetstream.clone());
    assert_eq!(relay.publish_pending().await.unwrap().published, 3);
    assert_eq!(relay.publish_pending().await.unwrap().published, 0);

    // A relay that died after publishing but before marking the row publishes it again.
    sqlx::query("UPDATE outbox SET published_at = NULL WHERE payload->'request'->>'name' = 'B'")
        .execute(&db.pool)
        .await
        .unwrap();
    assert_eq!(relay.publish_pending().await.unwrap().published, 1);

    let mut stream = bus.jetstream.get_stream(&bus.streams.events).await.unwrap();
    assert_eq!(
        stream.info().await.unwrap().state.messages,
        3,
        "the stream dropped the repeat"
    );
    let first = stream.get_raw_message(1).await.unwrap();
    let envelope: Value = serde_json::from_slice(&first.payload).unwrap();
    assert_eq!(
        first.subject.as_str(),
        bus.streams.subject("dashboards.created")
    );
    assert_eq!(
        first.headers.get("Nats-Msg-Id").unwrap().as_str(),
        envelope["id"].as_str().unwrap()
    );
    assert_eq!(envelope["request"]["name"], "A");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_event_committed_while_nats_is_down_is_published_when_it_returns() {
    let mut server = tokio::task::block_in_place(NatsServer::start).unwrap();
    let (db, bus) = tokio::join!(database(), nats_on(&server));
    let store = PgDashboardStore::new(db.pool.clone(), bus.streams.subject_root.clone());
    let relay = OutboxRelay::new(db.pool.clone(), bus.jetstream.clone());

    tokio::task::block_in_place(|| server.stop());
    CreateDashboard::new(store)
        .execute(owner("ada"), request("Offline"), None)
        .await
        .expect("the request commits although NATS is down");
    let failed = tokio::time::timeout(Duration::from_secs(15), relay.publish_pending()).await;
    assert!(
        !matches!(failed, Ok(Ok(pass)) if pass.published > 0),
        "nothing can be published yet"
    );
    let pending: i64 = sqlx::query_scalar("SELECT count(*) FROM outbox WHERE published_at IS NULL")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(pending, 1);
    // An outage is not the row's fault: no attempt is charged, so it can never be parked.
    let (attempts, status): (i32, String) = sqlx::query_as("SELECT attempts, status FROM outbox")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!((attempts, status.as_str()), (0, "pending"));

    tokio::task::block_in_place(|| server.resume()).unwrap();
    let published = tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            if let Ok(pass) = relay.publish_pending().await {
                if pass.published > 0 {
                    return pass.published;
                }
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    })
    .await
    .expect("published after NATS returns");
    assert_eq!(published, 1);
    let mut stream = bus.jetstream.get_stream(&bus.streams.events).await.unwrap();
    assert_eq!(stream.info().await.unwrap().state.messages, 1);
}

/// Writes one outbox row on `subject` in its own transaction (ids are time-ordered, so
/// rows keep the order they were written in).
async fn outbox_row(
    db: &lzstock_harness::TestDatabase,
    subject: String,
    payload: Value,
) -> uuid::Uuid {
    let event = OutboxEvent {
        id: uuid::Uuid::now_v7(),
        subject,
        payload,
        traceparent: None,
    };
    let mut tx = db.pool.begin().await.expect("begin");
    lzstock_infra::outbox::insert(&mut tx, &event)
        .await
        .expect("insert");
    tx.commit().await.expect("commit");
    event.id
}

async fn statuses(db: &lzstock_harness::TestDatabase) -> Vec<(uuid::Uuid, String, i32)> {
    sqlx::query_as("SELECT id, status, attempts FROM outbox ORDER BY created_at, id")
        .fetch_all(&db.pool)
        .await
        .expect("statuses")
}

#[tokio::test(flavor = "multi_thread")]
async fn a_poison_row_is_parked_and_the_rows_after_it_are_published_once_each() {
    let (db, bus) = tokio::join!(database(), nats());
    let good = |n: usize| json!({"id": format!("good-{n}")});
    let mut ids = Vec::new();
    for n in 0..3 {
        ids.push(outbox_row(&db, bus.streams.subject("things.happened"), good(n)).await);
    }
    // No stream holds this subject: the broker answers, and refuses, every time.
    let unrouted = outbox_row(
        &db,
        format!("nostream-{}.poison", bus.streams.events),
        good(9),
    )
    .await;
    // Over the server's max_payload: the client refuses it before sending.
    let oversized = outbox_row(
        &db,
        bus.streams.subject("things.happened"),
        json!({"blob": "x".repeat(2 * 1024 * 1024)}),
    )
    .await;
    for n in 3..6 {
        ids.push(outbox_row(&db, bus.streams.subject("things.happened"), good(n)).await);
    }

    // Every publish the relay makes, duplicates included, as the server sees them.
    let mut seen = bus.client.subscribe(">").await.expect("subscribe");
    let relay = OutboxRelay::with_settings(
        db.pool.clone(),
        bus.jetstream.clone(),
        RelaySettings {
            max_attempts: 3,
            retry: lzstock_shim::backoff::Backoff {
                base: Duration::from_millis(10),
                max: Duration::from_millis(50),
            },
            ..RelaySettings::default()
        },
    );
    let first = relay.publish_pending().await.expect("first pass");
    assert_eq!(
        first.published, 6,
        "the rows after the poison are not held back"
    );
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let rows = statuses(&db).await;
        if rows.iter().all(|(_, status, _)| status != "pending") {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{rows:?}");
        relay.publish_pending().await.expect("pass");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    for (id, status, attempts) in statuses(&db).await {
        if id == unrouted || id == oversized {
            assert_eq!((status.as_str(), attempts), ("parked", 3), "{id}");
        } else {
            assert_eq!((status.as_str(), attempts), ("published", 1), "{id}");
        }
    }
    let last_error: Option<String> =
        sqlx::query_scalar("SELECT last_error FROM outbox WHERE id = $1")
            .bind(oversized)
            .fetch_one(&db.pool)
            .await
            .expect("last error");
    assert!(last_error.is_some_and(|e| !e.is_empty()));

    // Everything the relay sent has reached the subscription once the server answers a ping.
    bus.client.flush().await.expect("flush");
    let mut published: std::collections::HashMap<String, usize> = Default::default();
    while let Ok(Some(message)) =
        tokio::time::timeout(Duration::from_millis(200), seen.next()).await
    {
        if let Some(id) = message.headers.as_ref().and_then(|h| h.get("Nats-Msg-Id")) {
            *published.entry(id.as_str().to_owned()).or_default() += 1;
        }
    }
    for id in &ids {
        assert_eq!(
            published.get(&id.to_string()),
            Some(&1),
            "{id} published once"
        );
    }

    assert_eq!(relay.metrics().parked(), 2);

    // Once the cause is fixed, an operator returns parked rows to the relay.
    assert_eq!(
        lzstock_infra::outbox::relay::unpark(&db.pool)
            .await
            .expect("unpark"),
        2
    );
    let pending: i64 = sqlx::query_scalar("SELECT count(*) FROM outbox WHERE status = 'pending'")
        .fetch_one(&db.pool)
        .await
        .expect("count");
    assert_eq!(pending, 2);
}

#[tokio::test]
async fn published_rows_are_pruned_after_their_retention() {
    let (db, bus) = tokio::join!(database(), nats());
    let old = outbox_row(&db, bus.streams.subject("things.happened"), json!({})).await;
    let recent = outbox_row(&db, bus.streams.subject("things.happened"), json!({})).await;
    let pending = outbox_row(&db, bus.streams.subject("things.happened"), json!({})).await;
    sqlx::query("UPDATE outbox SET published_at = now() - interval '8 days' WHERE id = $1")
        .bind(old)
        .execute(&db.pool)
        .await
        .expect("age");
    sqlx::query("UPDATE outbox SET published_at = now() WHERE id = $1")
        .bind(recent)
        .execute(&db.pool)
        .await
        .expect("publish");
    let relay = OutboxRelay::new(db.pool.clone(), bus.jetstream.clone());
    assert_eq!(relay.prune().await.expect("prune"), 1);
    let left: Vec<uuid::Uuid> = statuses(&db).await.into_iter().map(|(id, ..)| id).collect();
    assert_eq!(left, [recent, pending]);
}

#[tokio::test(flavor = "multi_thread")]
async fn two_relays_on_one_outbox_publish_every_row_and_settle_only_their_own() {
    let (db, bus) = tokio::join!(database(), nats());
    let mut ids = Vec::new();
    for n in 0..300 {
        ids.push(
            outbox_row(
                &db,
                bus.streams.subject("things.happened"),
                json!({"id": format!("shared-{n}")}),
            )
            .await,
        );
    }
    let relays = [
        OutboxRelay::new(db.pool.clone(), bus.jetstream.clone()),
        OutboxRelay::new(db.pool.clone(), bus.jetstream.clone()),
    ];
    let (a, b) = tokio::join!(relays[0].publish_pending(), relays[1].publish_pending());
    let (a, b) = (a.expect("relay a"), b.expect("relay b"));
    assert_eq!(a.published + b.published, 300, "{a:?} {b:?}");
    for (id, status, attempts) in statuses(&db).await {
        assert_eq!((status.as_str(), attempts), ("published", 1), "{id}");
    }
    let mut stream = bus.jetstream.get_stream(&bus.streams.events).await.unwrap();
    assert_eq!(stream.info().await.unwrap().state.messages, 300);

    // A claim that lapsed and was taken over: the first holder's settlement changes nothing.
    let row = outbox_row(
        &db,
        bus.streams.subject("things.happened"),
        json!({"id": "late"}),
    )
    .await;
    sqlx::query("UPDATE outbox SET claimed_until = now() + interval '1 minute', claim_token = gen_random_uuid() WHERE id = $1")
        .bind(row)
        .execute(&db.pool)
        .await
        .expect("another relay's claim");
    assert_eq!(
        relays[0].publish_pending().await.expect("pass").published,
        0,
        "a row another relay holds is not taken"
    );
    let holder: Option<uuid::Uuid> =
        sqlx::query_scalar("SELECT claim_token FROM outbox WHERE id = $1")
            .bind(row)
            .fetch_one(&db.pool)
            .await
            .expect("token");
    assert!(holder.is_some(), "the holder's claim stands");
}
