//! A JetStream consumer's settings read from variables: the events function's standalone
//! consumer (`EVENTS_*`) and the bridge's route defaults (`BRIDGE_*`) read theirs here, each
//! naming its own variables in a [`ConsumerVariables`] table, so an out-of-range value
//! names the variable that set it.

use std::time::Duration;

use lzstock_infra::streams::EventStreams;
use lzstock_shim::backoff::Backoff;
use lzstock_shim::bridge::settings::{
    InvalidSetting, StartPosition, DEFAULT_INVOKE_TIMEOUT, DEFAULT_MAX_INVOKE_BYTES,
};
use lzstock_shim::bridge::ConsumerSettings;
use lzstock_shim::config::{optional, parsed_or, ConfigError, Source};

/// The durable consumer `durable` of every event on `streams`, with the defaults both of
/// LZStock's consumers start from: batches of 10 within 1 s, 5 deliveries, a 30 s ack
/// deadline, 1000 pending acks, one record at a time, redeliveries backing off from 1 s to
/// 60 s, Lambda's invoke limits, and a new durable reading from the stream's start.
#[must_use]
pub fn consumer_defaults(streams: &EventStreams, durable: &str) -> ConsumerSettings {
    ConsumerSettings {
        stream: streams.events.clone(),
        durable: durable.to_owned(),
        filter_subjects: vec![streams.events_wildcard()],
        batch_size: 10,
        max_wait: Duration::from_secs(1),
        max_deliver: 5,
        ack_wait: Duration::from_secs(30),
        max_ack_pending: 1000,
        concurrency: 1,
        dead_letter_prefix: streams.dead_letter_prefix.clone(),
        backoff: Backoff::default(),
        invoke_timeout: DEFAULT_INVOKE_TIMEOUT,
        max_invoke_bytes: DEFAULT_MAX_INVOKE_BYTES,
        start: StartPosition::All,
    }
}

/// Which variable sets each setting; a setting without one keeps its default.
#[derive(Debug, Clone, Copy, Default)]
pub struct ConsumerVariables {
    /// The durable consumer's name.
    pub durable: Option<&'static str>,
    /// Messages per batch.
    pub batch_size: Option<&'static str>,
    /// The batching window, in milliseconds.
    pub max_wait_ms: Option<&'static str>,
    /// Deliveries before a dead letter.
    pub max_deliver: Option<&'static str>,
    /// The server's ack deadline, in milliseconds.
    pub ack_wait_ms: Option<&'static str>,
    /// Unacknowledged messages held at once.
    pub max_ack_pending: Option<&'static str>,
    /// Records of a batch handled at once.
    pub concurrency: Option<&'static str>,
    /// The first redelivery delay, in milliseconds.
    pub backoff_base_ms: Option<&'static str>,
    /// The longest redelivery delay, in milliseconds.
    pub backoff_max_ms: Option<&'static str>,
    /// How long an invoke may take, in milliseconds.
    pub invoke_timeout_ms: Option<&'static str>,
    /// The largest batch one invoke carries, in bytes.
    pub max_invoke_bytes: Option<&'static str>,
    /// Where a new durable starts.
    pub start: Option<&'static str>,
}

