//! HTTP access to SEC EDGAR under its fair-access policy.
//!
//! Every request draws from the fleet's [`RequestBudget`] first. SEC answers a caller over
//! its rate with 403 and an HTML page titled "Request Rate Threshold Exceeded" (429 on some
//! hosts), usually without `Retry-After`, and keeps the address blocked for about ten
//! minutes, longer if it keeps asking. So a block pauses the whole fleet through the budget
//! and the request is tried again only once the pause is over; a 403 about an undeclared
//! automated tool means the `User-Agent` is wrong, and stops the run. 5xx answers and
//! timeouts are retried with capped exponential backoff and jitter, honouring `Retry-After`.
//! Bodies are gzip-decoded whether or not they say so (SEC's error pages may be gzipped
//! unasked), with a bound on their size.

use std::io::Read;
use std::time::Duration;
use tracing::Instrument;

use bytes::Bytes;
use lzstock_shim::backoff::Backoff;
use reqwest::header::{HeaderValue, ACCEPT_ENCODING, IF_MODIFIED_SINCE, LAST_MODIFIED, USER_AGENT};
use reqwest::StatusCode;

use super::budget::RequestBudget;

/// The largest body accepted, compressed or not: a large filer's companyfacts is tens of MB.
pub const MAX_BODY_BYTES: usize = 128 * 1024 * 1024;

/// How the client retries and pauses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SecPolicy {
    /// How long the fleet pauses after SEC blocks it (SEC's block lasts about ten minutes).
    pub block_pause: Duration,
    /// Blocks one request lives through before it gives up.
    pub max_blocks: u32,
    /// Attempts of one request on 5xx answers and timeouts.
    pub max_attempts: u32,
    /// The delay between attempts: doubling from `base` up to `max` (and `Retry-After`, when
    /// SEC sends one, up to `max`).
    pub retry: Backoff,
    /// How long one request may take.
    pub timeout: Duration,
}

impl Default for SecPolicy {
    fn default() -> Self {
        Self {
            block_pause: Duration::from_secs(600),
            max_blocks: 3,
            max_attempts: 5,
            retry: Backoff {
                base: Duration::from_millis(500),
                max: Duration::from_secs(30),
            },
            timeout: Duration::from_secs(30),
        }
    }
}

/// Why a request to SEC failed.
#[derive(Debug, thiserror::Error)]
pub enum SecError {
    /// SEC has no such document (its 404 `NoSuchKey`); not retried.
    #[error("SEC has no {0}")]
    NotFound(String),
    /// SEC refuses the declared `User-Agent`: no request can succeed until it is fixed.
    #[error("SEC refuses the declared User-Agent ({0}); set SEC_USER_AGENT to \"Company Name contact@domain\"")]
    UndeclaredAgent(String),
    /// SEC kept blocking the fleet.
    #[error("SEC blocked the caller {0} times for {1}")]
    Blocked(u32, String),
    /// An answer that retrying cannot change, or retries ran out.
    #[error("SEC answered {status} for {url}")]
    Status {
        /// The status.
        status: u16,
        /// The document.
        url: String,
    },
    /// The request did not complete, retries included.
    #[error("requesting {url}: {reason}")]
    Transport {
        /// The document.
        url: String,
        /// Why.
        reason: String,
    },
    /// The body is larger than [`MAX_BODY_BYTES`] or is not valid gzip.
    #[error("the body of {url} is unusable: {reason}")]
    Body {
        /// The document.
        url: String,
        /// Why.
        reason: String,
    },
    /// The fleet's request budget could not be read.
    #[error("request budget: {0}")]
    Budget(#[from] sqlx::Error),
}

impl SecError {
    /// Whether the whole run must stop (every later request would fail the same way).
    #[must_use]
    pub fn stops_the_run(&self) -> bool {
        matches!(self, Self::UndeclaredAgent(_) | Self::Budget(_))
    }
}

/// A document, or the news that it did not change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fetched {
    /// The document, with its `Last-Modified` when SEC sent one.
    Document {
        /// The decoded body.
        body: Bytes,
        /// For the next conditional request.
        last_modified: Option<String>,
    },
    /// `304 Not Modified`.
    NotModified,
}

