//! The JetStream streams LZStock publishes to, provisioned idempotently.

use std::time::Duration;

use async_nats::jetstream::{self, stream};
use lzstock_shim::streams::ProvisionError;

/// The names of the event stream, the dead-letter stream and their subjects.
///
/// Production uses [`EventStreams::default`]; tests give every case its own root so
/// streams never collide.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventStreams {
    /// The stream holding every event (`LZSTOCK`).
    pub events: String,
    /// The stream holding dead letters (`LZSTOCK_DLQ`).
    pub dead_letters: String,
    /// The first token(s) of every event subject (`lzstock`).
    pub subject_root: String,
    /// Dead letters go to `<dead_letter_prefix>.<original subject>` (`dlq`).
    pub dead_letter_prefix: String,
    /// Copies of each stream a cluster keeps (`NATS_STREAM_REPLICAS`); `None` leaves an
    /// existing stream's replicas as they are and creates a new one with one.
    pub replicas: Option<usize>,
}

impl Default for EventStreams {
    fn default() -> Self {
        Self {
            events: "LZSTOCK".into(),
            dead_letters: "LZSTOCK_DLQ".into(),
            subject_root: "lzstock".into(),
            dead_letter_prefix: "dlq".into(),
            replicas: None,
        }
    }
}

/// How long the event stream remembers a `Nats-Msg-Id`, dropping a second publish of it.
pub const DUPLICATE_WINDOW: Duration = Duration::from_secs(2 * 60);
/// How long events are kept for replay.
pub const EVENT_RETENTION: Duration = Duration::from_secs(7 * 24 * 3600);
/// How long dead letters are kept for inspection and redrive.
pub const DEAD_LETTER_RETENTION: Duration = Duration::from_secs(30 * 24 * 3600);

impl EventStreams {
    /// The wildcard covering every event subject, e.g. `lzstock.>`.
    #[must_use]
    pub fn events_wildcard(&self) -> String {
        format!("{}.>", self.subject_root)
    }

    /// The full subject of an event, e.g. `lzstock.users.signed_up` for `users.signed_up`.
    #[must_use]
    pub fn subject(&self, name: &str) -> String {
        format!("{}.{name}", self.subject_root)
    }

    /// The wildcard covering every dead letter, e.g. `dlq.lzstock.>`.
    #[must_use]
    pub fn dead_letters_wildcard(&self) -> String {
        format!("{}.{}.>", self.dead_letter_prefix, self.subject_root)
    }

    fn events_config(&self) -> stream::Config {
        stream::Config {
            name: self.events.clone(),
            subjects: vec![self.events_wildcard()],
            storage: stream::StorageType::File,
            retention: stream::RetentionPolicy::Limits,
            max_age: EVENT_RETENTION,
            duplicate_window: DUPLICATE_WINDOW,
            ..Default::default()
        }
    }

    fn dead_letters_config(&self) -> stream::Config {
        stream::Config {
            name: self.dead_letters.clone(),
            subjects: vec![self.dead_letters_wildcard()],
            storage: stream::StorageType::File,
            retention: stream::RetentionPolicy::Limits,
            max_age: DEAD_LETTER_RETENTION,
            duplicate_window: DUPLICATE_WINDOW,
            ..Default::default()
        }
    }

    /// Creates both streams, or brings existing ones to this configuration and to
    /// [`Self::replicas`]. Safe to run at every start and from several processes at once: a
    /// stream already as asked is left untouched.
    ///
    /// # Errors
    /// When JetStream is unreachable or refuses the configuration.
    pub async fn provision(&self, js: &jetstream::Context) -> Result<(), ProvisionError> {
        for config in [self.events_config(), self.dead_letters_config()] {
            lzstock_shim::streams::provision(js, config, self.replicas).await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dead_letter_subjects_keep_the_original_after_the_prefix() {
        let streams = EventStreams::default();
        assert_eq!(streams.events_wildcard(), "lzstock.>");
        assert_eq!(streams.dead_letters_wildcard(), "dlq.lzstock.>");
        assert_eq!(
            streams.subject("users.signed_up"),
            "lzstock.users.signed_up"
        );
    }
}
