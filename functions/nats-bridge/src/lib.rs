//! The NATS bridge: a long-running process that provisions the streams, pulls JetStream
//! for each configured route and invokes its Lambda function with every batch, relays the
//! transactional outbox (when `DATABASE_URL` is set), dead-letters from max-deliveries
//! advisories, and serves `/healthz` and `/metrics`. Its subcommands operate the
//! dead-letter stream and replay history.

#![warn(missing_docs)]

pub mod config;
pub mod operations;
pub mod serve;
