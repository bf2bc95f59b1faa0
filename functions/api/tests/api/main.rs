//! The API function's integration tests, one binary (one link of the tree): the router
//! against real PostgreSQL in process (every route, each error mapping, auth, pagination
//! edges and owner isolation, driven with `oneshot`), and the built binary under real
//! clients (`buf curl`, the contract fuzzer), on Lambda and with OTLP export.

mod auth;
mod auth_table;
mod buf_curl;
mod common;
mod companies;
mod connect;
mod contract;
mod dashboards;
mod emails;
mod helpers;
mod lambda;
mod lambda_events;
mod openapi;
mod otlp;
mod secrets;
mod slow_clients;
mod tokens;
mod trace;
