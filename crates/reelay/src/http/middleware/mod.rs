//! The layers every request passes, outermost first: [`observe`] (request id, tracing span,
//! metrics), [`cors`] (only with configured origins), a panic guard (a panicking handler is
//! logged and answered 500), [`auth`] (first the exact request head limit of [`limits`], then
//! the route's requirement against what the request presents), and on the way out [`scope`]
//! (an answer under credentials is `private`). [`stack`] puts them around a
//! router.
//!
//! Without CORS origins (the default) they are one layer, [`gate`]: axum runs each layer per
//! route per request (a clone of the inner service, a boxed future), so three steps in one
//! function cost a third of that. With origins, CORS must sit between observation and
//! authorization (preflights are observed but carry no credentials), so the same steps run as
//! two layers around it: [`observe::track`] and [`guard`].

pub mod auth;
pub mod cors;
pub mod limits;
pub mod observe;
pub mod scope;
pub mod site;

use std::panic::AssertUnwindSafe;

use axum::Router;
use axum::extract::{Request, State};
use axum::middleware::{Next, from_fn_with_state};
use axum::response::{IntoResponse, Response};
use futures_util::FutureExt;

use super::error::ApiError;
use super::state::AppState;

/// `router` inside the layers described above.
pub fn stack(router: Router<AppState>, state: &AppState) -> Router<AppState> {
    match cors::layer(&state.limits.cors_origins) {
        None => router.layer(from_fn_with_state(state.clone(), gate)),
        Some(cors) => router
            .layer(from_fn_with_state(state.clone(), guard))
            .layer(cors)
            .layer(from_fn_with_state(state.metrics.clone(), observe::track)),
    }
}

/// Observation, the panic guard and authorization, as one layer.
pub async fn gate(State(state): State<AppState>, req: Request, next: Next) -> Response {
    observe::observed(&state.metrics, req, |req| guarded(&state, req, next)).await
}

/// The panic guard and authorization, as one layer.
pub async fn guard(State(state): State<AppState>, req: Request, next: Next) -> Response {
    guarded(&state, req, next).await
}

async fn guarded(state: &AppState, req: Request, next: Next) -> Response {
    let run = async move {
        match auth::admit(state, req).await {
            Ok(req) => {
                let principal = req.extensions().get::<crate::auth::Principal>().copied();
                let mut response = next.run(req).await;
                scope::restrict(response.headers_mut(), principal);
                response
            }
            Err(refusal) => refusal,
        }
    };
    AssertUnwindSafe(run)
        .catch_unwind()
        .await
        .unwrap_or_else(panic_response)
}

/// A handler panic is a bug: log it loudly and answer 500 instead of dropping the connection.
pub(crate) fn panic_response(panic: Box<dyn std::any::Any + Send + 'static>) -> Response {
    let detail = panic
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| panic.downcast_ref::<&str>().copied())
        .unwrap_or("unknown");
    tracing::error!(panic = detail, "a request handler panicked");
    ApiError::internal().into_response()
}
