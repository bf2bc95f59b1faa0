//! The harness's own tests: its servers start and stop as tests need them; and the
//! workspace's shape: its layer rules, and no import circle inside a crate.

mod layer_rules;
mod module_circles;
mod servers;
