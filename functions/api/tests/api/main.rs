//! The API router against real PostgreSQL: every route, each error mapping, auth, pagination
//! edges and owner isolation, driven in-process with `oneshot`.

mod auth;
mod companies;
mod connect;
mod dashboards;
mod emails;
mod helpers;
mod lambda_events;
mod openapi;
mod tokens;
mod trace;
