//! Errors as the client sees them: the one table where every layer's failure becomes an HTTP
//! status, a stable code and a message.
//!
//! Each domain error — [`StorageError`], [`PutError`], [`BodyError`], [`KeyError`],
//! [`LiveError`], [`RelayError`], [`Denied`], the metadata database's `sqlx::Error` — has one
//! [`Verdict`]. 4xx are the client's request and carry a message written for it; 5xx are
//! reelay's or its backend's, and carry a fixed message only: the detail (store responses, SQL
//! errors, paths, OS errors) is logged inside the request's span, so the log line bears the
//! request id the client was given, and never reaches the client.
//!
//! Two shapes: API routes answer `{"error":{"code","message"}}` ([`ApiError`]); media routes
//! answer the status with a short text body ([`MediaError`]), since the client there is a
//! player, not a program reading JSON.

use std::borrow::Cow;

use crate::http::common::json_values::Object;
use axum::Json;
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};

use crate::auth::Denied;
use crate::live::LiveError;
use crate::relay::RelayError;
use crate::storage::{KeyError, PutError, StorageError};
use crate::stream::BodyError;

/// A status, a stable code and what the client is told.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Verdict {
    pub(crate) status: StatusCode,
    pub(crate) code: &'static str,
    pub(crate) message: Cow<'static, str>,
}

fn verdict(
    status: StatusCode,
    code: &'static str,
    message: impl Into<Cow<'static, str>>,
) -> Verdict {
    Verdict {
        status,
        code,
        message: message.into(),
    }
}

const INTERNAL: &str = "internal error";

/// The table, one function per layer.
pub(crate) mod table {
    use super::*;

    pub(crate) fn storage(e: &StorageError) -> Verdict {
        use StatusCode as S;
        match e {
            StorageError::NotFound => verdict(S::NOT_FOUND, "not_found", "no such object"),
            StorageError::Forbidden => verdict(S::FORBIDDEN, "forbidden", "access denied"),
            StorageError::BackendDenied { reason, .. } => verdict(
                S::BAD_GATEWAY,
                "backend_denied",
                format!("the storage backend denied access: {reason}"),
            ),
            StorageError::BackendUnavailable(_) => verdict(
                S::BAD_GATEWAY,
                "backend_unavailable",
                "the storage backend is unreachable",
            ),
            StorageError::BackendTimeout(_) => verdict(
                S::GATEWAY_TIMEOUT,
                "backend_timeout",
                "the storage backend timed out",
            ),
            StorageError::Backend(_) => verdict(
                S::BAD_GATEWAY,
                "backend_error",
                "the storage backend failed",
            ),
            StorageError::Changed => verdict(
                S::PRECONDITION_FAILED,
                "object_changed",
                "the object changed while it was being read",
            ),
            StorageError::Conflict(m) => verdict(S::CONFLICT, "conflict", m.clone()),
            StorageError::InvalidKey(m) => verdict(S::BAD_REQUEST, "bad_key", m.clone()),
            StorageError::Io(_) => verdict(S::INTERNAL_SERVER_ERROR, "backend_io", INTERNAL),
            StorageError::Busy(m) => verdict(S::SERVICE_UNAVAILABLE, "busy", m.clone()),
        }
    }

    pub(crate) fn body(e: &BodyError) -> Verdict {
        let status = match e {
            BodyError::Broken(_) => StatusCode::BAD_REQUEST,
            BodyError::Stalled(_) => StatusCode::REQUEST_TIMEOUT,
            BodyError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
        };
        let code = match e {
            BodyError::Broken(_) => "bad_body",
            BodyError::Stalled(_) => "body_timeout",
            BodyError::TooLarge { .. } => "too_large",
        };
        verdict(status, code, e.to_string())
    }

    pub(crate) fn put(e: &PutError) -> Verdict {
        match e {
            PutError::Body(e) => body(e),
            PutError::Storage(e) => storage(e),
        }
    }

    pub(crate) fn key(e: &KeyError) -> Verdict {
        verdict(StatusCode::BAD_REQUEST, "bad_key", e.to_string())
    }

    pub(crate) fn database(_: &sqlx::Error) -> Verdict {
        verdict(
            StatusCode::SERVICE_UNAVAILABLE,
            "database_unavailable",
            "the metadata database failed",
        )
    }

    pub(crate) fn denied(e: &Denied) -> Verdict {
        match e {
            Denied::Unauthenticated(m) => {
                verdict(StatusCode::UNAUTHORIZED, "unauthorized", m.clone())
            }
            Denied::Forbidden(m) => verdict(StatusCode::FORBIDDEN, "forbidden", m.clone()),
            Denied::Unavailable => verdict(
                StatusCode::SERVICE_UNAVAILABLE,
                "auth_unavailable",
                "cannot check tokens right now",
            ),
        }
    }

