//! How a consumer pulls and when it gives up on a message.

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::backoff::Backoff;

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
    /// The largest encoded batch one invoke may carry, in bytes. A fetched batch over it is
    /// split into several invokes; a message that cannot fit alone is dead-lettered.
    pub max_invoke_bytes: usize,
    /// Where a new durable consumer starts; applied only when the consumer is created.
    pub start: StartPosition,
}

/// Lambda's longest function timeout (15 minutes) plus a margin for the Invoke call.
pub const DEFAULT_INVOKE_TIMEOUT: Duration = Duration::from_secs(15 * 60 + 30);

/// A synchronous Lambda invoke carries at most 6 MB (6 291 456 bytes) each way; the default
/// stays under both readings of "6 MB" with room for the request's own framing.
pub const DEFAULT_MAX_INVOKE_BYTES: usize = 5_900_000;

/// Where a newly created durable consumer starts reading the stream.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum StartPosition {
    /// From the first message the stream holds.
    #[default]
    All,
    /// Only messages stored after the consumer was created.
    New,
    /// From the first message stored at or after this time.
    Since(DateTime<Utc>),
}

impl std::str::FromStr for StartPosition {
    type Err = String;

    /// `all`, `new`, or an RFC 3339 time.
    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        match raw {
            "all" => Ok(Self::All),
            "new" => Ok(Self::New),
            time => DateTime::parse_from_rfc3339(time)
                .map(|t| Self::Since(t.with_timezone(&Utc)))
                .map_err(|_| format!("{raw:?} is not \"all\", \"new\" or an RFC 3339 time")),
        }
    }
}

/// A setting outside the range the bridge can work with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field} {reason}")]
pub struct InvalidSetting {
    /// The setting's name, as in a routes file (`batch_size`, `ack_wait_ms`, …).
    pub field: &'static str,
    /// What it must be.
    pub reason: String,
}

impl InvalidSetting {
    fn new(field: &'static str, reason: impl Into<String>) -> Self {
        Self {
            field,
            reason: reason.into(),
        }
    }
}

/// The smallest `ack_wait`: in-progress acks go out every third of it, and the server
/// counts it in whole milliseconds.
pub const MIN_ACK_WAIT: Duration = Duration::from_millis(100);

/// The largest batch JetStream hands out for one pull request.
pub const MAX_BATCH_SIZE: usize = 10_000;

/// The smallest `max_invoke_bytes`: room for one small record and its framing.
pub const MIN_INVOKE_BYTES: usize = 4 * 1024;

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

    /// Checks every value against the range the bridge and the server can work with, so
    /// that a zero or negative setting is a configuration error at start rather than a
    /// panic or a silent server default later.
    ///
    /// # Errors
    /// The first setting out of range, by its routes-file name.
    pub fn validate(&self) -> Result<(), InvalidSetting> {
        if !(1..=MAX_BATCH_SIZE).contains(&self.batch_size) {
            return Err(InvalidSetting::new(
                "batch_size",
                format!("must be 1 to {MAX_BATCH_SIZE}, got {}", self.batch_size),
            ));
        }
        if self.max_wait < Duration::from_millis(1) {
            return Err(InvalidSetting::new("max_wait_ms", "must be at least 1 ms"));
        }
        if self.max_deliver < 1 {
            return Err(InvalidSetting::new(
                "max_deliver",
                format!("must be at least 1, got {}", self.max_deliver),
            ));
        }
        if self.ack_wait < MIN_ACK_WAIT {
            return Err(InvalidSetting::new(
                "ack_wait_ms",
                format!(
                    "must be at least {} ms, got {} ms",
                    MIN_ACK_WAIT.as_millis(),
                    self.ack_wait.as_millis()
                ),
            ));
        }
        if self.max_ack_pending < 1 {
            return Err(InvalidSetting::new(
                "max_ack_pending",
                format!("must be at least 1, got {}", self.max_ack_pending),
            ));
        }
        if self.concurrency < 1 {
            return Err(InvalidSetting::new("concurrency", "must be at least 1"));
        }
        if self.invoke_timeout < Duration::from_millis(1) {
            return Err(InvalidSetting::new(
                "invoke_timeout_ms",
                "must be at least 1 ms",
            ));
        }
        if self.backoff.base < Duration::from_millis(1) || self.backoff.max < self.backoff.base {
            return Err(InvalidSetting::new(
                "backoff",
                "base must be at least 1 ms and max at least base",
            ));
        }
        if self.max_invoke_bytes < MIN_INVOKE_BYTES {
            return Err(InvalidSetting::new(
                "max_invoke_bytes",
                format!(
                    "must be at least {MIN_INVOKE_BYTES}, got {}",
                    self.max_invoke_bytes
                ),
            ));
        }
        Ok(())
    }
}

/// How often messages held longer than this are reported in progress: a third of
/// `ack_wait`, so that even across the hand-over from a prefetched batch to its own
/// handling (up to two periods without a report) the server never times one out.
pub(crate) fn progress_every(ack_wait: Duration) -> Duration {
    ack_wait / 3
}

/// One filter subject goes in the singular field, which servers before 2.10 understand
/// (they ignore the plural one and would deliver every subject).
pub(crate) fn single_subject(subjects: &[String]) -> String {
    match subjects {
        [only] => only.clone(),
        _ => String::new(),
    }
}

/// Several filter subjects need the plural field (nats-server 2.10 or later).
pub(crate) fn several_subjects(subjects: &[String]) -> Vec<String> {
    if subjects.len() > 1 {
        subjects.to_vec()
    } else {
        Vec::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn start_positions_parse() {
        assert_eq!("all".parse(), Ok(StartPosition::All));
        assert_eq!("new".parse(), Ok(StartPosition::New));
        assert!(matches!(
            "2026-11-23T10:00:00Z".parse(),
            Ok(StartPosition::Since(_))
        ));
        assert!("yesterday".parse::<StartPosition>().is_err());
    }
}