/// Counts of what the client did, for a run's report.
#[derive(Debug, Default)]
pub struct SecCounters {
    requests: std::sync::atomic::AtomicU64,
    throttled: std::sync::atomic::AtomicU64,
}

impl SecCounters {
    /// Requests sent.
    #[must_use]
    pub fn requests(&self) -> u64 {
        self.requests.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Times SEC blocked a request.
    #[must_use]
    pub fn throttled(&self) -> u64 {
        self.throttled.load(std::sync::atomic::Ordering::Relaxed)
    }
}

/// The HTTP client every request to SEC goes through: it declares the `User-Agent` SEC's
/// fair-access policy requires and asks for gzip. Built once per process (its connections
/// are reused across runs), at start, so a bad `SEC_USER_AGENT` stops the process there.
#[derive(Debug, Clone)]
pub struct SecConnection {
    http: reqwest::Client,
}

/// Why the SEC client could not be built.
#[derive(Debug, thiserror::Error)]
pub enum SecSetupError {
    /// The user agent cannot be sent as a header.
    #[error("not a valid User-Agent header: {0}")]
    UserAgent(#[from] reqwest::header::InvalidHeaderValue),
    /// The HTTP client could not start (its TLS set-up failed).
    #[error("the HTTP client could not start: {0}")]
    Client(#[from] reqwest::Error),
}

impl SecConnection {
    /// A client declaring `user_agent`.
    ///
    /// # Errors
    /// When `user_agent` is not a valid header value or the client cannot start.
    pub fn new(user_agent: &str) -> Result<Self, SecSetupError> {
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert(USER_AGENT, HeaderValue::from_str(user_agent)?);
        headers.insert(ACCEPT_ENCODING, HeaderValue::from_static("gzip"));
        let http = reqwest::Client::builder()
            .default_headers(headers)
            .build()?;
        Ok(Self { http })
    }
}

/// SEC's documents over HTTP, within the fleet's budget: one run's view of a
/// [`SecConnection`], with that run's counters.
#[derive(Debug)]
pub struct SecHttp {
    http: reqwest::Client,
    budget: RequestBudget,
    policy: SecPolicy,
    counters: SecCounters,
}

impl SecHttp {
    /// Requests over `connection`, drawing on `budget`, retried and paused by `policy`.
    #[must_use]
    pub fn new(connection: &SecConnection, budget: RequestBudget, policy: SecPolicy) -> Self {
        Self {
            http: connection.http.clone(),
            budget,
            policy,
            counters: SecCounters::default(),
        }
    }

    /// What the client did so far.
    #[must_use]
    pub fn counters(&self) -> &SecCounters {
        &self.counters
    }

    /// Fetches `url`, conditionally on `if_modified_since` when given.
    ///
    /// # Errors
    /// See [`SecError`].
    pub async fn get(
        &self,
        url: &str,
        if_modified_since: Option<&str>,
    ) -> Result<Fetched, SecError> {
        let mut attempts = 0;
        let mut blocks = 0;
        loop {
            self.budget.acquire().await?;
            attempts += 1;
            self.counters
                .requests
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let mut request = self.http.get(url).timeout(self.policy.timeout);
            if let Some(since) = if_modified_since {
                request = request.header(IF_MODIFIED_SINCE, since);
            }
            let span = tracing::info_span!(
                "http.client.request",
                otel.kind = "client",
                http.request.method = "GET",
                url.full = %url,
                server.address = reqwest::Url::parse(url).ok().and_then(|u| u.host_str().map(str::to_owned)).unwrap_or_default(),
                http.request.resend_count = attempts - 1,
                http.response.status_code = tracing::field::Empty,
                error.type = tracing::field::Empty,
            );
            let response = match request.send().instrument(span.clone()).await {
                Ok(response) => response,
                Err(error) => {
                    span.record(
                        "error.type",
                        if error.is_timeout() {
                            "timeout"
                        } else {
                            "transport"
                        },
                    );
                    if attempts >= self.policy.max_attempts {
                        return Err(SecError::Transport {
                            url: url.to_owned(),
                            reason: error.to_string(),
                        });
                    }
                    tokio::time::sleep(self.backoff(attempts, None)).await;
                    continue;
                }
            };
            let status = response.status();
            span.record("http.response.status_code", status.as_u16());
            let retry_after = response
                .headers()
                .get(reqwest::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
                .map(Duration::from_secs);
            let last_modified = response
                .headers()
                .get(LAST_MODIFIED)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            if status == StatusCode::NOT_MODIFIED {
                return Ok(Fetched::NotModified);
            }
            let body = read_body(url, response).instrument(span).await;
            match status {
                s if s.is_success() => {
                    return Ok(Fetched::Document {
                        body: body?,
                        last_modified,
                    })
                }
                StatusCode::NOT_FOUND => return Err(SecError::NotFound(url.to_owned())),
                StatusCode::FORBIDDEN | StatusCode::TOO_MANY_REQUESTS => {
                    let text = body
                        .map(|b| String::from_utf8_lossy(&b).to_ascii_lowercase())
                        .unwrap_or_default();
                    // SEC's threshold page mentions an undeclared tool too: the rate is
                    // checked first.
                    if status == StatusCode::TOO_MANY_REQUESTS
                        || text.contains("request rate threshold exceeded")
                    {
                        blocks += 1;
                        self.counters
                            .throttled
                            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let pause = retry_after
                            .unwrap_or(self.policy.block_pause)
                            .max(self.policy.block_pause);
                        let until = self
                            .budget
                            .pause(pause, &format!("SEC answered {status} for {url}"))
                            .await?;
                        tracing::warn!(%url, %until, "SEC blocked the caller; the fleet pauses");
                        if blocks >= self.policy.max_blocks {
                            return Err(SecError::Blocked(blocks, url.to_owned()));
                        }
                        // The next acquire waits out the pause: nothing is sent inside it.
                        continue;
                    }
                    if text.contains("undeclared automated tool") {
                        return Err(SecError::UndeclaredAgent(
                            "SEC's 403 \"Undeclared Automated Tool\"".to_owned(),
                        ));
                    }
                    return Err(SecError::Status {
                        status: status.as_u16(),
                        url: url.to_owned(),
                    });
                }
                s if s.is_server_error() || s == StatusCode::REQUEST_TIMEOUT => {
                    if attempts >= self.policy.max_attempts {
                        return Err(SecError::Status {
                            status: s.as_u16(),
                            url: url.to_owned(),
                        });
                    }
                    tokio::time::sleep(self.backoff(attempts, retry_after)).await;
                }
                s => {
                    return Err(SecError::Status {
                        status: s.as_u16(),
                        url: url.to_owned(),
                    })
                }
            }
        }
    }

    /// The delay after failed attempt `attempts`: `Retry-After` when given, otherwise capped
    /// exponential backoff less up to a quarter of jitter.
    fn backoff(&self, attempts: u32, retry_after: Option<Duration>) -> Duration {
        if let Some(after) = retry_after {
            return after.min(self.policy.retry.max);
        }
        // Requests failing together (one outage) spread by the clock's nanoseconds.
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        self.policy
            .retry
            .delay(u64::from(attempts), u64::from(nanos))
    }
}

/// The body of `response`, gzip-decoded when it is gzip (labelled or not), within
/// [`MAX_BODY_BYTES`].
async fn read_body(url: &str, mut response: reqwest::Response) -> Result<Bytes, SecError> {
    let unusable = |reason: String| SecError::Body {
        url: url.to_owned(),
        reason,
    };
    let mut raw = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| SecError::Transport {
        url: url.to_owned(),
        reason: e.to_string(),
    })? {
        if raw.len() + chunk.len() > MAX_BODY_BYTES {
            return Err(unusable(format!("over {MAX_BODY_BYTES} bytes")));
        }
        raw.extend_from_slice(&chunk);
    }
    if !raw.starts_with(&[0x1f, 0x8b]) {
        return Ok(raw.into());
    }
    let mut decoded = Vec::new();
    let limit = u64::try_from(MAX_BODY_BYTES).unwrap_or(u64::MAX) + 1;
    flate2::read::MultiGzDecoder::new(raw.as_slice())
        .take(limit)
        .read_to_end(&mut decoded)
        .map_err(|e| unusable(format!("not valid gzip: {e}")))?;
    if decoded.len() > MAX_BODY_BYTES {
        return Err(unusable(format!("over {MAX_BODY_BYTES} bytes decoded")));
    }
    Ok(decoded.into())
}
