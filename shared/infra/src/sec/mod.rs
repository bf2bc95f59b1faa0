//! SEC EDGAR: the fleet's shared request budget and HTTP access under SEC's fair-access
//! policy.

pub mod budget;
pub mod client;

pub use budget::RequestBudget;
pub use client::{Fetched, SecError, SecHttp, SecPolicy};
