//! The OpenAPI document, generated from the handlers' annotations (never written by hand),
//! and Swagger UI to browse it.

use axum::http::header;
use axum::response::Html;
use axum::routing::get;
use axum::Router;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::OpenApi as Document;
use utoipa::{Modify, OpenApi};

use super::error::{ApiError, ErrorCode};

/// The parts of the document no handler describes: title, security scheme, tags.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "LZStock API",
        description = "Dashboards of companies and their fundamentals, and the caller's \
                       emails. The same operations are served as the proto services \
                       lzstock.v1.DashboardService, lzstock.v1.CompanyService and \
                       lzstock.v1.EmailService over Connect, gRPC-Web and gRPC."
    ),
    components(schemas(ApiError, ErrorCode)),
    modifiers(&BearerAuth),
    tags(
        (name = "dashboards", description = "The caller's dashboards"),
        (name = "companies", description = "Tracked companies"),
        (name = "emails", description = "The caller's emails: queued, sent once, searched"),
    )
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut Document) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
    }
}

/// `GET /openapi.json`, `GET /docs` (Swagger UI) and its assets; all open.
pub fn router(document: Document) -> Router {
    let json = serde_json::to_string(&document).unwrap_or_default();
    Router::new()
        .route(
            "/openapi.json",
            get(move || async move { ([(header::CONTENT_TYPE, "application/json")], json) }),
        )
        .route(
            "/docs",
            get(|| async { Html(include_str!("../assets/swagger-ui/index.html")) }),
        )
        .route(
            "/docs/swagger-ui.css",
            get(|| async {
                (
                    [(header::CONTENT_TYPE, "text/css")],
                    include_str!("../assets/swagger-ui/swagger-ui.css"),
                )
            }),
        )
        .route(
            "/docs/swagger-ui-bundle.js",
            get(|| async {
                (
                    [(header::CONTENT_TYPE, "application/javascript")],
                    include_str!("../assets/swagger-ui/swagger-ui-bundle.js"),
                )
            }),
        )
}
