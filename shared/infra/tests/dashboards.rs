//! The PostgreSQL dashboard store and the outbox relay, against real servers.

use std::time::Duration;

use lzstock_domain::dashboard::{
    parse_indicators, CreateDashboard, DashboardName, DashboardStore, NewDashboard, OwnerId,
    PageRequest, TickerList,
};
use lzstock_harness::{database, nats, nats_on, NatsServer};
use lzstock_infra::dashboards::PgDashboardStore;
use lzstock_infra::outbox::OutboxRelay;
use serde_json::Value;

fn request(name: &str) -> NewDashboard {
    NewDashboard {
        name: DashboardName::parse(name).expect("a valid name"),
        tickers: TickerList::parse(&["AAPL", "BRK.B"]).expect("valid tickers"),
        indicators: parse_indicators(&["net_margin", "current_ratio"]).expect("valid indicators"),
    }
}

fn owner(name: &str) -> OwnerId {
    OwnerId::parse(name).expect("a valid owner")
}

#[tokio::test]
async fn a_created_dashboard_reads_back_and_its_event_waits_in_the_outbox() {
    let db = database().await;
    let store = PgDashboardStore::new(db.pool.clone(), "lzstock");
    let created = CreateDashboard::new(store.clone())
        .execute(
            owner("ada"),
            request("Tech"),
            Some("4bf92f3577b34da6a3ce929d0e0e4736".into()),
        )
        .await
        .unwrap();

    assert_eq!(store.get(created.id).await.unwrap(), Some(created.clone()));

    let (subject, payload, traceparent): (String, Value, Option<String>) =
        sqlx::query_as("SELECT subject, payload, traceparent FROM outbox")
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert_eq!(subject, "lzstock.dashboards.created");
    assert_eq!(payload["trace_id"], "4bf92f3577b34da6a3ce929d0e0e4736");
    assert_eq!(
        payload["request"]["tickers"],
        serde_json::json!(["AAPL", "BRK.B"])
    );
    assert_eq!(payload["response"]["id"], created.id.to_string());
    assert_eq!(payload["response"]["ownerId"], "ada");
    assert!(traceparent
        .unwrap()
        .starts_with("00-4bf92f3577b34da6a3ce929d0e0e4736-"));
}

#[tokio::test]
async fn listing_pages_newest_first_and_only_the_owners() {
    let db = database().await;
    let store = PgDashboardStore::new(db.pool.clone(), "lzstock");
    let create = CreateDashboard::new(store.clone());
    let mut names = Vec::new();
    for i in 0..25 {
        let name = format!("Board {i:02}");
        create
            .execute(owner("ada"), request(&name), None)
            .await
            .unwrap();
        names.push(name);
    }
    create
        .execute(owner("bob"), request("Bob's"), None)
        .await
        .unwrap();
    names.reverse();

    let mut seen = Vec::new();
    for (page, expected) in [(1, 10), (2, 10), (3, 5), (4, 0)] {
        let listed = store
            .list_by_owner(
                &owner("ada"),
                PageRequest::parse(Some(page), Some(10)).unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(listed.total, 25);
        assert_eq!(listed.items.len(), expected, "page {page}");
        seen.extend(listed.items.into_iter().map(|d| d.name.as_str().to_owned()));
    }
    assert_eq!(seen, names, "every dashboard once, newest first");
}

#[tokio::test]
async fn only_the_owner_deletes() {
    let db = database().await;
    let store = PgDashboardStore::new(db.pool.clone(), "lzstock");
    let created = CreateDashboard::new(store.clone())
        .execute(owner("ada"), request("Mine"), None)
        .await
        .unwrap();
    assert!(!store.delete_owned(created.id, &owner("bob")).await.unwrap());
    assert!(store.get(created.id).await.unwrap().is_some());
    assert!(store.delete_owned(created.id, &owner("ada")).await.unwrap());
    assert!(store.get(created.id).await.unwrap().is_none());
}

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
    assert_eq!(relay.publish_pending().await.unwrap(), 3);
    assert_eq!(relay.publish_pending().await.unwrap(), 0);

    // A relay that died after publishing but before marking the row publishes it again.
    sqlx::query("UPDATE outbox SET published_at = NULL WHERE payload->'request'->>'name' = 'B'")
        .execute(&db.pool)
        .await
        .unwrap();
    assert_eq!(relay.publish_pending().await.unwrap(), 1);

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
    assert!(!matches!(failed, Ok(Ok(1))), "nothing can be published yet");
    let pending: i64 = sqlx::query_scalar("SELECT count(*) FROM outbox WHERE published_at IS NULL")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(pending, 1);

    tokio::task::block_in_place(|| server.resume()).unwrap();
    let published = tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            if let Ok(n) = relay.publish_pending().await {
                if n > 0 {
                    return n;
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
