//! The direct media path: `GET|HEAD /media/{bucket}/{*key}` answered beside the router, not
//! through it.
//!
//! Why: playback is almost every request a media server sees, and at small ranges the router's
//! own steps — matching, a cloned route service and a boxed future per layer, the handler's
//! extractors copying the header map, the body boxed twice — cost as much as the answer
//! (`bench/README.md`, issue 14). The direct path takes the same steps as plain calls.
//!
//! What it claims, decided from the request line alone ([`claim`]): GET or HEAD, a path under
//! `/media/` with a non-empty bucket and key that percent-decode to UTF-8, and a query string,
//! if any, without `download` (signed URLs' `exp`/`sig`/`pfx` are the authorization's to read,
//! anything else is ignored as the router ignores it; `?download` goes through the router).
//! Anything else, and every request on a node with CORS origins configured (the CORS layer adds
//! headers to every answer), goes to the router unchanged.
//!
//! What it keeps — each step is the router's own code, called here: the exact head limit
//! ([`limits::check_head`]), the authorization decision for the media route
//! ([`auth::authorize`]), the request id, span, per-route metrics and metered body
//! ([`Observation`]), the panic guard, and the answer itself ([`media::answer_object`]: the
//! RFC 9110 evaluation, headers, budgeted or zero-copy bodies). The tests compare its answers
//! with the router's, header for header.

use std::borrow::Cow;
use std::convert::Infallible;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::response::{IntoResponse, Response};
use futures_util::FutureExt;
use http::Method;
use hyper::body::Incoming;
use tower::ServiceExt;
use tracing::Instrument;

use super::error::ApiError;
use super::middleware::auth;
use super::middleware::limits;
use super::middleware::observe::Observation;
use super::reply::{MediaBody, ReplyBody};
use super::state::AppState;
use super::{media, middleware, routes};
use crate::metrics::RouteMeters;
use crate::zero_copy::FileSink;

/// What a connection serves: the router, and the direct path when it is on.
#[derive(Debug, Clone)]
pub struct Front {
    router: Router,
    direct: Option<Arc<Direct>>,
}

impl Front {
    /// `router` (built on `state`) with the direct media path in front of it, unless CORS
    /// origins are configured.
    pub fn new(router: Router, state: &AppState) -> Self {
        let direct = state
            .limits
            .cors_origins
            .is_empty()
            .then(|| Arc::new(Direct::new(state.clone())));
        Self { router, direct }
    }

    /// This front for one connection, whose file spans go through `sink` (when it has one).
    pub fn connection(&self, sink: Option<FileSink>) -> Connection {
        Connection {
            front: self.clone(),
            sink,
        }
    }
}

impl From<Router> for Front {
    /// The router alone: every request through it.
    fn from(router: Router) -> Self {
        Self {
            router,
            direct: None,
        }
    }
}

/// The direct path's shared state: the handlers' state and the media route's meters.
#[derive(Debug)]
struct Direct {
    state: AppState,
    meters: Arc<RouteMeters>,
}

impl Direct {
    fn new(state: AppState) -> Self {
        let meters = state.metrics.http.route(routes::MEDIA);
        Self { state, meters }
    }

    /// Answers a claimed request ([`claim`]), observed like any other request.
    async fn serve(
        self: Arc<Self>,
        mut req: http::Request<Incoming>,
        sink: Option<FileSink>,
    ) -> http::Response<ReplyBody> {
        let observation = Observation::begin(self.meters.clone(), &mut req, false);
        let span = observation.span.clone();
        let caught = AssertUnwindSafe(self.answer(&req, sink.as_ref()))
            .catch_unwind()
            .instrument(span)
            .await;
        let answer = match caught {
            Ok(answer) => answer,
            Err(panic) => Err(middleware::panic_response(panic)),
        };
        match answer {
            Ok(response) => observation.finish(response).map(ReplyBody::Direct),
            Err(refusal) => observation
                .finish(refusal)
                .map(|body| ReplyBody::Routed(Body::new(body))),
        }
    }

    async fn answer(
        &self,
        req: &http::Request<Incoming>,
        sink: Option<&FileSink>,
    ) -> Result<http::Response<MediaBody>, Response> {
        let state = &self.state;
        // Claimed before this was called, so the path is one the direct path answers.
        let Some((bucket, key)) = claim(req.method(), req.uri()) else {
            return Err(ApiError::internal().into_response());
        };
        limits::check_head(req, state.limits.max_header_bytes)
            .map_err(IntoResponse::into_response)?;
        auth::authorize(state, routes::MEDIA, req.method(), req.uri(), req.headers()).await?;
        let request = media::Request::new(req.method(), req.headers(), sink);
        media::answer_object(state, &request, &bucket, &key, None)
            .await
            .map_err(IntoResponse::into_response)
    }
}

