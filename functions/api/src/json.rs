//! A JSON body extractor whose rejections speak the API's error format.

use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, Request};
use serde::de::DeserializeOwned;

use super::error::{ApiError, ErrorCode};

/// The largest request body the API accepts.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// Like `axum::Json`, with malformed bodies answered as `invalid_argument`, a wrong media
/// type as 415 and an oversized body as 413.
#[derive(Debug, Clone)]
pub struct ApiJson<T>(pub T);

impl<S, T> FromRequest<S> for ApiJson<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(request, state).await {
            Ok(axum::Json(value)) => Ok(Self(value)),
            Err(rejection) => Err(match &rejection {
                JsonRejection::MissingJsonContentType(_) => ApiError::new(
                    ErrorCode::Unimplemented,
                    "the body must be JSON (Content-Type: application/json)",
                ),
                JsonRejection::BytesRejection(_)
                    if rejection.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE =>
                {
                    ApiError::new(
                        ErrorCode::ResourceExhausted,
                        "the body is larger than this route accepts",
                    )
                }
                _ => ApiError::new(ErrorCode::InvalidArgument, rejection.body_text()),
            }),
        }
    }
}
