//! The runtime shim of LZStock.
//!
//! Every function binary hands its handler to this crate, and the shim decides how the
//! binary is hosted: under `lambda_runtime` / `lambda_http` when `AWS_LAMBDA_RUNTIME_API`
//! is set (on AWS and under `cargo lambda watch`), or as a long-lived standalone process
//! otherwise (an HTTP server, a JetStream consumer, an in-process cron schedule).
//!
//! The shim is a reusable library: it knows nothing of LZStock's domain, and the layer
//! rules test keeps it that way.
#![warn(missing_docs)]

pub mod aws;
pub mod backoff;
pub mod batch;
pub mod bridge;
pub mod claims;
pub mod config;
pub mod custom_resource;
pub mod envelope;
pub mod host;
pub mod http;
pub mod invocation;
pub mod message_host;
pub mod meters;
pub mod schedule;
pub mod secrets;
pub mod shutdown;
pub mod streams;
pub mod tasks;
pub mod telemetry;

pub use host::Host;