    pub fn live(e: &LiveError) -> Verdict {
        use StatusCode as S;
        let client = |status, code| verdict(status, code, e.to_string());
        match e {
            LiveError::NoSource(_)
            | LiveError::NoRecording(_)
            | LiveError::NothingToPlay(_)
            | LiveError::NotConfigured(_) => client(S::NOT_FOUND, "not_found"),
            LiveError::NameTaken(_) | LiveError::Conflict(_) => client(S::CONFLICT, "conflict"),
            LiveError::Invalid(_) => client(S::BAD_REQUEST, "bad_request"),
            LiveError::Forbidden(_) => client(S::FORBIDDEN, "forbidden"),
            LiveError::NotYet(_) => client(S::SERVICE_UNAVAILABLE, NOT_YET),
            LiveError::Busy(_) => client(S::SERVICE_UNAVAILABLE, "busy"),
            LiveError::Body(e) => body(e),
            LiveError::Db(e) => database(e),
            LiveError::Storage(e) => storage(e),
            LiveError::Cluster(_) => verdict(
                S::SERVICE_UNAVAILABLE,
                "cluster_unavailable",
                "the cluster's shared live tier is unavailable; retry shortly",
            ),
            LiveError::Io(_) | LiveError::Internal(_) => {
                verdict(S::INTERNAL_SERVER_ERROR, "internal", INTERNAL)
            }
        }
    }

    pub(crate) fn relay(e: &RelayError) -> Verdict {
        match e {
            RelayError::Denied(e) => denied(e),
            RelayError::OtherEdge(_) => verdict(StatusCode::CONFLICT, "conflict", e.to_string()),
            RelayError::Invalid(m) => verdict(StatusCode::BAD_REQUEST, "bad_request", m.clone()),
            RelayError::Live(e) => live(e),
            RelayError::Db(e) => database(e),
        }
    }
}

/// Logs a failure that is ours or a backend's, with its detail (inside the request's span).
///
/// Not a blocking reload or part that its stream did not reach in time (`not_yet`): that is an
/// encoder pausing or ending, not a failure here (the source's `last_segment_at` in the API
/// shows it), and every viewer holding a reload gets it at once — a thousand error lines for
/// one event. It is logged at debug level.
fn log_server_error(verdict: &Verdict, detail: &dyn std::fmt::Display) {
    if verdict.code == NOT_YET {
        tracing::debug!(code = verdict.code, error = %detail, "request failed");
    } else if verdict.status.is_server_error() {
        tracing::error!(code = verdict.code, error = %detail, "request failed");
    }
}

/// The code of a 503 for a reload or part the stream did not reach in time.
const NOT_YET: &str = "not_yet";

/// An error on a JSON API route.
#[derive(Debug)]
pub struct ApiError {
    pub(crate) verdict: Verdict,
    /// A 401 asks for a bearer token (RFC 9110 §11.6.1).
    challenge: bool,
}

impl ApiError {
    fn from_verdict(verdict: Verdict, detail: &dyn std::fmt::Display) -> Self {
        log_server_error(&verdict, detail);
        let challenge = verdict.status == StatusCode::UNAUTHORIZED;
        Self { verdict, challenge }
    }

    pub(crate) fn not_found(message: impl Into<Cow<'static, str>>) -> Self {
        Self::client(StatusCode::NOT_FOUND, "not_found", message)
    }

    pub(crate) fn bad_request(message: impl Into<Cow<'static, str>>) -> Self {
        Self::client(StatusCode::BAD_REQUEST, "bad_request", message)
    }

    pub(crate) fn conflict(message: impl Into<Cow<'static, str>>) -> Self {
        Self::client(StatusCode::CONFLICT, "conflict", message)
    }

    /// Authorization passed but the request may not do this.
    pub(crate) fn forbidden(message: impl Into<Cow<'static, str>>) -> Self {
        Self::client(StatusCode::FORBIDDEN, "forbidden", message)
    }

    /// The body is not of a media type the route takes.
    pub(crate) fn unsupported_media_type(message: impl Into<Cow<'static, str>>) -> Self {
        Self::client(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            message,
        )
    }

    /// The path exists but does not take this method.
    pub(crate) fn method_not_allowed(message: impl Into<Cow<'static, str>>) -> Self {
        Self::client(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            message,
        )
    }

    /// The request names a host this node does not answer for (`[server] hosts`).
    pub(crate) fn misdirected() -> Self {
        Self::client(
            StatusCode::MISDIRECTED_REQUEST,
            "misdirected",
            "this node does not answer for that host",
        )
    }

    /// The request head is larger than `max` bytes.
    pub(crate) fn head_too_large(max: usize) -> Self {
        Self::client(
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            "header_too_large",
            format!("the request head is larger than {max} bytes"),
        )
    }

