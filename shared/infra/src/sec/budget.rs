//! One request budget for a whole fleet: every worker of every scraper process and Lambda
//! instance draws its requests from the same row in PostgreSQL.
//!
//! SEC's fair-access policy allows a caller 10 requests a second however many machines it
//! uses; a limiter per process lets two processes add up to twice that, and the address is
//! blocked for about ten minutes. PostgreSQL holds the budget rather than NATS KV: every
//! scraper already needs the database, and one `UPDATE … RETURNING` reserves a slot
//! atomically on the database's own clock, so no compare-and-set loop and no skew between the
//! machines' clocks.
//!
//! Each request reserves the next free slot: `next_slot` advances by one interval per
//! request, so requests are spaced evenly across the fleet and never come in bursts. A block
//! reported by SEC sets `paused_until`; no slot is handed out before it, and a worker that
//! reserved earlier checks again just before it sends.

use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::PgPool;

/// Added to every interval: jitter in waking and sending could otherwise let the eleventh
/// request of a fleet at exactly 10/s land inside the same second as the first. At 10/s the
/// fleet sends one request every 120 ms (8.3/s), which leaves 200 ms over ten requests for
/// a loaded machine's late wake-ups.
pub const SPACING_GUARD: Duration = Duration::from_millis(20);

/// A named request budget shared through PostgreSQL.
#[derive(Debug, Clone)]
pub struct RequestBudget {
    pool: PgPool,
    name: String,
    interval: Duration,
}

impl RequestBudget {
    /// The budget `name` on `pool`, allowing `per_second` requests a second to the fleet.
    /// `per_second` is clamped to at least 0.01.
    #[must_use]
    pub fn new(pool: PgPool, name: impl Into<String>, per_second: f64) -> Self {
        let per_second = per_second.max(0.01);
        Self {
            pool,
            name: name.into(),
            interval: Duration::from_secs_f64(1.0 / per_second) + SPACING_GUARD,
        }
    }

    /// The spacing between two requests of the fleet.
    #[must_use]
    pub fn interval(&self) -> Duration {
        self.interval
    }

    /// Waits until this caller may send one request: its reserved slot has come and the
    /// fleet is not paused.
    ///
    /// # Errors
    /// When PostgreSQL fails; the caller must not send then.
    pub async fn acquire(&self) -> Result<(), sqlx::Error> {
        loop {
            let reserved = sqlx::query!(
                r#"INSERT INTO request_budgets (name, next_slot)
                   VALUES ($1, clock_timestamp() + make_interval(secs => $2))
                   ON CONFLICT (name) DO UPDATE SET next_slot =
                       GREATEST(request_budgets.next_slot, clock_timestamp(),
                                request_budgets.paused_until)
                       + make_interval(secs => $2)
                   RETURNING next_slot - make_interval(secs => $2) AS "slot!",
                             clock_timestamp() AS "now!""#,
                self.name,
                self.interval.as_secs_f64(),
            )
            .fetch_one(&self.pool)
            .await?;
            if let Ok(wait) = (reserved.slot - reserved.now).to_std() {
                tokio::time::sleep(wait).await;
            }
            // A block reported while this worker waited holds it back too.
            match self.paused_for().await? {
                None => return Ok(()),
                Some(left) => tokio::time::sleep(left).await,
            }
        }
    }

    /// How long the fleet stays paused, if it is.
    ///
    /// # Errors
    /// When PostgreSQL fails.
    pub async fn paused_for(&self) -> Result<Option<Duration>, sqlx::Error> {
        let left: Option<f64> = sqlx::query_scalar!(
            r#"SELECT EXTRACT(EPOCH FROM (paused_until - clock_timestamp()))::float8 AS "left"
               FROM request_budgets WHERE name = $1 AND paused_until > clock_timestamp()"#,
            self.name,
        )
        .fetch_optional(&self.pool)
        .await?
        .flatten();
        Ok(left.filter(|secs| *secs > 0.0).map(Duration::from_secs_f64))
    }

    /// Pauses the whole fleet for `duration` (extending a pause already running, never
    /// shortening it) and returns when it ends.
    ///
    /// # Errors
    /// When PostgreSQL fails.
    pub async fn pause(
        &self,
        duration: Duration,
        reason: &str,
    ) -> Result<DateTime<Utc>, sqlx::Error> {
        sqlx::query_scalar!(
            r#"INSERT INTO request_budgets (name, paused_until, pause_reason)
               VALUES ($1, clock_timestamp() + make_interval(secs => $2), $3)
               ON CONFLICT (name) DO UPDATE SET
                   paused_until = GREATEST(request_budgets.paused_until, EXCLUDED.paused_until),
                   pause_reason = EXCLUDED.pause_reason
               RETURNING paused_until AS "until!""#,
            self.name,
            duration.as_secs_f64(),
            reason,
        )
        .fetch_one(&self.pool)
        .await
    }
}
