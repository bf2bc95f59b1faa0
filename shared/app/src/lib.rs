//! What every LZStock function shares at its composition root: the configuration of the
//! servers they use (PostgreSQL, NATS, SMTP, Redis, SEC), the code that turns it into
//! connected resources, and `/healthz`. Each function's own handlers and configuration live
//! in its crate under `functions/`.
#![warn(missing_docs)]

pub mod config;
pub mod health;
pub mod resources;
