//! The events function: the routing matrix and the handlers it names, the batch router
//! that commits their effects, and the function's configuration. `main.rs` runs it on
//! Lambda (batches from the bridge) or standalone (its own JetStream consumer).
#![warn(missing_docs)]

pub mod config;
pub mod dashboard_events;
pub mod email_events;
pub mod event_deps;
pub mod event_router;
pub mod routing;
