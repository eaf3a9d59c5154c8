//! One request's passage, whichever door it comes in by: the router's layer
//! (`middleware::gate`, `middleware::guard`) and the direct path (`direct.rs`) both call
//! [`pass`], and both begin and end with the same [`Observation`]; a connection's service
//! (`direct::Connection`) is the one door of every connection, so a new protocol's streams go
//! through the same code. A cross-cutting step is written here once.
//!
//! The steps, in order:
//! 1. observation begins — request id, log tag, the route's meters ([`Observation::begin`]);
//! 2. behind a panic guard (a panicking handler is logged and answered 500): the exact head
//!    limit ([`limits::check_head`]), then the authorization for the route
//!    ([`auth::authorize`]), which gives the [`Principal`] or the refusal to send;
//! 3. the door's answer, given that principal (the router puts it in the request's
//!    extensions for the handlers);
//! 4. on the way out, the answer's caching made to match who was let in
//!    ([`scope::restrict`]); observation ends — status, id header, metered body
//!    ([`Observation::finish`]).

use std::borrow::Borrow;
use std::future::Future;
use std::panic::AssertUnwindSafe;

use axum::response::{IntoResponse, Response};
use futures_util::FutureExt;
use http::HeaderMap;

use crate::auth::Principal;
use crate::http::common::error::ApiError;
use crate::http::common::middleware::{auth, limits, scope};
use crate::http::common::state::AppState;

pub use crate::http::common::middleware::observe::Observation;

/// An answer whose headers the way out may change.
pub(crate) trait Answer {
    fn headers_mut(&mut self) -> &mut HeaderMap;
}

impl<B> Answer for http::Response<B> {
    fn headers_mut(&mut self) -> &mut HeaderMap {
        self.headers_mut()
    }
}

/// Steps 2 to 4 but observation (see the module): `req` (owned, or borrowed by a door that
/// answers from a borrow) on `route` (its template) is admitted and answered by `answer`,
/// with its principal. `Err` is a refusal or a panic's 500, ready to send.
pub(crate) async fn pass<B, R, A, F, Fut>(
    state: &AppState,
    route: &str,
    req: R,
    answer: F,
) -> Result<A, Response>
where
    R: Borrow<http::Request<B>>,
    A: Answer,
    F: FnOnce(R, Option<Principal>) -> Fut,
    Fut: Future<Output = Result<A, Response>>,
{
    let run = async move {
        let head = req.borrow();
        limits::check_head(head, state.limits.max_header_bytes)
            .map_err(IntoResponse::into_response)?;
        let (method, uri, headers) = (head.method(), head.uri(), head.headers());
        let principal = auth::authorize(state, route, method, uri, headers).await?;
        let mut answered = answer(req, principal).await?;
        scope::restrict(answered.headers_mut(), principal);
        Ok(answered)
    };
    match AssertUnwindSafe(run).catch_unwind().await {
        Ok(passed) => passed,
        Err(panic) => Err(panic_response(panic)),
    }
}

/// A handler panic is a bug: log it loudly and answer 500 instead of dropping the connection.
fn panic_response(panic: Box<dyn std::any::Any + Send + 'static>) -> Response {
    let detail = panic
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| panic.downcast_ref::<&str>().copied())
        .unwrap_or("unknown");
    tracing::error!(panic = detail, "a request handler panicked");
    ApiError::internal().into_response()
}
