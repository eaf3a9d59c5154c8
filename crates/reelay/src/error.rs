//! Errors as the client sees them — the one place where failures become HTTP statuses.
//!
//! Two shapes, one mapping: API routes answer `{"error":{"code","message"}}` ([`ApiError`]);
//! media routes answer a plain status with a short text body ([`MediaError`]), since the
//! client there is a player, not a program reading JSON. Both say who failed: 4xx is the
//! client's request, 5xx is reelay or its backend (502/504 once remote backends exist).

use axum::Json;
use axum::response::{IntoResponse, Response};
use http::{StatusCode, header};

use crate::storage::{KeyError, StorageError};

/// An error on a JSON API route.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
        }
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({"error": {"code": self.code, "message": self.message}});
        (self.status, Json(body)).into_response()
    }
}

/// A JSON request body; malformed or mistyped bodies become JSON errors (400, 415, 422).
#[derive(Debug)]
pub struct ApiJson<T>(pub T);

impl<T, S> axum::extract::FromRequest<S> for ApiJson<T>
where
    T: serde::de::DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Self, ApiError> {
        match Json::<T>::from_request(req, state).await {
            Ok(Json(value)) => Ok(Self(value)),
            Err(rejection) => {
                let code = match rejection.status() {
                    StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
                    StatusCode::PAYLOAD_TOO_LARGE => "too_large",
                    _ => "bad_request",
                };
                Err(ApiError::new(
                    rejection.status(),
                    code,
                    rejection.body_text(),
                ))
            }
        }
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(e: sqlx::Error) -> Self {
        tracing::error!(error = %e, "metadata database error");
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "database_unavailable",
            "the metadata database failed",
        )
    }
}

impl From<StorageError> for ApiError {
    fn from(e: StorageError) -> Self {
        let (status, code) = storage_status(&e);
        if status.is_server_error() {
            tracing::error!(error = %e, "request failed in a backend");
        }
        Self::new(status, code, e.to_string())
    }
}

impl From<KeyError> for ApiError {
    fn from(e: KeyError) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad_key", e.to_string())
    }
}

/// The status and code for a backend failure.
fn storage_status(e: &StorageError) -> (StatusCode, &'static str) {
    match e {
        StorageError::NotFound => (StatusCode::NOT_FOUND, "not_found"),
        StorageError::Forbidden => (StatusCode::FORBIDDEN, "forbidden"),
        StorageError::BackendDenied(_) => (StatusCode::BAD_GATEWAY, "backend_denied"),
        StorageError::BackendUnavailable(_) => (StatusCode::BAD_GATEWAY, "backend_unavailable"),
        StorageError::BackendTimeout(_) => (StatusCode::GATEWAY_TIMEOUT, "backend_timeout"),
        StorageError::Backend(_) => (StatusCode::BAD_GATEWAY, "backend_error"),
        StorageError::Changed => (StatusCode::PRECONDITION_FAILED, "object_changed"),
        StorageError::TooLarge { .. } => (StatusCode::PAYLOAD_TOO_LARGE, "too_large"),
        StorageError::Conflict(_) => (StatusCode::CONFLICT, "conflict"),
        StorageError::ClientBody(_) => (StatusCode::BAD_REQUEST, "bad_body"),
        StorageError::ClientTimeout(_) => (StatusCode::REQUEST_TIMEOUT, "body_timeout"),
        StorageError::Io(_) => (StatusCode::INTERNAL_SERVER_ERROR, "backend_io"),
    }
}

/// An error on a media route.
#[derive(Debug, thiserror::Error)]
pub enum MediaError {
    #[error("bad request: {0}")]
    BadRequest(String),
    #[error("bad key: {0}")]
    BadKey(#[from] KeyError),
    #[error("no such bucket")]
    NoSuchBucket,
    #[error(transparent)]
    Storage(#[from] StorageError),
}

impl IntoResponse for MediaError {
    fn into_response(self) -> Response {
        let status = match &self {
            Self::BadRequest(_) | Self::BadKey(_) => StatusCode::BAD_REQUEST,
            Self::NoSuchBucket => StatusCode::NOT_FOUND,
            Self::Storage(e) => storage_status(e).0,
        };
        if status.is_server_error() {
            tracing::error!(error = %self, "media request failed");
        }
        let body = match &self {
            // Never echo backend detail (paths, OS errors) to the client.
            Self::Storage(StorageError::Io(_)) => "internal error\n".to_owned(),
            other => format!("{other}\n"),
        };
        (
            status,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            body,
        )
            .into_response()
    }
}
