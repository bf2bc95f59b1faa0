//! The PostgreSQL pool, migrations and server facts.

use std::time::Duration;

use lzstock_domain::common::StoreError;
use sqlx::postgres::{PgPool, PgPoolOptions};

/// How long a query waits for a free connection before it fails; an unreachable database
/// surfaces as an error in seconds instead of a hung request.
pub const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);

/// Builds the process's one pool. It connects lazily, so a function starts (and answers
/// health checks with the reason) while the database is still down.
///
/// # Errors
/// When `url` is not a valid PostgreSQL URL.
pub fn pool(url: &str, max_connections: u32) -> Result<PgPool, sqlx::Error> {
    PgPoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(ACQUIRE_TIMEOUT)
        .connect_lazy(url)
}

/// Applies pending migrations ([`crate::migrations::apply_pending`]).
///
/// # Errors
/// When the database is unreachable, a migration fails, or an applied one changed.
pub async fn migrate(pool: &PgPool) -> Result<(), crate::migrations::MigrationError> {
    crate::migrations::apply_pending(pool).await.map(drop)
}

/// The server's version string, e.g. `15.19 (Debian 15.19-0+deb12u1)`.
///
/// # Errors
/// When the database is unreachable.
pub async fn server_version(pool: &PgPool) -> Result<String, sqlx::Error> {
    sqlx::query_scalar("SHOW server_version")
        .fetch_one(pool)
        .await
}

/// A storage failure the domain sees as [`StoreError::Unavailable`], its cause kept for
/// the log: the one mapping every PostgreSQL adapter uses.
pub(crate) fn unavailable(error: impl std::error::Error + Send + Sync + 'static) -> StoreError {
    StoreError::Unavailable(Box::new(error))
}
