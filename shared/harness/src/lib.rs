//! LZStock's test harness (a dev-dependency only).
//!
//! It gives every test real servers without any set-up: the first test of a test binary
//! starts one ephemeral PostgreSQL (`initdb` into a temporary directory) and one
//! `nats-server -js` on free ports; each test then gets its own fresh, migrated database
//! ([`database`]) and its own stream names ([`nats`]). The servers die with the test
//! process. `DATABASE_URL` / `NATS_URL` point the harness at existing servers instead.
//!
//! Fault tests start private servers ([`PostgresServer::start`], [`NatsServer::start`])
//! that they can stop and resume mid-test.

pub mod bench;
pub mod cluster;
pub mod emf;
pub mod invoke_api;
pub mod lambda;
pub mod local_http;
pub mod nats;
pub mod network;
pub mod postgres;
pub mod process;
pub mod redis;
pub mod sec_samples;
pub mod sec_standin;
pub mod secrets_manager;
pub mod smtp_sink;
pub mod tls;
pub mod tokens;
pub mod trace_file;

use std::sync::OnceLock;

use lzstock_infra::streams::EventStreams;
use sqlx::{Connection, Executor, PgPool};

pub use nats::NatsServer;
pub use postgres::PostgresServer;

/// A JWT secret that satisfies the configuration's length rule, for tests only.
pub const TEST_JWT_SECRET: &str = "lzstock-test-secret-0123456789abcdef";

enum Target<S> {
    Private(S),
    External(String),
}

fn shared_postgres() -> &'static Target<PostgresServer> {
    static POSTGRES: OnceLock<Target<PostgresServer>> = OnceLock::new();
    POSTGRES.get_or_init(|| match std::env::var("DATABASE_URL") {
        Ok(url) if !url.is_empty() => Target::External(url),
        _ => Target::Private(
            PostgresServer::start().unwrap_or_else(|e| panic!("cannot start PostgreSQL: {e}")),
        ),
    })
}

fn shared_nats() -> &'static Target<NatsServer> {
    static NATS: OnceLock<Target<NatsServer>> = OnceLock::new();
    NATS.get_or_init(|| match std::env::var("NATS_URL") {
        Ok(url) if !url.is_empty() => Target::External(url),
        _ => Target::Private(
            NatsServer::start().unwrap_or_else(|e| panic!("cannot start nats-server: {e}")),
        ),
    })
}

/// A fresh database with every migration applied, for one test.
#[derive(Debug, Clone)]
pub struct TestDatabase {
    /// A pool on the database.
    pub pool: PgPool,
    /// Its URL, for a function binary's `DATABASE_URL`.
    pub url: String,
    /// Its name.
    pub name: String,
}

/// A fresh migrated database on the shared server.
///
/// # Panics
/// When the server cannot be started or reached: a test cannot go on without it.
pub async fn database() -> TestDatabase {
    let maintenance = match shared_postgres() {
        Target::Private(server) => server.url("postgres"),
        Target::External(url) => url.clone(),
    };
    create_database(&maintenance, true).await
}

/// A fresh database with no schema at all, for tests of the migrations themselves.
///
/// # Panics
/// When the server cannot be started or reached.
pub async fn empty_database() -> TestDatabase {
    let maintenance = match shared_postgres() {
        Target::Private(server) => server.url("postgres"),
        Target::External(url) => url.clone(),
    };
    create_database(&maintenance, false).await
}

/// A fresh migrated database on `server` (a private server of a fault test).
///
/// # Panics
/// When the server cannot be reached.
pub async fn database_on(server: &PostgresServer) -> TestDatabase {
    create_database(&server.url("postgres"), true).await
}

