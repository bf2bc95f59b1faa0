//! The outbox relay on a 3-node JetStream cluster with replicated streams: while a majority
//! of the nodes is down for a minute (the stream has no leader and cannot elect one), no
//! row is charged an attempt or parked, and the relay catches up when the nodes return.

use std::time::Duration;

use lzstock_harness::cluster::NatsCluster;
use lzstock_harness::{database, nats_on_cluster};
use lzstock_infra::outbox::{OutboxEvent, OutboxRelay, RelaySettings};
use serde_json::json;

async fn write_rows(pool: &sqlx::PgPool, subject: &str, from: usize, to: usize) {
    for n in from..to {
        let event = OutboxEvent {
            id: uuid::Uuid::now_v7(),
            subject: subject.to_owned(),
            payload: json!({"id": format!("row-{n}")}),
            traceparent: None,
        };
        let mut tx = pool.begin().await.expect("begin");
        lzstock_infra::outbox::insert(&mut tx, &event)
            .await
            .expect("insert");
        tx.commit().await.expect("commit");
    }
}

async fn count(pool: &sqlx::PgPool, sql: &str) -> i64 {
    sqlx::query_scalar(sql)
        .fetch_one(pool)
        .await
        .expect("count")
}

async fn wait_published(pool: &sqlx::PgPool, rows: i64, within: Duration) {
    tokio::time::timeout(within, async {
        loop {
            if count(
                pool,
                "SELECT count(*) FROM outbox WHERE published_at IS NOT NULL",
            )
            .await
                == rows
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    })
    .await
    .unwrap_or_else(|_| panic!("{rows} rows not published within {within:?}"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_majority_down_for_a_minute_parks_nothing_and_the_relay_catches_up() {
    let mut cluster = tokio::task::block_in_place(|| NatsCluster::start(3)).expect("cluster");
    let (db, bus) = tokio::join!(database(), nats_on_cluster(&cluster));
    // Few attempts: a row charged for the outage would be parked within seconds.
    let relay = OutboxRelay::with_settings(
        db.pool.clone(),
        bus.jetstream.clone(),
        RelaySettings {
            max_attempts: 3,
            retry: lzstock_shim::backoff::Backoff {
                base: Duration::from_millis(200),
                max: Duration::from_secs(1),
            },
            ..RelaySettings::default()
        },
    );
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let relaying = async {
        let mut stopped = stopped.clone();
        relay
            .run(async move {
                let _ = stopped.wait_for(|s| *s).await;
            })
            .await;
    };
    let subject = bus.streams.subject("things.happened");
    let checking = async {
        write_rows(&db.pool, &subject, 0, 20).await;
        wait_published(&db.pool, 20, Duration::from_secs(30)).await;

        // Two of three nodes down: no quorum for the stream, for a minute.
        let down: Vec<usize> = (0..2).collect();
        for index in &down {
            tokio::task::block_in_place(|| cluster.node_mut(*index).server.kill());
        }
        write_rows(&db.pool, &subject, 20, 40).await;
        tokio::time::sleep(Duration::from_secs(60)).await;
        let parked: Vec<String> =
            sqlx::query_scalar("SELECT last_error FROM outbox WHERE parked_at IS NOT NULL")
                .fetch_all(&db.pool)
                .await
                .expect("parked rows");
        assert!(parked.is_empty(), "nothing parked: {parked:?}");
        assert_eq!(
            count(
                &db.pool,
                "SELECT count(*) FROM outbox WHERE published_at IS NULL AND attempts > 0"
            )
            .await,
            0,
            "no row charged for the outage"
        );

        for index in &down {
            tokio::task::block_in_place(|| cluster.node_mut(*index).server.resume())
                .expect("the node returns");
        }
        wait_published(&db.pool, 40, Duration::from_secs(90)).await;
        stop.send(true).expect("relay running");
    };
    tokio::join!(relaying, checking);

    let mut stream = bus
        .jetstream
        .get_stream(&bus.streams.events)
        .await
        .expect("stream");
    let info = stream.info().await.expect("info");
    assert_eq!(info.state.messages, 40, "each row once");
    assert_eq!(info.config.num_replicas, 3);
}
