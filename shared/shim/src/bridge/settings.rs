//! How a consumer pulls and when it gives up on a message.

use std::time::Duration;

use crate::envelope::Backoff;

/// How the consumer pulls and when it gives up on a message.
#[derive(Debug, Clone)]
pub struct ConsumerSettings {
    /// The stream to consume.
    pub stream: String,
    /// The durable consumer's name; several processes with the same name share the work.
    pub durable: String,
    /// The subjects to take from the stream (empty: all).
    pub filter_subjects: Vec<String>,
    /// Messages fetched at most per batch.
    pub batch_size: usize,
    /// How long a fetch waits to fill a batch (the batching window).
    pub max_wait: Duration,
    /// Deliveries before a message that keeps failing is dead-lettered.
    pub max_deliver: i64,
    /// How long the server waits for an ack before redelivering.
    pub ack_wait: Duration,
    /// Unacknowledged messages the server lets this consumer hold at once.
    pub max_ack_pending: i64,
    /// Records of one batch handled at once (in-process invocation only).
    pub concurrency: usize,
    /// Dead letters go to `<dead_letter_prefix>.<original subject>`.
    pub dead_letter_prefix: String,
    /// The delays before redelivering a batch whose invocation failed as a whole.
    pub backoff: Backoff,
    /// How long an invoke may take before it counts as failed. Lambda stops a function
    /// after at most 15 minutes; the default of [`DEFAULT_INVOKE_TIMEOUT`] leaves a margin.
    pub invoke_timeout: Duration,
}

/// Lambda's longest function timeout (15 minutes) plus a margin for the Invoke call.
pub const DEFAULT_INVOKE_TIMEOUT: Duration = Duration::from_secs(15 * 60 + 30);

impl ConsumerSettings {
    /// How long a fetch may take before the consumer counts as stalled and re-subscribes:
    /// a pull request the server lost in a restart is never answered.
    ///
    /// This client deadline, not an idle heartbeat on the pull, is what notices it: with a
    /// heartbeat, async-nats 0.51 let a fetch run seconds past its expiry, which held sparse
    /// events back by as much.
    #[must_use]
    pub fn stall_after(&self) -> Duration {
        self.max_wait + Duration::from_secs(3)
    }
}
