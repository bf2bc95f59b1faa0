//! The scraper function's integration tests, one binary (one link of the tree): under
//! `cargo lambda watch`, SEC's politeness rules, insights, and the real filers' documents.

mod insights;
mod lambda;
mod politeness;
mod real_filers;
