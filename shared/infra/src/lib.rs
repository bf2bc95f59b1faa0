//! Adapters behind LZStock's ports: PostgreSQL through sqlx and NATS JetStream through
//! async-nats. Usecases in `lzstock-domain` see only the traits they implement; the
//! composition root in `lzstock-app` wires them up.

pub mod companies;
pub mod company_sync;
pub mod dashboards;
pub mod database;
pub mod email_cache;
pub mod emails;
pub mod migrations;
pub mod nats;
pub mod notices;
pub mod outbox;
pub mod postgres;
pub mod processed;
pub mod publisher;
pub mod scrape_runs;
pub mod sec;
pub mod smtp;
pub mod streams;
