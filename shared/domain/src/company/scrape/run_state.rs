//! What a run keeps while it goes: its progress, what became of the listing, the stop
//! every worker honours, and why a company failed.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;

use crate::common::StoreError;

/// How far a run is: companies finished of those it set out to do.
pub(super) struct Progress {
    pub(super) done: AtomicUsize,
    pub(super) total: usize,
}

/// What became of SEC's listing at the start of a run.
pub(super) enum Listing {
    /// Refreshed, or fresh enough not to need it.
    Current,
    /// Unavailable; the run goes on from the copy recorded earlier (this says so).
    Earlier(String),
    /// Unavailable, and no copy was ever recorded: the run cannot start (why).
    Unavailable(String),
    /// SEC refused in a way every request would repeat (why).
    Stopped(String),
}

/// Set once by the first worker that meets an error every later request would repeat.
#[derive(Default)]
pub(super) struct Stop {
    set: AtomicBool,
    reason: Mutex<Option<String>>,
}

impl Stop {
    pub(super) fn is_set(&self) -> bool {
        self.set.load(Ordering::SeqCst)
    }

    /// The first reason set, once every worker is done with the stop.
    pub(super) fn into_reason(self) -> Option<String> {
        self.reason.into_inner().ok().flatten()
    }

    pub(super) fn set(&self, reason: String) {
        self.set.store(true, Ordering::SeqCst);
        if let Ok(mut slot) = self.reason.lock() {
            slot.get_or_insert(reason);
        }
    }
}

/// Why one company did not sync: its own trouble, a stop every request would repeat, or
/// storage.
pub(super) enum SyncFailure {
    Company(String),
    Stop(String),
    Store(StoreError),
}

impl From<StoreError> for SyncFailure {
    fn from(error: StoreError) -> Self {
        Self::Store(error)
    }
}