/// The bucket and key a request the direct path answers names, decoded (borrowed from `uri`
/// when there is nothing to decode), or `None` when the direct path leaves the request to the
/// router (see the module docs).
pub fn claim<'a>(method: &Method, uri: &'a http::Uri) -> Option<(Cow<'a, str>, Cow<'a, str>)> {
    if method != Method::GET && method != Method::HEAD {
        return None;
    }
    if let Some(query) = uri.query()
        && url::form_urlencoded::parse(query.as_bytes()).any(|(k, _)| k == "download")
    {
        return None;
    }
    let rest = uri.path().strip_prefix(routes::MEDIA_PREFIX)?;
    let (bucket, key) = rest.split_once('/')?;
    let decode = |s: &'a str| percent_encoding::percent_decode_str(s).decode_utf8().ok();
    let (bucket, key) = (decode(bucket)?, decode(key)?);
    (!bucket.is_empty() && !key.is_empty()).then_some((bucket, key))
}

/// One connection's service (see [`Front`]).
#[derive(Debug, Clone)]
pub struct Connection {
    front: Front,
    sink: Option<FileSink>,
}

type Answer = Pin<Box<dyn Future<Output = Result<http::Response<ReplyBody>, Infallible>> + Send>>;

impl hyper::service::Service<http::Request<Incoming>> for Connection {
    type Response = http::Response<ReplyBody>;
    type Error = Infallible;
    type Future = Answer;

    fn call(&self, mut req: http::Request<Incoming>) -> Answer {
        if let Some(direct) = &self.front.direct
            && claim(req.method(), req.uri()).is_some()
        {
            let (direct, sink) = (direct.clone(), self.sink.clone());
            return Box::pin(async move { Ok(direct.serve(req, sink).await) });
        }
        if let Some(sink) = &self.sink {
            req.extensions_mut().insert(sink.clone());
        }
        let router = self.front.router.clone();
        Box::pin(async move {
            let response = router.oneshot(req).await?;
            Ok(response.map(ReplyBody::Routed))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claimed(method: Method, uri: &str) -> Option<(String, String)> {
        let uri: http::Uri = uri.parse().expect("uri");
        claim(&method, &uri).map(|(b, k)| (b.into_owned(), k.into_owned()))
    }

    #[test]
    fn plain_media_reads_are_claimed_with_their_bucket_and_key_decoded() {
        let pair = |b: &str, k: &str| Some((b.to_owned(), k.to_owned()));
        assert_eq!(claimed(Method::GET, "/media/m/a.mp4"), pair("m", "a.mp4"));
        assert_eq!(
            claimed(Method::HEAD, "/media/m/a/b.mp4"),
            pair("m", "a/b.mp4")
        );
        assert_eq!(
            claimed(Method::GET, "/media/m%20x/a%20b/%C3%A9.mp4"),
            pair("m x", "a b/é.mp4")
        );
    }

    #[test]
    fn signed_urls_and_other_queries_are_claimed_but_downloads_are_not() {
        for uri in [
            "/media/m/a.mp4?exp=1&sig=x",
            "/media/m/a.mp4?exp=1&sig=x&pfx=1",
            "/media/m/a.mp4?",
            "/media/m/a.mp4?t=12345",
            "/media/m/a.mp4?%ZZ=%FF",
        ] {
            assert!(claimed(Method::GET, uri).is_some(), "{uri}");
        }
    }

    #[test]
    fn everything_else_is_left_to_the_router() {
        for (method, uri) in [
            (Method::PUT, "/media/m/a.mp4"),
            (Method::DELETE, "/media/m/a.mp4"),
            (Method::OPTIONS, "/media/m/a.mp4"),
            (Method::GET, "/media/m/a.mp4?download"),
            (Method::GET, "/media/m/a.mp4?exp=1&download=x.mp4&sig=y"),
            (Method::GET, "/media/m/a.mp4?down%6Coad=1"),
            (Method::GET, "/media/m"),
            (Method::GET, "/media/m/"),
            (Method::GET, "/media//a.mp4"),
            (Method::GET, "/media/m/%FF.mp4"),
            (Method::GET, "/watch"),
            (Method::GET, "/mediax/m/a.mp4"),
            (Method::GET, "/api/v1/buckets/m/objects/a.mp4"),
        ] {
            assert_eq!(claimed(method.clone(), uri), None, "{method} {uri}");
        }
    }
}
