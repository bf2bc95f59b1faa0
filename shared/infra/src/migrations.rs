//! Applying the schema: the migrations in `migrations/`, embedded at compile time, applied
//! under one PostgreSQL advisory lock held on one connection. Two deploys at once: one
//! applies, the other waits for the lock and then finds nothing to do. A migration already
//! applied whose file changed since (its checksum differs) stops the run before anything is
//! applied: the schema the code expects is no longer the one the database has.
//!
//! The lock is a session lock: behind RDS Proxy (or any transaction-pooling proxy) the
//! session is pinned at best and lost at worst, so migrations connect to the database
//! itself.

use sqlx::migrate::{MigrateError, Migrator};
use sqlx::{PgConnection, PgPool};

/// The advisory lock key of a migration run ("LZSTOCK" in ASCII): one run at a time, whatever
/// process starts it.
pub const MIGRATION_LOCK: i64 = 0x004c_5a53_544f_434b;

/// One migration a run applied.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AppliedMigration {
    /// Its version (the number its file name starts with).
    pub version: i64,
    /// Its description (the rest of the file name).
    pub description: String,
}

/// What a run did.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct MigrationReport {
    /// The migrations this run applied, in order; empty when the schema was up to date.
    pub applied: Vec<AppliedMigration>,
    /// How many migrations the database has now.
    pub total: usize,
}

/// Why a run failed; nothing after the failing migration was applied.
#[derive(Debug, thiserror::Error)]
pub enum MigrationError {
    /// The database could not be reached or refused a statement.
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    /// An applied migration's file changed since it was applied.
    #[error(
        "migration {0} was applied from a file that has changed since (checksum differs); \
         add a new migration instead of editing an applied one"
    )]
    Changed(i64),
    /// The database has a migration this build does not know (a newer build applied it).
    #[error("migration {0} is applied but this build does not have it: deploy the newer build")]
    Unknown(i64),
    /// A migration failed.
    #[error(transparent)]
    Failed(MigrateError),
}

impl From<MigrateError> for MigrationError {
    fn from(error: MigrateError) -> Self {
        match error {
            MigrateError::VersionMismatch(version) => Self::Changed(version),
            MigrateError::VersionMissing(version) => Self::Unknown(version),
            MigrateError::Execute(error) => Self::Database(error),
            other => Self::Failed(other),
        }
    }
}

/// The embedded migrations, without sqlx's own lock: [`apply_pending`] holds
/// [`MIGRATION_LOCK`] on the connection it migrates with.
fn migrator() -> Migrator {
    let mut migrator = sqlx::migrate!("../../migrations");
    migrator.set_locking(false);
    migrator
}

/// Applies the pending migrations under [`MIGRATION_LOCK`] and says which it applied.
///
/// # Errors
/// See [`MigrationError`].
pub async fn apply_pending(pool: &PgPool) -> Result<MigrationReport, MigrationError> {
    let mut conn = pool.acquire().await?;
    sqlx::query("SELECT pg_advisory_lock($1)")
        .bind(MIGRATION_LOCK)
        .execute(&mut *conn)
        .await?;
    let result = apply_locked(&mut conn).await;
    // Unlocked explicitly: the connection goes back to the pool, its session lives on.
    let unlocked = sqlx::query("SELECT pg_advisory_unlock($1)")
        .bind(MIGRATION_LOCK)
        .execute(&mut *conn)
        .await;
    if unlocked.is_err() {
        // A session that cannot unlock must not keep the lock for the pool's next user.
        conn.detach();
    }
    result
}

async fn apply_locked(conn: &mut PgConnection) -> Result<MigrationReport, MigrationError> {
    let migrator = migrator();
    let before = applied_versions(conn).await?;
    migrator.run_direct(conn).await?;
    let after = applied_versions(conn).await?;
    let applied = migrator
        .iter()
        .filter(|m| after.contains(&m.version) && !before.contains(&m.version))
        .map(|m| AppliedMigration {
            version: m.version,
            description: m.description.to_string(),
        })
        .collect();
    Ok(MigrationReport {
        applied,
        total: after.len(),
    })
}

/// The versions applied successfully so far (none before the first run made the table).
async fn applied_versions(conn: &mut PgConnection) -> Result<Vec<i64>, sqlx::Error> {
    let exists: bool = sqlx::query_scalar("SELECT to_regclass('_sqlx_migrations') IS NOT NULL")
        .fetch_one(&mut *conn)
        .await?;
    if !exists {
        return Ok(Vec::new());
    }
    sqlx::query_scalar("SELECT version FROM _sqlx_migrations WHERE success ORDER BY version")
        .fetch_all(&mut *conn)
        .await
}
