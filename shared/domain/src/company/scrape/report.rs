//! What a scraper run reports.

use serde::{Deserialize, Serialize};

/// One company the run could not sync, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Failure {
    /// The ticker as given.
    pub ticker: String,
    /// Why.
    pub reason: String,
}

/// What a run did. Each list is sorted by ticker.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScrapeReport {
    /// Companies asked for, with those earlier runs left undone.
    pub requested: usize,
    /// Companies whose facts changed.
    pub synced: Vec<String>,
    /// Companies whose facts were fetched and held nothing new.
    pub unchanged: Vec<String>,
    /// Companies with no filing newer than the one stored: their facts were not fetched.
    pub skipped: Vec<String>,
    /// Companies that failed, with the reason.
    pub failed: Vec<Failure>,
    /// Companies not started before the deadline (or before the run stopped); the next
    /// run does them first.
    pub remaining: Vec<String>,
    /// When SEC's ticker map could not be refreshed and the run went on from an earlier
    /// copy: why, and when that copy was fetched.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub listing_unavailable: Option<String>,
    /// Why the run stopped before the end, when it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stopped: Option<String>,
    /// This run was already done: this is the report it gave, and nothing was redone.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub repeated: bool,
}