async fn create_database(maintenance_url: &str, migrated: bool) -> TestDatabase {
    let name = format!("lzstock_test_{}", uuid::Uuid::new_v4().simple());
    let mut admin = sqlx::PgConnection::connect(maintenance_url)
        .await
        .unwrap_or_else(|e| panic!("cannot connect to PostgreSQL: {e}"));
    admin
        .execute(format!(r#"CREATE DATABASE "{name}""#).as_str())
        .await
        .unwrap_or_else(|e| panic!("cannot create database {name}: {e}"));
    let _ = admin.close().await;
    let url = with_database(maintenance_url, &name);
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(5)
        .connect(&url)
        .await
        .unwrap_or_else(|e| panic!("cannot connect to {name}: {e}"));
    if migrated {
        lzstock_infra::postgres::migrate(&pool)
            .await
            .unwrap_or_else(|e| panic!("migrations failed on {name}: {e}"));
    }
    TestDatabase { pool, url, name }
}

/// `url` with its database path replaced by `database`.
fn with_database(url: &str, database: &str) -> String {
    let (head, query) = url
        .split_once('?')
        .map_or((url, None), |(h, q)| (h, Some(q)));
    let authority_start = head.find("://").map_or(0, |i| i + 3);
    let path_start = head[authority_start..]
        .find('/')
        .map_or(head.len(), |i| authority_start + i);
    let mut out = format!("{}/{database}", &head[..path_start]);
    if let Some(query) = query {
        out.push('?');
        out.push_str(query);
    }
    out
}

/// A NATS connection and stream names of one test's own, already provisioned.
#[derive(Debug, Clone)]
pub struct TestNats {
    /// A client.
    pub client: async_nats::Client,
    /// JetStream on that client.
    pub jetstream: async_nats::jetstream::Context,
    /// The server's URL, for a function binary's `NATS_URL`.
    pub url: String,
    /// This test's streams and subjects.
    pub streams: EventStreams,
}

impl TestNats {
    /// Publishes each `(event id, body)` to `<root>.<subject>` with the id as
    /// `Nats-Msg-Id`, up to 256 awaiting the stream's ack at once; returns when every one
    /// is stored.
    ///
    /// # Panics
    /// When a publish is refused or not acknowledged.
    pub async fn publish_all(
        &self,
        subject: &str,
        events: impl IntoIterator<Item = (String, String)>,
    ) {
        use futures::StreamExt;
        let subject = self.streams.subject(subject);
        let mut acks = futures::stream::iter(events.into_iter().map(|(id, body)| {
            let subject = subject.clone();
            async move {
                let mut headers = async_nats::HeaderMap::new();
                headers.insert("Nats-Msg-Id", id.as_str());
                self.jetstream
                    .publish_with_headers(subject, headers, body.into())
                    .await
                    .expect("publish")
                    .await
                    .expect("stored")
            }
        }))
        .buffer_unordered(256);
        while acks.next().await.is_some() {}
    }

    /// The state of durable consumer `durable` on this test's events stream.
    ///
    /// # Panics
    /// When the stream or the consumer does not exist.
    pub async fn consumer_info(&self, durable: &str) -> async_nats::jetstream::consumer::Info {
        self.jetstream
            .get_stream(&self.streams.events)
            .await
            .expect("the events stream exists")
            .get_consumer::<async_nats::jetstream::consumer::pull::Config>(durable)
            .await
            .unwrap_or_else(|e| panic!("consumer {durable}: {e}"))
            .info()
            .await
            .expect("consumer info")
            .clone()
    }

    /// Waits until durable consumer `durable` has settled every message up to stream
    /// sequence `through`: its ack floor reached it and nothing is pending or in hand. The
    /// positive signal after which a test may assert that something did *not* happen (no
    /// further delivery can come for an acknowledged message).
    ///
    /// # Panics
    /// When that does not happen within 60 s.
    pub async fn wait_settled(&self, durable: &str, through: u64) {
        let stream = self
            .jetstream
            .get_stream(&self.streams.events)
            .await
            .expect("the events stream exists");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        loop {
            // Absent until whoever owns it has started.
            let info = stream.consumer_info(durable).await.ok();
            if info.as_ref().is_some_and(|info| {
                info.ack_floor.stream_sequence >= through
                    && info.num_ack_pending == 0
                    && info.num_pending == 0
            }) {
                return;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "consumer {durable} did not settle through {through}: {info:?}"
            );
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }

    /// The last sequence this test's events stream has stored.
    ///
    /// # Panics
    /// When the stream does not exist.
    pub async fn last_sequence(&self) -> u64 {
        self.jetstream
            .get_stream(&self.streams.events)
            .await
            .expect("the events stream exists")
            .info()
            .await
            .expect("stream info")
            .state
            .last_sequence
    }

    /// How many messages this test's dead-letter stream holds.
    ///
    /// # Panics
    /// When the stream does not exist.
    pub async fn dead_letter_count(&self) -> u64 {
        self.jetstream
            .get_stream(&self.streams.dead_letters)
            .await
            .expect("the dead-letter stream exists")
            .info()
            .await
            .expect("stream info")
            .state
            .messages
    }

    /// The variables that point a function binary at this test's streams.
    #[must_use]
    pub fn env(&self) -> Vec<(String, String)> {
        vec![
            ("NATS_URL".into(), self.url.clone()),
            ("EVENTS_STREAM".into(), self.streams.events.clone()),
            (
                "DEAD_LETTER_STREAM".into(),
                self.streams.dead_letters.clone(),
            ),
            (
                "EVENTS_SUBJECT_ROOT".into(),
                self.streams.subject_root.clone(),
            ),
        ]
    }
}

/// A NATS connection on the shared server, with this test's own provisioned streams.
///
/// # Panics
/// When the server cannot be started or reached.
pub async fn nats() -> TestNats {
    let url = match shared_nats() {
        Target::Private(server) => server.url(),
        Target::External(url) => url.clone(),
    };
    connect_nats(url).await
}

/// A NATS connection on `server` (a private server of a fault test), with provisioned streams.
///
/// # Panics
/// When the server cannot be reached.
pub async fn nats_on(server: &NatsServer) -> TestNats {
    connect_nats(server.url()).await
}

/// A NATS connection through every node of `cluster` (its seeds), with this test's own
/// streams, each replicated on three nodes.
///
/// # Panics
/// When the cluster cannot be reached.
pub async fn nats_on_cluster(cluster: &cluster::NatsCluster) -> TestNats {
    connect_nats_with(cluster.seeds(), Some(3)).await
}

async fn connect_nats(url: String) -> TestNats {
    connect_nats_with(url, None).await
}

/// Connects through `url` (one server, or seeds separated by commas) and provisions this
/// test's streams with `replicas`.
async fn connect_nats_with(url: String, replicas: Option<usize>) -> TestNats {
    let seeds: Vec<&str> = url.split(',').collect();
    let client = async_nats::ConnectOptions::new()
        .retry_on_initial_connect()
        .connect(seeds)
        .await
        .unwrap_or_else(|e| panic!("cannot connect to NATS at {url}: {e}"));
    let jetstream = async_nats::jetstream::new(client.clone());
    let id = uuid::Uuid::new_v4().simple().to_string()[..12].to_owned();
    let streams = EventStreams {
        events: format!("LZSTOCK_{id}"),
        dead_letters: format!("LZSTOCK_DLQ_{id}"),
        subject_root: format!("t{id}.lzstock"),
        dead_letter_prefix: "dlq".into(),
        replicas,
    };
    // A cluster that has just reported healthy may not yet place replicated streams (its
    // JetStream meta group is still learning its peers: "no suitable peers for
    // placement"): try again for a while, as the binaries do at start.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        match streams.provision(&jetstream).await {
            Ok(_) => break,
            Err(_) if std::time::Instant::now() < deadline => {
                tokio::time::sleep(std::time::Duration::from_millis(500)).await;
            }
            Err(error) => panic!("cannot provision test streams: {error}"),
        }
    }
    TestNats {
        client,
        jetstream,
        url,
        streams,
    }
}

/// The environment a function binary needs beyond the database and NATS: valid values for
/// every required variable, none of them pointing at a real third party.
#[must_use]
pub fn base_env() -> Vec<(String, String)> {
    [
        ("JWT_SECRET", TEST_JWT_SECRET),
        ("SEC_USER_AGENT", "LZStock tests ci@lzstock.invalid"),
        ("SMTP_URL", "smtp://127.0.0.1:1"),
        ("EMAIL_FROM", "noreply@lzstock.test"),
        ("RUST_LOG", "info"),
        ("LOG_FORMAT", "json"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect()
}

#[cfg(test)]
mod tests {
    use super::with_database;

    #[test]
    fn the_database_is_swapped_in_a_url() {
        assert_eq!(
            with_database("postgres://u:p@h:5/postgres?sslmode=disable", "x"),
            "postgres://u:p@h:5/x?sslmode=disable"
        );
        assert_eq!(with_database("postgres://h:5", "x"), "postgres://h:5/x");
    }
}
