//! The bridge core: durable JetStream pull consumers that hand batches of messages to a
//! function and carry out each record's [`Outcome`](crate::batch::Outcome).
//!
//! It behaves like Lambda's own SQS event source mapping: batch size and batching window,
//! partial batch responses, bounded in-flight (`max_ack_pending`), backoff between
//! redeliveries (a nak *with* a delay: a bare nak redelivers at once and burns
//! `max_deliver` in milliseconds during an outage), dead letters with their reason, and
//! in-progress acks while a slow invoke runs. The function is reached through an
//! [`Invoke`]: in-process ([`InProcess`]) or through the Lambda Invoke API
//! ([`LambdaFunction`]).

pub mod advisory;
pub mod concurrency;
pub mod consumer;
pub mod dead_letters;
mod dispatch;
pub mod durable;
pub mod invoke;
pub mod lambda;
pub mod metrics;
mod record;
pub mod replay;
pub mod settings;
mod settle;
mod sizing;
pub mod supervise;

pub use concurrency::{Concurrency, Gated};
pub use consumer::{run, ConsumerError};
pub use durable::{reconcile, reconcile_as, Reconciled, Writer};
pub use invoke::{InProcess, Invoke, InvokeError};
pub use lambda::LambdaFunction;
pub use metrics::{BridgeMetrics, ConsumerState};
pub use settings::ConsumerSettings;
pub use settle::{dead_letter_headers, header_value, MAX_HEADER_VALUE};
pub use supervise::supervise;
