//! LZStock's application layer: per-function configuration, controllers, the routing of
//! triggers to the core, and the composition root that turns configuration into wired
//! resources. Function binaries call into this crate and hand the result to the shim.
#![warn(missing_docs)]

pub mod api;
pub mod auth;
pub mod bridge;
pub mod config;
pub mod dashboard_events;
pub mod email_events;
pub mod event_deps;
pub mod event_router;
pub mod events;
pub mod health;
pub mod local_schedules;
pub mod resources;
pub mod routing;
pub mod scraper;
pub mod trace_file;
