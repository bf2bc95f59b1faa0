//! The API's `/healthz` and `/livez`: readiness for anyone, the server versions only for a
//! caller whose credentials the API accepts (they are a map for an attacker).

use std::sync::Arc;

use axum::extract::State;
use axum::http::request::Parts;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use lzstock_app::health::{self, CachedProbe, HealthProbe};

use crate::caller::Authenticator;

#[derive(Debug, Clone)]
struct Healthz {
    probe: Arc<CachedProbe>,
    auth: Authenticator,
}

/// `GET /healthz` and `GET /livez` over `probe`, disclosing versions to callers `auth`
/// accepts.
pub fn router(probe: HealthProbe, auth: Authenticator) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/livez", get(health::livez))
        .with_state(Healthz {
            probe: Arc::new(CachedProbe::new(probe)),
            auth,
        })
}

async fn healthz(State(state): State<Healthz>, parts: Parts) -> impl IntoResponse {
    // Only a caller who sent credentials is checked; a bad token is just anonymous here.
    let sent_credentials = parts
        .headers
        .contains_key(axum::http::header::AUTHORIZATION)
        || parts
            .extensions
            .get::<lzstock_shim::claims::VerifiedClaims>()
            .is_some();
    let disclosed = sent_credentials
        && state
            .auth
            .owner(&parts.headers, &parts.extensions)
            .await
            .is_ok();
    state.probe.answer(disclosed).await
}
