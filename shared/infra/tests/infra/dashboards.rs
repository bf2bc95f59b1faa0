//! The PostgreSQL dashboard store against a real server (the relay that publishes its
//! events: `relay.rs`).

use lzstock_domain::common::{OwnerId, PageRequest};
use lzstock_domain::dashboard::{
    parse_indicators, CreateDashboard, DashboardName, DashboardStore, NewDashboard, TickerList,
};
use lzstock_harness::database;
use lzstock_infra::dashboards::PgDashboardStore;
use serde_json::Value;

pub(crate) fn request(name: &str) -> NewDashboard {
    NewDashboard {
        name: DashboardName::parse(name).expect("a valid name"),
        tickers: TickerList::parse(&["AAPL", "BRK.B"]).expect("valid tickers"),
        indicators: parse_indicators(&["net_margin", "current_ratio"]).expect("valid indicators"),
    }
}

pub(crate) fn owner(name: &str) -> OwnerId {
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