impl ConsumerVariables {
    /// The variable that sets `field` (as [`ConsumerSettings::validate`] names it).
    #[must_use]
    pub fn of(&self, field: &str) -> Option<&'static str> {
        match field {
            "batch_size" => self.batch_size,
            "max_wait_ms" => self.max_wait_ms,
            "max_deliver" => self.max_deliver,
            "ack_wait_ms" => self.ack_wait_ms,
            "max_ack_pending" => self.max_ack_pending,
            "concurrency" => self.concurrency,
            "backoff" => self.backoff_base_ms,
            "invoke_timeout_ms" => self.invoke_timeout_ms,
            "max_invoke_bytes" => self.max_invoke_bytes,
            "start" => self.start,
            _ => None,
        }
    }

    /// `defaults` with every variable of this table that is set read over it, then checked
    /// ([`ConsumerSettings::validate`]).
    ///
    /// # Errors
    /// A malformed value, or one out of range, naming its variable (`fallback` when the
    /// setting has none).
    pub fn read(
        &self,
        source: &dyn Source,
        defaults: ConsumerSettings,
        fallback: &'static str,
    ) -> Result<ConsumerSettings, ConfigError> {
        let millis = |duration: Duration| u64::try_from(duration.as_millis()).unwrap_or(u64::MAX);
        let mut settings = defaults;
        if let Some(name) = self.durable {
            settings.durable = parsed_or(source, name, settings.durable)?;
        }
        if let Some(name) = self.batch_size {
            settings.batch_size = parsed_or(source, name, settings.batch_size)?;
        }
        if let Some(name) = self.max_wait_ms {
            let ms = parsed_or(source, name, millis(settings.max_wait))?;
            settings.max_wait = Duration::from_millis(ms);
        }
        if let Some(name) = self.max_deliver {
            settings.max_deliver = parsed_or(source, name, settings.max_deliver)?;
        }
        if let Some(name) = self.ack_wait_ms {
            let ms = parsed_or(source, name, millis(settings.ack_wait))?;
            settings.ack_wait = Duration::from_millis(ms);
        }
        if let Some(name) = self.max_ack_pending {
            settings.max_ack_pending = parsed_or(source, name, settings.max_ack_pending)?;
        }
        if let Some(name) = self.concurrency {
            settings.concurrency = parsed_or(source, name, settings.concurrency)?;
        }
        if let Some(name) = self.backoff_base_ms {
            let ms = parsed_or(source, name, millis(settings.backoff.base))?;
            settings.backoff.base = Duration::from_millis(ms);
        }
        if let Some(name) = self.backoff_max_ms {
            let ms = parsed_or(source, name, millis(settings.backoff.max))?;
            settings.backoff.max = Duration::from_millis(ms);
        }
        if let Some(name) = self.invoke_timeout_ms {
            let ms = parsed_or(source, name, millis(settings.invoke_timeout))?;
            settings.invoke_timeout = Duration::from_millis(ms);
        }
        if let Some(name) = self.max_invoke_bytes {
            settings.max_invoke_bytes = parsed_or(source, name, settings.max_invoke_bytes)?;
        }
        if let Some(name) = self.start {
            if let Some(raw) = optional(source, name) {
                settings.start = raw
                    .parse()
                    .map_err(|reason| ConfigError::Malformed { name, reason })?;
            }
        }
        settings
            .validate()
            .map_err(|InvalidSetting { field, reason }| ConfigError::Malformed {
                name: self.of(field).unwrap_or(fallback),
                reason: format!("{field} {reason}"),
            })?;
        Ok(settings)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const VARIABLES: ConsumerVariables = ConsumerVariables {
        durable: None,
        batch_size: Some("T_BATCH_SIZE"),
        max_wait_ms: None,
        max_deliver: Some("T_MAX_DELIVER"),
        ack_wait_ms: Some("T_ACK_WAIT_MS"),
        max_ack_pending: None,
        concurrency: None,
        backoff_base_ms: Some("T_BACKOFF_BASE_MS"),
        backoff_max_ms: None,
        invoke_timeout_ms: None,
        max_invoke_bytes: None,
        start: Some("T_START"),
    };

    fn defaults() -> ConsumerSettings {
        consumer_defaults(&EventStreams::default(), "d")
    }

    #[test]
    fn set_variables_override_the_defaults_and_others_keep_them() {
        let source = [
            ("T_BATCH_SIZE", "50"),
            ("T_ACK_WAIT_MS", "1500"),
            ("T_START", "new"),
            // Not in the table: ignored.
            ("T_MAX_WAIT_MS", "7"),
        ];
        let settings = VARIABLES
            .read(&source, defaults(), "T_FILE")
            .expect("valid");
        assert_eq!(settings.batch_size, 50);
        assert_eq!(settings.ack_wait, Duration::from_millis(1500));
        assert_eq!(settings.start, StartPosition::New);
        assert_eq!(settings.max_wait, Duration::from_secs(1));
        assert_eq!(settings.max_deliver, 5);
        assert_eq!(settings.durable, "d");
    }

    #[test]
    fn a_value_out_of_range_names_its_variable() {
        let error = VARIABLES
            .read(&[("T_MAX_DELIVER", "0")], defaults(), "T_FILE")
            .expect_err("out of range");
        assert!(matches!(
            error,
            ConfigError::Malformed {
                name: "T_MAX_DELIVER",
                ..
            }
        ));
        let error = VARIABLES
            .read(&[("T_BATCH_SIZE", "ten")], defaults(), "T_FILE")
            .expect_err("not a number");
        assert!(matches!(
            error,
            ConfigError::Malformed {
                name: "T_BATCH_SIZE",
                ..
            }
        ));
        // A setting the table has no variable for falls back.
        let mut bad = defaults();
        bad.concurrency = 0;
        let none: [(&str, &str); 0] = [];
        let error = VARIABLES
            .read(&none, bad, "T_FILE")
            .expect_err("out of range");
        assert!(matches!(
            error,
            ConfigError::Malformed { name: "T_FILE", .. }
        ));
    }
}
