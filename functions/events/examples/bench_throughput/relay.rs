//! The outbox relay against a bare async-nats publishing loop.

use super::*;

/// Outbox rows for `count` events on `bus`'s streams, written in one transaction.
pub(crate) async fn outbox_rows(pool: &PgPool, bus: &TestNats, count: usize) -> Vec<OutboxEvent> {
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
pub(crate) async fn relay(server: &PostgresServer, count: usize) -> f64 {
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
pub(crate) async fn bare_publish(server: &PostgresServer, count: usize) -> f64 {
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
