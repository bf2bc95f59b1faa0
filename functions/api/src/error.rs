//! The API's one error type and its mapping from every domain error: the only place that
//! decides what a client sees when something fails.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use lzstock_domain::dashboard::{
    CreateDashboardError, DeleteDashboardError, GetDashboardError, ListDashboardsError,
};
use lzstock_domain::InvalidInput;
use serde::Serialize;

/// The error codes, shared with the Connect protocol (same names, same meaning).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The request is malformed or a field is invalid (400).
    InvalidArgument,
    /// No valid credentials (401).
    Unauthenticated,
    /// No such resource, or not the caller's (404).
    NotFound,
    /// The resource exists already (409).
    AlreadyExists,
    /// The request is too large (413).
    ResourceExhausted,
    /// The media type is not accepted (415).
    Unimplemented,
    /// A dependency the request needs is unavailable; retry later (503).
    Unavailable,
    /// A bug or an outage; details are in the log under the error id (500).
    Internal,
}

impl ErrorCode {
    /// The HTTP status of this code.
    #[must_use]
    pub const fn status(self) -> StatusCode {
        match self {
            Self::InvalidArgument => StatusCode::BAD_REQUEST,
            Self::Unauthenticated => StatusCode::UNAUTHORIZED,
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::AlreadyExists => StatusCode::CONFLICT,
            Self::ResourceExhausted => StatusCode::PAYLOAD_TOO_LARGE,
            Self::Unimplemented => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

/// What a client receives when a request fails:
/// `{"code": "invalid_argument", "message": "…", "field": "name"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct ApiError {
    /// The machine-readable code.
    pub code: ErrorCode,
    /// A sentence for a human; never an internal error's text.
    pub message: String,
    /// The offending field, for `invalid_argument`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

impl ApiError {
    /// An error with `code` and `message`.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            field: None,
        }
    }

    /// The dashboard does not exist for this caller.
    #[must_use]
    pub fn dashboard_not_found() -> Self {
        Self::new(ErrorCode::NotFound, "dashboard not found")
    }

    /// An unexpected failure: logged once with its cause chain under a fresh id, and
    /// answered with that id only.
    pub fn internal(error: &(dyn std::error::Error + 'static)) -> Self {
        let error_id = uuid::Uuid::new_v4();
        let mut chain = error.to_string();
        let mut source = error.source();
        while let Some(cause) = source {
            chain.push_str(": ");
            chain.push_str(&cause.to_string());
            source = cause.source();
        }
        tracing::error!(%error_id, error = %chain, "request failed");
        Self::new(
            ErrorCode::Internal,
            format!("internal error (reference {error_id})"),
        )
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ApiError {}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.code.status();
        let unauthenticated = self.code == ErrorCode::Unauthenticated;
        let mut response = (status, Json(self)).into_response();
        if unauthenticated {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(r#"Bearer realm="lzstock""#),
            );
        }
        response
    }
}

/// A query string that does not parse (a page that is not a number, say).
impl From<axum::extract::rejection::QueryRejection> for ApiError {
    fn from(rejection: axum::extract::rejection::QueryRejection) -> Self {
        Self::new(ErrorCode::InvalidArgument, rejection.body_text())
    }
}

impl From<InvalidInput> for ApiError {
    fn from(invalid: InvalidInput) -> Self {
        Self {
            code: ErrorCode::InvalidArgument,
            message: format!("{}: {}", invalid.field, invalid.reason),
            field: Some(invalid.field),
        }
    }
}

impl From<CreateDashboardError> for ApiError {
    fn from(error: CreateDashboardError) -> Self {
        match error {
            CreateDashboardError::Conflict(what) => Self::new(ErrorCode::AlreadyExists, what),
            CreateDashboardError::Unexpected(e) => Self::internal(&e),
        }
    }
}

impl From<GetDashboardError> for ApiError {
    fn from(error: GetDashboardError) -> Self {
        match error {
            GetDashboardError::NotFound => Self::dashboard_not_found(),
            GetDashboardError::Unexpected(e) => Self::internal(&e),
        }
    }
}

impl From<ListDashboardsError> for ApiError {
    fn from(error: ListDashboardsError) -> Self {
        match error {
            ListDashboardsError::Unexpected(e) => Self::internal(&e),
        }
    }
}

impl From<DeleteDashboardError> for ApiError {
    fn from(error: DeleteDashboardError) -> Self {
        match error {
            DeleteDashboardError::NotFound => Self::dashboard_not_found(),
            DeleteDashboardError::Unexpected(e) => Self::internal(&e),
        }
    }
}

#[cfg(test)]
mod tests {
    use lzstock_domain::common::StoreError;

    use super::*;

    #[test]
    fn each_domain_error_maps_to_one_code_and_status() {
        let conflict = ApiError::from(CreateDashboardError::Conflict(
            "dashboard x already exists".into(),
        ));
        assert_eq!(
            (conflict.code, conflict.code.status()),
            (ErrorCode::AlreadyExists, StatusCode::CONFLICT)
        );
        let missing = ApiError::from(GetDashboardError::NotFound);
        assert_eq!(missing.code.status(), StatusCode::NOT_FOUND);
        let invalid = ApiError::from(InvalidInput::new("name", "must not be empty"));
        assert_eq!(
            (invalid.code.status(), invalid.field.as_deref()),
            (StatusCode::BAD_REQUEST, Some("name"))
        );
    }

    #[test]
    fn an_unexpected_error_never_shows_its_cause() {
        let cause = std::io::Error::other("password authentication failed for user lzstock");
        let error = ApiError::from(ListDashboardsError::Unexpected(StoreError::Unavailable(
            Box::new(cause),
        )));
        assert_eq!(error.code.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert!(error.message.starts_with("internal error (reference "));
        assert!(!error.message.contains("password"));
    }

    #[test]
    fn unauthenticated_responses_carry_a_challenge() {
        let response =
            ApiError::new(ErrorCode::Unauthenticated, "missing bearer token").into_response();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert!(response.headers().contains_key(header::WWW_AUTHENTICATE));
    }

    #[test]
    fn connect_codes_match_the_http_ones() {
        let conflict: connectrpc::ConnectError =
            ApiError::from(CreateDashboardError::Conflict("x".into())).into();
        assert_eq!(conflict.code, connectrpc::ErrorCode::AlreadyExists);
    }
}
