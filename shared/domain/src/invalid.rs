//! The one shape of "this input is wrong": which field, and why.

use std::fmt;

/// A refused input, naming the field (as the client spelled it) and the reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidInput {
    /// The field, e.g. `name` or `tickers[2]`.
    pub field: String,
    /// Why it was refused, for a human.
    pub reason: String,
}

impl InvalidInput {
    /// A refusal of `field` for `reason`.
    pub fn new(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            reason: reason.into(),
        }
    }
}

impl fmt::Display for InvalidInput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.reason)
    }
}

impl std::error::Error for InvalidInput {}
