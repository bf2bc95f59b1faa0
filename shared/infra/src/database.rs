//! Where a store's writes go: each write in a transaction of its own, or, while the events
//! function applies a message batch, into the batch's one transaction as part of the
//! current record.
//!
//! A store writes through [`Database::write`] and does not know which of the two it got. A
//! [`Write`] of its own commits or rolls back as any transaction does. A write inside a
//! batch is the record's: it is kept when the record's handler succeeds and undone when
//! it fails, whatever the store did with it, so a store undoes its work by returning an
//! error. A store that undoes part of its work and still succeeds writes that part in
//! [`Write::part`], a savepoint.

use std::sync::Arc;

use sqlx::{Connection, PgConnection, PgPool, Postgres, Transaction};
use tokio::sync::{Mutex, OwnedMappedMutexGuard, OwnedMutexGuard};

/// PostgreSQL as a store sees it: a pool to read from, and where its writes go.
#[derive(Debug, Clone)]
pub struct Database {
    pool: PgPool,
    batch: Option<BatchTransaction>,
}

impl Database {
    /// Writes on `pool`, each in a transaction of its own.
    #[must_use]
    pub const fn new(pool: PgPool) -> Self {
        Self { pool, batch: None }
    }

    /// The pool: reads go here (they see committed rows only, also inside a batch).
    #[must_use]
    pub const fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// The same database with its writes inside `batch`.
    #[must_use]
    pub fn within(&self, batch: &BatchTransaction) -> Self {
        Self {
            pool: self.pool.clone(),
            batch: Some(batch.clone()),
        }
    }

    /// Begins a write: a transaction of its own on a pooled connection, or the batch's
    /// transaction, held until the write drops, so a batch's writes run one at a time.
    ///
    /// # Errors
    /// When no connection can be had, or the batch has ended.
    pub async fn write(&self) -> Result<Write, sqlx::Error> {
        match &self.batch {
            None => Ok(Write::Own(self.pool.begin().await?)),
            Some(batch) => {
                let guard = Arc::clone(&batch.transaction).lock_owned().await;
                OwnedMutexGuard::try_map(guard, Option::as_mut)
                    .map(Write::InBatch)
                    .map_err(|_| ended())
            }
        }
    }
}

/// A store's write, from [`Database::write`]: a PostgreSQL connection inside a transaction.
#[derive(Debug)]
pub enum Write {
    /// A transaction of its own: committed by [`Write::commit`], rolled back when dropped
    /// without it.
    Own(Transaction<'static, Postgres>),
    /// The batch's transaction, inside the current record's savepoint: kept or undone with
    /// the record.
    InBatch(
        OwnedMappedMutexGuard<
            Option<Transaction<'static, Postgres>>,
            Transaction<'static, Postgres>,
        >,
    ),
}

impl Write {
    /// Ends the write: commits a transaction of its own; inside a batch, leaves the writes
    /// to the record.
    ///
    /// # Errors
    /// When the commit fails.
    pub async fn commit(self) -> Result<(), sqlx::Error> {
        match self {
            Self::Own(transaction) => transaction.commit().await,
            Self::InBatch(_) => Ok(()),
        }
    }

    /// A savepoint inside the write, for a part the store may undo and still succeed:
    /// committed, the part stays in the write; rolled back or dropped, it is gone.
    ///
    /// # Errors
    /// When PostgreSQL fails.
    pub async fn part(&mut self) -> Result<Transaction<'_, Postgres>, sqlx::Error> {
        Connection::begin(&mut **self).await
    }
}

impl std::ops::Deref for Write {
    type Target = PgConnection;

    fn deref(&self) -> &PgConnection {
        match self {
            Self::Own(transaction) => transaction,
            Self::InBatch(transaction) => transaction,
        }
    }
}

impl std::ops::DerefMut for Write {
    fn deref_mut(&mut self) -> &mut PgConnection {
        match self {
            Self::Own(transaction) => transaction,
            Self::InBatch(transaction) => transaction,
        }
    }
}

