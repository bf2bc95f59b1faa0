//! [`EmailCache`] on Redis: cache-aside by id with a TTL, through a reconnecting connection
//! manager made on first use (nothing is dialled at start). Redis failing is never the
//! caller's failure: a read becomes a miss and a write is skipped, each logged as a warning
//! and counted.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use lzstock_domain::email::{Email, EmailCache, EmailId};
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::AsyncCommands;
use tokio::sync::OnceCell;

/// How long an email stays cached.
pub const DEFAULT_TTL: Duration = Duration::from_secs(300);

/// How long one Redis command (or connecting) may take before it counts as a failure.
const REDIS_TIMEOUT: Duration = Duration::from_millis(250);

/// What the cache did, since start.
#[derive(Debug, Default)]
pub struct CacheCounters {
    hits: AtomicU64,
    misses: AtomicU64,
    errors: AtomicU64,
}

impl CacheCounters {
    /// Reads answered from the cache.
    pub fn hits(&self) -> u64 {
        self.hits.load(Ordering::Relaxed)
    }

    /// Reads the cache could not answer (absent, or Redis failing).
    pub fn misses(&self) -> u64 {
        self.misses.load(Ordering::Relaxed)
    }

    /// Redis commands that failed.
    pub fn errors(&self) -> u64 {
        self.errors.load(Ordering::Relaxed)
    }
}

/// Emails cached in Redis under `lzstock:email:<id>`.
#[derive(Clone)]
pub struct RedisEmailCache {
    client: redis::Client,
    manager: Arc<OnceCell<ConnectionManager>>,
    ttl: Duration,
    counters: Arc<CacheCounters>,
}

impl std::fmt::Debug for RedisEmailCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The client's URL may carry a password.
        f.debug_struct("RedisEmailCache")
            .field("ttl", &self.ttl)
            .finish_non_exhaustive()
    }
}

/// `REDIS_URL` is not a Redis URL.
#[derive(Debug, thiserror::Error)]
#[error("not a Redis URL: {0}")]
pub struct RedisUrlError(String);

fn key(id: EmailId) -> String {
    format!("lzstock:email:{id}")
}

impl RedisEmailCache {
    /// A cache at `url` (`redis://…` or `rediss://…`) keeping emails for `ttl`.
    ///
    /// # Errors
    /// When the URL does not parse.
    pub fn new(url: &str, ttl: Duration) -> Result<Self, RedisUrlError> {
        let client = redis::Client::open(url).map_err(|e| RedisUrlError(e.to_string()))?;
        Ok(Self {
            client,
            manager: Arc::new(OnceCell::new()),
            ttl,
            counters: Arc::default(),
        })
    }

    /// What the cache did so far.
    #[must_use]
    pub fn counters(&self) -> &CacheCounters {
        &self.counters
    }

    async fn connection(&self) -> Option<ConnectionManager> {
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(REDIS_TIMEOUT))
            .set_response_timeout(Some(REDIS_TIMEOUT))
            .set_number_of_retries(1);
        let made = self
            .manager
            .get_or_try_init(|| ConnectionManager::new_with_config(self.client.clone(), config))
            .await;
        match made {
            Ok(manager) => Some(manager.clone()),
            Err(error) => {
                self.failed("connect", &error);
                None
            }
        }
    }

    fn failed(&self, what: &str, error: &dyn std::fmt::Display) {
        self.counters.errors.fetch_add(1, Ordering::Relaxed);
        metrics::counter!("lzstock_email_cache_errors_total").increment(1);
        tracing::warn!(%error, operation = what, "the email cache is unavailable; using PostgreSQL");
    }
}

impl EmailCache for RedisEmailCache {
    async fn get(&self, id: EmailId) -> Option<Email> {
        let found = match self.connection().await {
            Some(mut redis) => match redis.get::<_, Option<String>>(key(id)).await {
                Ok(found) => found,
                Err(error) => {
                    self.failed("get", &error);
                    None
                }
            },
            None => None,
        };
        // An entry that no longer parses (an older shape) is a miss, not an error.
        let email = found.and_then(|json| serde_json::from_str::<Email>(&json).ok());
        let (counter, name) = if email.is_some() {
            (&self.counters.hits, "lzstock_email_cache_hits_total")
        } else {
            (&self.counters.misses, "lzstock_email_cache_misses_total")
        };
        counter.fetch_add(1, Ordering::Relaxed);
        metrics::counter!(name).increment(1);
        email
    }

    async fn put(&self, email: &Email) {
        let Ok(json) = serde_json::to_string(email) else {
            return;
        };
        if let Some(mut redis) = self.connection().await {
            let ttl = self.ttl.as_secs().max(1);
            if let Err(error) = redis.set_ex::<_, _, ()>(key(email.id), json, ttl).await {
                self.failed("set", &error);
            }
        }
    }

    async fn invalidate(&self, id: EmailId) {
        if let Some(mut redis) = self.connection().await {
            if let Err(error) = redis.del::<_, ()>(key(id)).await {
                self.failed("del", &error);
            }
        }
    }
}
