//! The README's promises, under test: every command of its shell blocks runs verbatim
//! against the dev stack `scripts/dev` starts, in a shell set up only as the README tells a
//! user (`commands`); and every variable of its environment table parses, for every binary
//! its row names, from the form the table shows (`variables`).

mod commands;
mod variables;

use crate::checkout::root;

/// The README, as a user reads it.
fn readme() -> String {
    std::fs::read_to_string(root().join("README.md")).expect("README.md")
}
