//! The router's door into the request pipeline (`http/common/pipeline.rs`, which the direct path
//! calls too), outermost first: [`observe`] (request id, log tag, metrics), [`cors`] (only with
//! configured origins), then the pipeline's admission — a panic guard, the exact head limit of
//! [`limits`], [`auth`] (the route's requirement against what the request presents) — and on
//! the way out [`scope`] (an answer under credentials is `private`). [`stack`] puts them
//! around a router.
//!
//! Without CORS origins (the default) they are one layer, [`gate`]: axum runs each layer per
//! route per request (a clone of the inner service, a boxed future), so three steps in one
//! function cost a third of that. With origins, CORS must sit between observation and
//! authorization (preflights are observed but carry no credentials), so the same steps run as
//! two layers around it: [`observe::track`] and [`guard`].

pub mod auth;
pub(crate) mod cors;
pub mod limits;
pub(crate) mod observe;
pub(crate) mod scope;
pub(crate) mod site;

use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::middleware::{Next, from_fn_with_state};
use axum::response::Response;

use crate::http::common::state::AppState;
use crate::http::{common::pipeline, common::routes};

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
pub(crate) async fn gate(State(state): State<AppState>, req: Request, next: Next) -> Response {
    observe::observed(&state.metrics, req, |req| guarded(&state, req, next)).await
}

/// The panic guard and authorization, as one layer.
pub(crate) async fn guard(State(state): State<AppState>, req: Request, next: Next) -> Response {
    guarded(&state, req, next).await
}

async fn guarded(state: &AppState, req: Request, next: Next) -> Response {
    let matched = req.extensions().get::<MatchedPath>().cloned();
    let route = matched
        .as_ref()
        .map_or(routes::UNMATCHED, MatchedPath::as_str);
    let answer = |mut req: Request, principal| async move {
        if let Some(principal) = principal {
            req.extensions_mut()
                .insert::<crate::auth::Principal>(principal);
        }
        Ok(next.run(req).await)
    };
    pipeline::pass(state, route, req, answer)
        .await
        .unwrap_or_else(|refusal| refusal)
}