    /// A handler panicked: a bug, logged where it is caught.
    pub(crate) fn internal() -> Self {
        Self::client(StatusCode::INTERNAL_SERVER_ERROR, "internal", INTERNAL)
    }

    fn client(
        status: StatusCode,
        code: &'static str,
        message: impl Into<Cow<'static, str>>,
    ) -> Self {
        Self {
            verdict: verdict(status, code, message),
            challenge: false,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let Verdict {
            status,
            code,
            message,
        } = self.verdict;
        let body = serde_json::json!({"error": {"code": code, "message": message}});
        let mut response = (status, Json(body)).into_response();
        if self.challenge {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        if status == StatusCode::SERVICE_UNAVAILABLE {
            // Every 503 is one a client may retry: say when (RFC 9110 §10.2.3).
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        response
    }
}

macro_rules! api_error_from {
    ($($error:ty => $judge:path),* $(,)?) => {$(
        impl From<$error> for ApiError {
            fn from(e: $error) -> Self {
                Self::from_verdict($judge(&e), &e)
            }
        }
    )*};
}

api_error_from! {
    StorageError => table::storage,
    PutError => table::put,
    BodyError => table::body,
    KeyError => table::key,
    sqlx::Error => table::database,
    Denied => table::denied,
    LiveError => table::live,
    RelayError => table::relay,
}

/// A JSON request body; malformed or mistyped bodies become JSON errors (400, 415, 422).
#[derive(Debug)]
pub(crate) struct ApiJson<T>(pub T);

impl<T, S> axum::extract::FromRequest<S> for ApiJson<T>
where
    T: serde::de::DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Self, ApiError> {
        match Json::<Object<T>>::from_request(req, state).await {
            Ok(Json(Object(value))) => Ok(Self(value)),
            Err(rejection) => {
                let code = match rejection.status() {
                    StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
                    StatusCode::PAYLOAD_TOO_LARGE => "too_large",
                    _ => "bad_request",
                };
                Err(ApiError::client(
                    rejection.status(),
                    code,
                    rejection.body_text(),
                ))
            }
        }
    }
}

/// An error on a media route: the same table, answered as plain text.
#[derive(Debug)]
pub(crate) struct MediaError(Verdict);

impl MediaError {
    pub(crate) fn bad_request(message: impl std::fmt::Display) -> Self {
        Self(verdict(
            StatusCode::BAD_REQUEST,
            "bad_request",
            format!("bad request: {message}"),
        ))
    }

    pub(crate) fn no_such_bucket() -> Self {
        Self(verdict(
            StatusCode::NOT_FOUND,
            "not_found",
            "no such bucket",
        ))
    }
}

impl From<StorageError> for MediaError {
    fn from(e: StorageError) -> Self {
        let verdict = table::storage(&e);
        log_server_error(&verdict, &e);
        Self(verdict)
    }
}

impl From<KeyError> for MediaError {
    fn from(e: KeyError) -> Self {
        Self(verdict(
            StatusCode::BAD_REQUEST,
            "bad_key",
            format!("bad key: {e}"),
        ))
    }
}

impl IntoResponse for MediaError {
    fn into_response(self) -> Response {
        let mut response = (
            self.0.status,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            format!("{}\n", self.0.message),
        )
            .into_response();
        if self.0.status == StatusCode::SERVICE_UNAVAILABLE {
            // As on the API: every 503 says when to retry.
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use tracing_subscriber::Layer;
    use tracing_subscriber::layer::{Context, SubscriberExt};

    use super::*;

    /// The levels of the events logged while it is the subscriber.
    #[derive(Clone, Default)]
    struct Levels(Arc<Mutex<Vec<tracing::Level>>>);

    impl<S: tracing::Subscriber> Layer<S> for Levels {
        fn on_event(&self, event: &tracing::Event<'_>, _: Context<'_, S>) {
            self.0
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(*event.metadata().level());
        }
    }

    fn logged(make: impl FnOnce() -> ApiError) -> (StatusCode, Vec<tracing::Level>) {
        let levels = Levels::default();
        let subscriber = tracing_subscriber::registry().with(levels.clone());
        let error = tracing::subscriber::with_default(subscriber, make);
        let seen = levels.0.lock().unwrap_or_else(|p| p.into_inner()).clone();
        (error.verdict.status, seen)
    }

    #[test]
    fn a_reload_its_stream_did_not_reach_is_a_503_logged_at_debug_and_a_backend_failure_an_error() {
        let (status, levels) = logged(|| ApiError::from(LiveError::NotYet("late")));
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(levels, [tracing::Level::DEBUG]);
        let (status, levels) =
            logged(|| ApiError::from(StorageError::BackendUnavailable("down".into())));
        assert!(status.is_server_error());
        assert_eq!(levels, [tracing::Level::ERROR]);
    }
}
