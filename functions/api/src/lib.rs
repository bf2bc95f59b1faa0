//! The API function: REST and proto services over HTTP, its configuration, state and router;
//! `main.rs` serves it on Lambda or standalone.
#![warn(missing_docs)]

pub mod auth;
pub mod config;

pub mod caller;
mod companies;
mod dashboards;
mod email_rpc;
mod emails;
pub mod error;
mod healthz;
mod json;
pub mod openapi;
mod rpc;
pub mod trace;

use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::{middleware, Router};
use lzstock_domain::email::EmailAddress;
use lzstock_infra::companies::PgCompanyStore;
use lzstock_infra::dashboards::PgDashboardStore;
use lzstock_infra::email_cache::RedisEmailCache;
use lzstock_infra::emails::PgEmailStore;
use lzstock_infra::outbox::OutboxRelay;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub use caller::{Authenticator, Caller, HasAuthenticator};
pub use companies::{CompanyInsightsView, CompanyRpc, CompanyView, IndicatorView};
pub use dashboards::{
    CreateDashboardBody, DashboardDetail, DashboardPage, DashboardView, IndicatorName, TickerSymbol,
};
pub use emails::{
    CreateEmailBody, EmailAddressText, EmailPage, EmailView, SearchQuery, SenderAddress,
};
pub use error::{ApiError, ErrorCode};
pub use json::MAX_BODY_BYTES;
pub use rpc::{connect_router, DashboardRpc};

use lzstock_app::health::HealthProbe;

/// The API's dependencies, shared by every request (each is a cheap handle).
#[derive(Debug, Clone)]
pub struct ApiState {
    /// What `/healthz` checks.
    pub health: HealthProbe,
    /// Dashboards and their outbox.
    pub dashboards: PgDashboardStore,
    /// Companies and their facts.
    pub companies: PgCompanyStore,
    /// Tells who is calling.
    pub auth: Authenticator,
    /// The outbox relay running in this process, woken after each write so events leave
    /// at once instead of at its next poll.
    pub relay: Option<Arc<OutboxRelay>>,
    /// Emails and their outbox.
    pub emails: PgEmailStore,
    /// The email cache, when `REDIS_URL` is set.
    pub email_cache: Option<RedisEmailCache>,
    /// The sender of emails that name none.
    pub default_from: Option<EmailAddress>,
}

impl ApiState {
    fn wake_relay(&self) {
        if let Some(relay) = &self.relay {
            relay.wake();
        }
    }
}

impl HasAuthenticator for ApiState {
    fn authenticator(&self) -> &Authenticator {
        &self.auth
    }
}

/// The REST routes and the OpenAPI document describing them, built from one declaration
/// so that neither can list a route the other lacks.
pub fn rest(state: ApiState) -> (Router, utoipa::openapi::OpenApi) {
    let (routes, mut document) = OpenApiRouter::with_openapi(openapi::ApiDoc::openapi())
        .routes(routes!(dashboards::create, dashboards::list))
        .routes(routes!(dashboards::get, dashboards::delete))
        .routes(routes!(companies::get))
        .split_for_parts();
    let (email_routes, email_document) = OpenApiRouter::new()
        .routes(routes!(emails::create, emails::search))
        .routes(routes!(emails::get))
        .split_for_parts();
    document.merge(email_document);
    // An email's body may be 1 MiB, and JSON escaping can multiply it: its routes take
    // more, so an oversize body is refused by its parser, naming the field.
    let routes = routes
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .merge(email_routes.layer(DefaultBodyLimit::max(MAX_EMAIL_REQUEST_BYTES)))
        .with_state(state);
    (routes, document)
}

/// The API's one router, served by `lambda_http` on Lambda and by axum standalone.
pub fn router(state: ApiState) -> Router {
    let (v1, document) = rest(state.clone());
    // The same 1 MiB ceiling as REST; over it, Connect answers `resource_exhausted`.
    let connect = rpc::connect_router(state.clone())
        .into_axum_service()
        .with_limits(
            connectrpc::Limits::default()
                .with_max_request_body_size(MAX_BODY_BYTES)
                .with_max_message_size(MAX_BODY_BYTES),
        );
    // As on REST, an email's route takes more, so its parser can name an oversize body.
    let connect_emails = rpc::connect_router(state.clone())
        .into_axum_service()
        .with_limits(
            connectrpc::Limits::default()
                .with_max_request_body_size(MAX_EMAIL_REQUEST_BYTES)
                .with_max_message_size(MAX_EMAIL_REQUEST_BYTES),
        );
    healthz::router(state.health.clone(), state.auth.clone())
        .merge(v1)
        .merge(openapi::router(document))
        .merge(lzstock_shim::meters::install(lzstock_shim::Host::detect()).router())
        .route_service("/lzstock.v1.DashboardService/{*method}", connect.clone())
        .route_service("/lzstock.v1.CompanyService/{*method}", connect)
        .route_service("/lzstock.v1.EmailService/{*method}", connect_emails)
        .fallback(not_found)
        .layer(middleware::from_fn(
            lzstock_shim::claims::from_lambda_context,
        ))
        .layer(middleware::from_fn(trace::trace_request))
        .layer(middleware::from_fn(
            lzstock_shim::invocation::http_invocation,
        ))
}

/// The largest request `POST /v1/emails` and `EmailService/Create` take.
pub const MAX_EMAIL_REQUEST_BYTES: usize = 8 * MAX_BODY_BYTES;

async fn not_found() -> ApiError {
    ApiError::new(ErrorCode::NotFound, "no such route")
}
