//! The standalone stack on a 3-node JetStream cluster with replicated streams, reached
//! through a list of seeds: two events hosts sharing one durable and the API relaying the
//! outbox, while sign-ups are published and the node leading the event stream and one
//! events host are SIGKILLed. Every sign-up gets exactly one first dashboard and one welcome
//! email, nothing is dead-lettered or parked, and the consumer's ack floor reaches the end.

use std::collections::HashSet;
use std::time::Duration;

use async_nats::HeaderMap;
use lzstock_harness::cluster::NatsCluster;
use lzstock_harness::smtp_sink::SmtpSink;
use lzstock_harness::{base_env, database, nats_on_cluster, process, TestNats};

const EVENTS: &str = env!("CARGO_BIN_EXE_events");

/// Sign-ups published during the faults.
const SIGN_UPS: usize = 1500;
const CONSUMER: &str = "events-cluster";

fn environment(bus: &TestNats, database_url: &str, smtp: &SmtpSink) -> Vec<(String, String)> {
    let mut env = base_env();
    env.extend(bus.env());
    env.push(("NATS_STREAM_REPLICAS".into(), "3".into()));
    env.push(("DATABASE_URL".into(), database_url.to_owned()));
    env.push(("SMTP_URL".into(), smtp.url()));
    env.push(("EVENTS_CONSUMER".into(), CONSUMER.into()));
    env
}

fn spawn(binary: &std::path::Path, env: &[(String, String)]) -> tokio::process::Child {
    tokio::process::Command::new(binary)
        .envs(env.iter().cloned())
        .env_remove("AWS_LAMBDA_RUNTIME_API")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("the binary starts")
}

/// Publishes sign-up `n` until the stream acknowledges it (through an election, the
/// client's reconnects): an at-least-once publisher, as a user's would be.
async fn publish_sign_up(bus: &TestNats, n: usize) {
    let subject = bus.streams.subject("users.signed_up");
    let id = format!("evt-cluster-{n}");
    let body = serde_json::json!({
        "id": id,
        "occurred_at": "2026-11-23T10:00:00Z",
        "request": {"email": format!("user{n}@example.com"), "name": "User"},
        "response": {"userId": format!("user-{n}")},
    })
    .to_string();
    loop {
        let mut headers = HeaderMap::new();
        headers.insert("Nats-Msg-Id", id.as_str());
        if let Ok(ack) = bus
            .jetstream
            .publish_with_headers(subject.clone(), headers, body.clone().into())
            .await
        {
            if let Ok(Ok(_)) = tokio::time::timeout(Duration::from_secs(5), ack).await {
                return;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn count(pool: &sqlx::PgPool, sql: &str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(pool).await.unwrap_or(-1)
}

#[tokio::test(flavor = "multi_thread")]
async fn sign_ups_through_a_leader_kill_and_a_host_kill_are_applied_once_each() {
    let mut cluster = tokio::task::block_in_place(|| NatsCluster::start(3)).expect("cluster");
    let (db, bus, smtp) = tokio::join!(database(), nats_on_cluster(&cluster), SmtpSink::start());
    let env = environment(&bus, &db.url, &smtp);
    let mut first = spawn(EVENTS.as_ref(), &env);
    let _second = spawn(EVENTS.as_ref(), &env);
    // The API relays the outbox the handlers write (dashboards.created, emails.created).
    let port = process::free_port();
    let mut api_env = env.clone();
    api_env.push(("PORT".into(), port.to_string()));
    let _api = spawn(&process::workspace_binary("api"), &api_env);

    let events = bus.streams.events.clone();
    for n in 0..SIGN_UPS / 3 {
        publish_sign_up(&bus, n).await;
    }
    // The node leading the event stream dies, and so does one events host.
    let leader = NatsCluster::leader_of(&bus.jetstream, &events)
        .await
        .expect("a leader");
    let index = cluster.index_of(&leader).expect("a node of the cluster");
    tokio::task::block_in_place(|| cluster.node_mut(index).server.kill());
    first.kill().await.expect("killed");
    for n in SIGN_UPS / 3..2 * SIGN_UPS / 3 {
        publish_sign_up(&bus, n).await;
    }
    tokio::task::block_in_place(|| cluster.node_mut(index).server.resume()).expect("back");
    for n in 2 * SIGN_UPS / 3..SIGN_UPS {
        publish_sign_up(&bus, n).await;
    }
    let new_leader = NatsCluster::leader_of(&bus.jetstream, &events).await;
    assert_ne!(
        new_leader.as_deref(),
        Some(""),
        "the stream has a leader again"
    );

    // Every sign-up applied, and its welcome email sent.
    let pool = &db.pool;
    let everything = tokio::time::timeout(Duration::from_secs(240), async {
        loop {
            let users = count(
                pool,
                "SELECT count(DISTINCT owner_id) FROM dashboards WHERE owner_id LIKE 'user-%'",
            )
            .await;
            let sent = count(pool, "SELECT count(*) FROM emails WHERE status = 'sent'").await;
            if users == SIGN_UPS as i64 && sent == SIGN_UPS as i64 {
                return;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    })
    .await;
    assert!(
        everything.is_ok(),
        "users {}, emails sent {}",
        count(pool, "SELECT count(DISTINCT owner_id) FROM dashboards").await,
        count(pool, "SELECT count(*) FROM emails WHERE status = 'sent'").await
    );
    bus.wait_settled(CONSUMER, bus.last_sequence().await).await;

    assert_eq!(
        count(pool, "SELECT count(*) FROM dashboards").await,
        SIGN_UPS as i64,
        "exactly one first dashboard each"
    );
    assert_eq!(bus.dead_letter_count().await, 0, "nothing dead-lettered");
    assert_eq!(
        count(
            pool,
            "SELECT count(*) FROM outbox WHERE parked_at IS NOT NULL"
        )
        .await,
        0,
        "nothing parked"
    );
    let message_ids: HashSet<String> = smtp
        .received()
        .iter()
        .filter_map(|mail| mail.header("Message-ID"))
        .collect();
    assert_eq!(message_ids.len(), SIGN_UPS, "one welcome email each");
    for stream in [events.clone(), bus.streams.dead_letters.clone()] {
        let replicas = bus
            .jetstream
            .get_stream(&stream)
            .await
            .expect("the stream")
            .info()
            .await
            .expect("its info")
            .config
            .num_replicas;
        assert_eq!(replicas, 3, "{stream}");
    }
}
