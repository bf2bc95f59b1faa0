//! SEC EDGAR: the fleet's shared request budget, HTTP access under SEC's fair-access
//! policy, and SEC's documents parsed.

pub mod budget;
pub mod client;
pub mod documents;
pub mod edgar;

pub use budget::RequestBudget;
pub use client::{Fetched, SecError, SecHttp, SecPolicy};
pub use edgar::{Edgar, EdgarEndpoints, EdgarError, TickerMap};
