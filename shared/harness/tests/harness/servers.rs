//! The harness's own guarantees: fresh isolated databases and streams, and servers that
//! can be stopped and resumed mid-test while clients reconnect.

use std::time::Duration;

use lzstock_harness::{database, database_on, nats, nats_on, NatsServer, PostgresServer};

#[tokio::test]
async fn each_test_gets_its_own_migrated_database() {
    let (a, b) = tokio::join!(database(), database());
    assert_ne!(a.name, b.name);
    sqlx::query(
        "INSERT INTO companies (ticker, cik, name) VALUES ('AAPL', '0000320193', 'Apple Inc.')",
    )
    .execute(&a.pool)
    .await
    .unwrap();
    let in_b: i64 = sqlx::query_scalar("SELECT count(*) FROM companies")
        .fetch_one(&b.pool)
        .await
        .unwrap();
    assert_eq!(
        in_b, 0,
        "a write in one test's database is invisible to another"
    );
}

#[tokio::test]
async fn each_test_gets_its_own_streams() {
    let (a, b) = tokio::join!(nats(), nats());
    assert_ne!(a.streams.events, b.streams.events);
    a.jetstream
        .publish(a.streams.subject("probe"), "x".into())
        .await
        .unwrap()
        .await
        .unwrap();
    let mut stream_b = b.jetstream.get_stream(&b.streams.events).await.unwrap();
    assert_eq!(stream_b.info().await.unwrap().state.messages, 0);
}

#[tokio::test]
async fn the_schema_enforces_its_constraints() {
    let db = database().await;
    let bad_cik =
        sqlx::query("INSERT INTO companies (ticker, cik, name) VALUES ('AAPL', '320193', 'Apple')")
            .execute(&db.pool)
            .await;
    assert!(bad_cik.is_err(), "a CIK must be ten digits");
    let bad_ticker = sqlx::query(
        "INSERT INTO companies (ticker, cik, name) VALUES ('aapl', '0000320193', 'Apple')",
    )
    .execute(&db.pool)
    .await;
    assert!(bad_ticker.is_err(), "a ticker is upper case");
    let orphan_fact = sqlx::query(
        "INSERT INTO company_facts (ticker, concept, unit, period_end, fiscal_year, fiscal_period, form, filed, accession, value)
         VALUES ('NOPE', 'us-gaap:Revenues', 'USD', '2025-12-31', 2025, 'FY', '10-K', '2026-02-01', '0000320193-26-000001', 1)",
    )
    .execute(&db.pool)
    .await;
    assert!(orphan_fact.is_err(), "a fact needs its company");
}

#[tokio::test(flavor = "multi_thread")]
async fn postgres_can_be_stopped_and_resumed_and_the_pool_reconnects() {
    let mut server = tokio::task::block_in_place(PostgresServer::start).unwrap();
    let db = database_on(&server).await;
    let pool = lzstock_infra::postgres::pool(&db.url, 2).unwrap();
    let version = lzstock_infra::postgres::server_version(&pool)
        .await
        .unwrap();
    assert!(!version.is_empty());
    sqlx::query(
        "INSERT INTO companies (ticker, cik, name) VALUES ('MSFT', '0000789019', 'Microsoft')",
    )
    .execute(&pool)
    .await
    .unwrap();

    tokio::task::block_in_place(|| server.stop());
    assert!(
        lzstock_infra::postgres::server_version(&pool)
            .await
            .is_err(),
        "a stopped server cannot answer"
    );

    tokio::task::block_in_place(|| server.resume()).unwrap();
    let tickers: Vec<String> = sqlx::query_scalar("SELECT ticker FROM companies")
        .fetch_all(&pool)
        .await
        .unwrap();
    assert_eq!(tickers, ["MSFT"], "the data survived the restart");
}

#[tokio::test(flavor = "multi_thread")]
async fn nats_can_be_stopped_and_resumed_and_the_client_reconnects() {
    let mut server = tokio::task::block_in_place(NatsServer::start).unwrap();
    let bus = nats_on(&server).await;
    let subject = bus.streams.subject("probe");
    bus.jetstream
        .publish(subject.clone(), "before".into())
        .await
        .unwrap()
        .await
        .unwrap();

    tokio::task::block_in_place(|| server.stop());
    let during = tokio::time::timeout(Duration::from_secs(2), async {
        bus.jetstream
            .publish(subject.clone(), "during".into())
            .await?
            .await
    })
    .await;
    assert!(
        !matches!(during, Ok(Ok(_))),
        "a stopped server cannot acknowledge"
    );

    tokio::task::block_in_place(|| server.resume()).unwrap();
    let after = tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            match bus.jetstream.publish(subject.clone(), "after".into()).await {
                Ok(ack) => match ack.await {
                    Ok(ack) => return ack,
                    Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
                },
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
    })
    .await
    .expect("the client reconnects and publishes within 20 s");
    assert_eq!(after.stream, bus.streams.events);
    let stream = bus.jetstream.get_stream(&bus.streams.events).await.unwrap();
    let first = stream.get_raw_message(1).await.unwrap();
    assert_eq!(
        &first.payload[..],
        b"before",
        "the stream kept its messages"
    );
}
