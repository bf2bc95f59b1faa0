//! LZStock's domain: entities, value objects, usecases and the ports they need.
//!
//! Plain Rust, serde and error types only. No transport or I/O crate may enter this crate,
//! even transitively; the layer-rules test over `cargo metadata` enforces it.
#![warn(missing_docs)]

pub mod common;
pub mod company;
pub mod dashboard;
pub mod email;
pub mod events;
mod invalid;

pub use company::{Cik, Ticker, ValueError};
pub use invalid::InvalidInput;
