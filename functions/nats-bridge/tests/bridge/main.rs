//! The nats-bridge's integration tests, one binary (one link of the tree): standalone and
//! Lambda delivery, dead letters, and the boundaries of what it accepts.

mod boundaries;
mod dead_letters;
mod lambda;
mod standalone;
