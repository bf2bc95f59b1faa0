//! The harness's own tests: its servers start and stop as tests need them, and the
//! workspace keeps its layer rules.

mod layer_rules;
mod servers;