/// The one transaction a message batch's records write in, a savepoint per record.
///
/// [`BatchTransaction::begin`] opens the first record's savepoint; after each record,
/// [`BatchTransaction::keep`] or [`BatchTransaction::undo`] closes it (and leaves the next
/// one open); [`BatchTransaction::commit`] ends the batch. Between the two, the record's
/// handler writes through a [`Database`] made [`Database::within`] the batch. Each step is
/// one round trip, so a record costs its own statements and one more.
#[derive(Debug, Clone)]
pub struct BatchTransaction {
    transaction: Arc<Mutex<Option<Transaction<'static, Postgres>>>>,
}

/// What follows a kept record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Then {
    /// Another record: its savepoint opens in the same round trip.
    NextRecord,
    /// The commit.
    Commit,
}

/// The error of a write after its batch ended.
fn ended() -> sqlx::Error {
    sqlx::Error::Io(std::io::Error::new(
        std::io::ErrorKind::NotConnected,
        "the batch's transaction has ended",
    ))
}

// The savepoint around one record's writes. A rollback to it leaves it open, empty, for the
// next record; a kept record's is released (which fails if one of its statements failed
// and aborted the transaction) and a new one opened.
const OPEN: &str = "SAVEPOINT lzstock_record";
const KEEP_THEN_OPEN: &str = "RELEASE SAVEPOINT lzstock_record; SAVEPOINT lzstock_record";
const KEEP: &str = "RELEASE SAVEPOINT lzstock_record";
const UNDO: &str = "ROLLBACK TO SAVEPOINT lzstock_record";

impl BatchTransaction {
    /// Begins a batch's transaction on a connection of `pool`, the first record's
    /// savepoint open.
    ///
    /// # Errors
    /// When PostgreSQL fails.
    pub async fn begin(pool: &PgPool) -> Result<Self, sqlx::Error> {
        let mut transaction = pool.begin().await?;
        sqlx::Executor::execute(&mut *transaction, OPEN).await?;
        Ok(Self {
            transaction: Arc::new(Mutex::new(Some(transaction))),
        })
    }

    /// Keeps what the current record wrote and, for [`Then::NextRecord`], opens the next
    /// record's savepoint.
    ///
    /// # Errors
    /// When PostgreSQL refuses: a statement of the record failed and its handler went on
    /// (the transaction is aborted). [`BatchTransaction::undo`] then still works.
    pub async fn keep(&self, then: Then) -> Result<(), sqlx::Error> {
        self.simple(match then {
            Then::NextRecord => KEEP_THEN_OPEN,
            Then::Commit => KEEP,
        })
        .await
    }

    /// Undoes what the current record wrote, brings an aborted transaction back, and leaves
    /// an empty savepoint open for the next record.
    ///
    /// # Errors
    /// When PostgreSQL fails; the batch cannot go on.
    pub async fn undo(&self) -> Result<(), sqlx::Error> {
        self.simple(UNDO).await
    }

    /// Commits every record kept. The caller must have closed the last record (kept or
    /// undone it): PostgreSQL answers a commit of an aborted transaction with a rollback,
    /// not an error. After a failure nobody knows whether PostgreSQL committed: the caller
    /// redelivers the batch, and the records' once-only claims make the second time change
    /// nothing.
    ///
    /// # Errors
    /// When the commit fails, or the batch had ended.
    pub async fn commit(self) -> Result<(), sqlx::Error> {
        let transaction = self.transaction.lock().await.take();
        match transaction {
            Some(transaction) => transaction.commit().await,
            None => Err(ended()),
        }
    }

    async fn simple(&self, statement: &str) -> Result<(), sqlx::Error> {
        let mut guard = self.transaction.lock().await;
        let transaction = guard.as_mut().ok_or_else(ended)?;
        // A `&str` goes as a simple query: two statements in one round trip.
        sqlx::Executor::execute(&mut **transaction, statement).await?;
        Ok(())
    }
}
