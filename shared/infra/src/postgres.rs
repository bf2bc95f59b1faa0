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
/// the log: the one mapping every PostgreSQL adapter uses. A refusal of the credentials
/// is also announced on [`credentials_refused`].
pub(crate) fn unavailable(error: impl std::error::Error + Send + Sync + 'static) -> StoreError {
    let cause: &(dyn std::error::Error + 'static) = &error;
    if cause
        .downcast_ref::<sqlx::Error>()
        .is_some_and(refuses_credentials)
    {
        credentials_refused().notify_one();
    }
    StoreError::Unavailable(Box::new(error))
}

/// Whether PostgreSQL refused to let the connection in: a wrong password (28P01) or a
/// role or database it does not know for that login (28000). What a rotated secret looks
/// like to a process still holding the old one.
#[must_use]
pub fn refuses_credentials(error: &sqlx::Error) -> bool {
    matches!(error, sqlx::Error::Database(db)
        if matches!(db.code().as_deref(), Some("28P01" | "28000")))
}

/// Woken whenever a store's query fails because PostgreSQL refused the pool's credentials;
/// whoever holds them (the binary's configuration) can read them again. One per process,
/// as the pool is.
pub fn credentials_refused() -> &'static tokio::sync::Notify {
    static REFUSED: std::sync::OnceLock<tokio::sync::Notify> = std::sync::OnceLock::new();
    REFUSED.get_or_init(tokio::sync::Notify::new)
}
