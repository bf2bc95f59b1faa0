//! How the relay retries, parks and prunes.

use std::time::Duration;

use lzstock_shim::backoff::Backoff;

/// How the relay retries, parks and prunes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RelaySettings {
    /// Failed attempts (with the broker answering) after which a row is parked.
    pub max_attempts: u32,
    /// The delay before a failed row's next attempt: doubling from `base` up to `max`.
    pub retry: Backoff,
    /// How long published rows are kept before they are deleted.
    pub retention: Duration,
    /// How long a claim keeps other relays off a row; a pass takes far less.
    pub claim: Duration,
}

impl Default for RelaySettings {
    fn default() -> Self {
        Self {
            max_attempts: 10,
            retry: Backoff {
                base: Duration::from_secs(1),
                max: Duration::from_secs(300),
            },
            retention: Duration::from_secs(7 * 24 * 3600),
            claim: Duration::from_secs(60),
        }
    }
}

impl RelaySettings {
    /// The delay after failed attempt number `attempts` (1-based) of the row `row`.
    #[must_use]
    pub fn retry_after(&self, attempts: u32, row: uuid::Uuid) -> Duration {
        self.retry.delay(u64::from(attempts), row.as_u64_pair().0)
    }
}
