//! Where a store's writes go: each write in a transaction of its own, or, while the events
//! function applies a message batch, in a savepoint of the batch's one transaction.
//!
//! A store writes through [`Database::writer`] and [`Writer::begin`]; it does not know
//! which of the two it got. On a pooled connection `begin` is `BEGIN`, inside a batch it is
//! a `SAVEPOINT`, and commit, rollback and a drop without either mean the same thing at
//! their own level. So a store's rule stays "return an error, or roll back, to undo", and
//! a batch commits what its records kept, once.

use std::sync::Arc;

use sqlx::pool::PoolConnection;
use sqlx::{Connection, PgPool, Postgres, Transaction};
use tokio::sync::{Mutex, OwnedMutexGuard};

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

    /// A connection to write on: one from the pool, or the batch's own. The batch's is
    /// held until the writer drops, so a batch's writes run one at a time.
    ///
    /// # Errors
    /// When no connection can be had, or the batch has ended.
    pub async fn writer(&self) -> Result<Writer, sqlx::Error> {
        match &self.batch {
            None => Ok(Writer::Pooled(self.pool.acquire().await?)),
            Some(batch) => {
                let guard = Arc::clone(&batch.transaction).lock_owned().await;
                if guard.is_none() {
                    return Err(ended());
                }
                Ok(Writer::Batch(guard))
            }
        }
    }
}

/// A connection a store writes on, from [`Database::writer`].
#[derive(Debug)]
pub enum Writer {
    /// A connection of the pool's.
    Pooled(PoolConnection<Postgres>),
    /// The batch's transaction, held by this writer alone.
    Batch(OwnedMutexGuard<Option<Transaction<'static, Postgres>>>),
}

impl Writer {
    /// Begins the write: a transaction on a pooled connection, a savepoint inside a batch.
    /// Committed, it is kept (in the batch, until the batch commits); rolled back or
    /// dropped, nothing it wrote remains.
    ///
    /// # Errors
    /// When PostgreSQL fails.
    pub async fn begin(&mut self) -> Result<Transaction<'_, Postgres>, sqlx::Error> {
        match self {
            Self::Pooled(connection) => connection.begin().await,
            Self::Batch(guard) => match guard.as_mut() {
                Some(transaction) => transaction.begin().await,
                None => Err(ended()),
            },
        }
    }
}

/// The one transaction a message batch's records write in, a savepoint per record.
///
/// [`BatchTransaction::record`] opens a record's savepoint, [`BatchTransaction::keep`] or
/// [`BatchTransaction::undo`] closes it, and [`BatchTransaction::commit`] ends the batch.
/// Between the two, the record's handler writes through a [`Database`] made
/// [`Database::within`] the batch.
#[derive(Debug, Clone)]
pub struct BatchTransaction {
    transaction: Arc<Mutex<Option<Transaction<'static, Postgres>>>>,
}

/// The error of a write after its batch ended.
fn ended() -> sqlx::Error {
    sqlx::Error::Io(std::io::Error::new(
        std::io::ErrorKind::NotConnected,
        "the batch's transaction has ended",
    ))
}

// The savepoint around one record's writes. Undone, it is also released, so the next
// record's starts from the batch's own level.
const SAVEPOINT: &str = "SAVEPOINT lzstock_record";
const RELEASE: &str = "RELEASE SAVEPOINT lzstock_record";
const ROLLBACK: &str = "ROLLBACK TO SAVEPOINT lzstock_record; RELEASE SAVEPOINT lzstock_record";

impl BatchTransaction {
    /// Begins a batch's transaction on a connection of `pool`.
    ///
    /// # Errors
    /// When PostgreSQL fails.
    pub async fn begin(pool: &PgPool) -> Result<Self, sqlx::Error> {
        let transaction = pool.begin().await?;
        Ok(Self {
            transaction: Arc::new(Mutex::new(Some(transaction))),
        })
    }

    /// Opens the next record's savepoint.
    ///
    /// # Errors
    /// When PostgreSQL fails; the batch cannot go on.
    pub async fn record(&self) -> Result<(), sqlx::Error> {
        self.simple(SAVEPOINT).await
    }

    /// Keeps what the record wrote.
    ///
    /// # Errors
    /// When PostgreSQL refuses: a statement of the record failed and its handler went on
    /// (the transaction is aborted). [`BatchTransaction::undo`] then still works.
    pub async fn keep(&self) -> Result<(), sqlx::Error> {
        self.simple(RELEASE).await
    }

    /// Undoes what the record wrote, and brings an aborted transaction back.
    ///
    /// # Errors
    /// When PostgreSQL fails; the batch cannot go on.
    pub async fn undo(&self) -> Result<(), sqlx::Error> {
        self.simple(ROLLBACK).await
    }

    /// Commits every record kept. After a failure, nobody knows whether PostgreSQL
    /// committed: the caller redelivers the batch and the records' once-only claims make
    /// the second time change nothing.
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
        // A `&str` goes as a simple query: the undo's two statements in one round trip.
        sqlx::Executor::execute(&mut **transaction, statement).await?;
        Ok(())
    }
}
