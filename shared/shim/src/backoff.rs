//! Capped exponential backoff with jitter: between redeliveries of a message, between a
//! relay's attempts at a row, between a client's attempts at a request, between restarts
//! of a task. One rule everywhere.

use std::time::Duration;

/// Capped exponential backoff, with jitter so a burst of failures does not come back as a
/// burst.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// The delay after the first failure.
    pub base: Duration,
    /// The longest delay.
    pub max: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Self {
            base: Duration::from_secs(1),
            max: Duration::from_secs(60),
        }
    }
}

impl Backoff {
    /// The delay after failure number `deliveries` (1-based; a message's deliveries, a
    /// row's or a request's attempts): `base * 2^(n-1)`, capped at `max`, minus up to a
    /// quarter of jitter derived from `seed` (a message's sequence, a row's id), so the
    /// same failure waits the same and different ones spread.
    #[must_use]
    pub fn delay(&self, deliveries: u64, seed: u64) -> Duration {
        let exponent = u32::try_from(deliveries.saturating_sub(1))
            .unwrap_or(u32::MAX)
            .min(20);
        let full = self.base.saturating_mul(1 << exponent).min(self.max);
        // A cheap, well-spread hash of the seed; precision does not matter here.
        let mixed = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 33;
        let jitter = full.mul_f64((mixed % 1000) as f64 / 4000.0);
        full.saturating_sub(jitter)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_to_its_cap_with_bounded_jitter() {
        let backoff = Backoff {
            base: Duration::from_secs(1),
            max: Duration::from_secs(30),
        };
        for (deliveries, full) in [(1, 1), (2, 2), (3, 4), (5, 16), (6, 30), (60, 30)] {
            let delay = backoff.delay(deliveries, 42);
            let full = Duration::from_secs(full);
            assert!(
                delay <= full && delay >= full.mul_f64(0.75),
                "{deliveries}: {delay:?}"
            );
        }
    }
}
