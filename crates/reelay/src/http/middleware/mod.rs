//! The layers every request passes, outermost first: [`observe`] (request id, tracing span,
//! metrics), [`cors`], a panic guard (a panicking handler is logged and answered 500), [`auth`]
//! (first the exact request head limit of [`limits`], then the route's requirement against what
//! the request presents). [`stack`] puts them around a router.

pub mod auth;
pub mod cors;
pub mod limits;
pub mod observe;

use axum::Router;
use axum::middleware::from_fn_with_state;
use tower_http::catch_panic::CatchPanicLayer;

use super::error::ApiError;
use super::state::AppState;

/// `router` inside the layers described above.
pub fn stack(router: Router<AppState>, state: &AppState) -> Router<AppState> {
    router
        .layer(from_fn_with_state(state.clone(), auth::authorize))
        .layer(CatchPanicLayer::custom(panic_response))
        .layer(tower::util::option_layer(cors::layer(
            &state.limits.cors_origins,
        )))
        .layer(from_fn_with_state(state.metrics.clone(), observe::track))
}

/// A handler panic is a bug: log it loudly and answer 500 instead of dropping the connection.
fn panic_response(panic: Box<dyn std::any::Any + Send + 'static>) -> axum::response::Response {
    let detail = panic
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| panic.downcast_ref::<&str>().copied())
        .unwrap_or("unknown");
    tracing::error!(panic = detail, "a request handler panicked");
    axum::response::IntoResponse::into_response(ApiError::internal())
}
