//! What a standalone HTTP server allows a client: how long it may take to send a request's
//! headers and its body, how many connections may be open at once, and how many HTTP/2
//! streams one connection may run. A client past a limit is answered the standard way
//! (408 and the connection closed, or the connection closed before a request) and counted,
//! so a slow or idle client cannot hold the server's connections for as long as it likes.

use std::time::Duration;

use crate::config::{parsed_or, ConfigError, Source};

/// The limits of a standalone HTTP server, read from `HTTP_HEADER_TIMEOUT_SECS`,
/// `HTTP_BODY_TIMEOUT_SECS`, `HTTP_MAX_CONNECTIONS` and `HTTP2_MAX_CONCURRENT_STREAMS`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HttpLimits {
    /// How long a connection may wait for a request's headers to arrive in full: the first
    /// request's, and the next one's on a kept-alive HTTP/1.1 connection (so it is also
    /// the idle timeout). Past it the connection is closed. Default 10 s.
    pub header_timeout: Duration,
    /// How long a request may take from its headers to its answer, its body included; a
    /// body that has not arrived by then is answered 408 and the connection closed.
    /// Default 30 s.
    pub body_timeout: Duration,
    /// Connections open at once; one more is closed as soon as it is accepted.
    /// Default 1024.
    pub max_connections: usize,
    /// Streams one HTTP/2 connection may run at once. Default 100.
    pub http2_max_streams: u32,
}

impl Default for HttpLimits {
    fn default() -> Self {
        Self {
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(30),
            max_connections: 1024,
            http2_max_streams: 100,
        }
    }
}

impl HttpLimits {
    /// Reads the limits, each variable optional.
    ///
    /// # Errors
    /// When one is not a whole number, or out of range (timeouts 1 s to 1 hour,
    /// connections 1 to 100,000, streams 1 to 10,000).
    pub fn from_source(source: &dyn Source) -> Result<Self, ConfigError> {
        let defaults = Self::default();
        let seconds = |name: &'static str, default: Duration| {
            let value: u64 = parsed_or(source, name, default.as_secs())?;
            in_range(name, value, 1, 3600).map(Duration::from_secs)
        };
        Ok(Self {
            header_timeout: seconds("HTTP_HEADER_TIMEOUT_SECS", defaults.header_timeout)?,
            body_timeout: seconds("HTTP_BODY_TIMEOUT_SECS", defaults.body_timeout)?,
            max_connections: in_range(
                "HTTP_MAX_CONNECTIONS",
                parsed_or(source, "HTTP_MAX_CONNECTIONS", defaults.max_connections)?,
                1,
                100_000,
            )?,
            http2_max_streams: in_range(
                "HTTP2_MAX_CONCURRENT_STREAMS",
                parsed_or(
                    source,
                    "HTTP2_MAX_CONCURRENT_STREAMS",
                    defaults.http2_max_streams,
                )?,
                1,
                10_000,
            )?,
        })
    }
}

fn in_range<T: PartialOrd + std::fmt::Display>(
    name: &'static str,
    value: T,
    min: T,
    max: T,
) -> Result<T, ConfigError> {
    if value < min || value > max {
        return Err(ConfigError::Malformed {
            name,
            reason: format!("must be {min} to {max}, got {value}"),
        });
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_limits_default_and_are_checked_by_name() {
        let none: [(&str, &str); 0] = [];
        assert_eq!(HttpLimits::from_source(&none), Ok(HttpLimits::default()));
        let set = HttpLimits::from_source(&[
            ("HTTP_HEADER_TIMEOUT_SECS", "2"),
            ("HTTP_MAX_CONNECTIONS", "50"),
        ])
        .expect("valid");
        assert_eq!(set.header_timeout, Duration::from_secs(2));
        assert_eq!(set.max_connections, 50);
        for (name, value) in [
            ("HTTP_HEADER_TIMEOUT_SECS", "0"),
            ("HTTP_BODY_TIMEOUT_SECS", "soon"),
            ("HTTP_MAX_CONNECTIONS", "0"),
            ("HTTP2_MAX_CONCURRENT_STREAMS", "100000"),
        ] {
            let error = HttpLimits::from_source(&[(name, value)]).expect_err("refused");
            assert!(error.to_string().contains(name), "{name}={value}: {error}");
        }
    }
}
