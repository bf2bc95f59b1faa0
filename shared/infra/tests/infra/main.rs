//! The adapters' integration tests, one binary (one link of the tree), each against real
//! servers: PostgreSQL stores, the outbox relay, the publisher and the cluster, SEC over
//! HTTP, SMTP.

mod cluster;
mod dashboards;
mod emails;
mod insights;
mod publisher;
mod relay;
mod sec;
mod smtp;
