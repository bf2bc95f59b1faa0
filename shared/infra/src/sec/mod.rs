//! SEC EDGAR: the fleet's shared request budget, HTTP access under SEC's fair-access
//! policy, and SEC's documents parsed.

pub mod budget;
pub mod client;
pub mod documents;
pub mod edgar;

pub use budget::RequestBudget;
pub use client::{Fetched, SecConnection, SecError, SecHttp, SecPolicy, SecSetupError};
pub use edgar::{Edgar, EdgarEndpoints, EdgarError, TickerMap};
