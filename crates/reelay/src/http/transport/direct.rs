//! The direct path: playback reads — `GET|HEAD /media/{bucket}/{*key}` and a live rendition's
//! playlists, parts and segments, `GET|HEAD /live/{source}/{rendition}/{file}` — answered
//! beside the router, not through it.
//!
//! Why: playback is almost every request a media server sees, and at small ranges the router's
//! own steps — matching, a cloned route service and a boxed future per layer, the handler's
//! extractors copying the header map, the body boxed twice — cost as much as the answer
//! (`bench/README.md`, issue 14). Low-Latency HLS viewers reload a playlist and fetch a part
//! several times a second each, and a publication answers every held reload at once (issue 16).
//! The direct path takes the same steps as plain calls.
//!
//! What it claims, decided from the request line alone ([`claim`]): GET or HEAD, and either a
//! path under `/media/` with a non-empty bucket and key that percent-decode to UTF-8 and a
//! query string, if any, without `download` (signed URLs' `exp`/`sig`/`pfx` are the
//! authorization's to read, anything else is ignored as the router ignores it; `?download` goes
//! through the router), or a path of exactly three non-empty segments under `/live/` that
//! percent-decode to UTF-8, with any query (the live handler reads `_HLS_*` and the signature).
//! Anything else, and every request on a node with CORS origins configured (the CORS layer adds
//! headers to every answer), goes to the router unchanged.
//!
//! What it keeps: every step of the request pipeline (`pipeline.rs`, which the router's layer
//! calls too) — the exact head limit, the authorization for the route with its principal, the
//! request id and log tag, per-route metrics and metered body, the panic guard, the caching
//! scope on the way out — and the answer itself ([`media::answer_object`]: the RFC 9110 evaluation, headers, budgeted
//! or zero-copy bodies; [`live::answer_rendition`]). The tests compare its answers with the
//! router's, header for header.

use std::borrow::Cow;
use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::response::{IntoResponse, Response};
use http::Method;
use hyper::body::Incoming;
use tower::ServiceExt;

use crate::http::common::pipeline::{self, Observation};
use crate::http::common::reply::{MediaBody, ReplyBody};
use crate::http::common::state::AppState;
use crate::http::native::live::{self, RenditionAsk};
use crate::http::{common::routes, native::media};
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
    pub(crate) fn connection(&self, sink: Option<FileSink>) -> Connection {
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

/// The direct path's shared state: the handlers' state and its routes' meters.
#[derive(Debug)]
struct Direct {
    state: AppState,
    media: Arc<RouteMeters>,
    rendition: Arc<RouteMeters>,
}

impl Direct {
    fn new(state: AppState) -> Self {
        let media = state.metrics.http.route(routes::MEDIA);
        let rendition = state.metrics.http.route(routes::LIVE_RENDITION);
        Self {
            state,
            media,
            rendition,
        }
    }

    /// Answers `req`, which it claimed as `claimed` ([`claim`]), through the request
    /// pipeline like any other request.
    async fn serve(
        &self,
        req: &http::Request<Incoming>,
        claimed: Claim<'_>,
        sink: Option<FileSink>,
    ) -> http::Response<ReplyBody> {
        let (route, meters) = match claimed {
            Claim::Rendition { .. } => (routes::LIVE_RENDITION, self.rendition.clone()),
            Claim::Media { .. } => (routes::MEDIA, self.media.clone()),
        };
        let mut observation = Observation::begin(meters, req);
        // Authorization is the pipeline's; the answer needs no principal of its own.
        let passage = pipeline::pass(&self.state, route, req, |req, _| async move {
            let request = media::Request::new(req.method(), req.headers(), sink.as_ref());
            self.answer_claimed(claimed, req, request).await
        });
        match observation.run(passage).await {
            Ok(Answered::Media(response)) => observation.finish(response).map(ReplyBody::Direct),
            Ok(Answered::Other(response)) | Err(response) => observation
                .finish(response)
                .map(|body| ReplyBody::Routed(Body::new(body))),
        }
    }

    async fn answer_claimed(
        &self,
        claimed: Claim<'_>,
        req: &http::Request<Incoming>,
        request: media::Request<'_>,
    ) -> Result<Answered, Response> {
        let state = &self.state;
        match claimed {
            Claim::Media { bucket, key } => {
                media::answer_object(state, &request, &bucket, &key, None)
                    .await
                    .map(Answered::Media)
                    .map_err(IntoResponse::into_response)
            }
            Claim::Rendition {
                source,
                rendition,
                file,
            } => {
                let ask = RenditionAsk {
                    source: &source,
                    rendition: &rendition,
                    file: &file,
                    query: req.uri().query(),
                    request,
                };
                live::answer_rendition(state, &ask)
                    .await
                    .map(Answered::Other)
                    .map_err(IntoResponse::into_response)
            }
        }
    }
}

/// A direct answer: a media body, or any other.
enum Answered {
    Media(http::Response<MediaBody>),
    Other(Response),
}

impl pipeline::Answer for Answered {
    fn headers_mut(&mut self) -> &mut http::HeaderMap {
        match self {
            Self::Media(response) => response.headers_mut(),
            Self::Other(response) => response.headers_mut(),
        }
    }
}

/// What a request the direct path answers names, decoded (borrowed from the URI when there is
/// nothing to decode).
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Claim<'a> {
    Media {
        bucket: Cow<'a, str>,
        key: Cow<'a, str>,
    },
    Rendition {
        source: Cow<'a, str>,
        rendition: Cow<'a, str>,
        file: Cow<'a, str>,
    },
}

/// What a request names when the direct path answers it, or `None` when it leaves the request
/// to the router (see the module docs).
pub(crate) fn claim<'a>(method: &Method, uri: &'a http::Uri) -> Option<Claim<'a>> {
    if method != Method::GET && method != Method::HEAD {
        return None;
    }
    let decode = |s: &'a str| {
        let decoded = percent_encoding::percent_decode_str(s).decode_utf8().ok()?;
        (!decoded.is_empty()).then_some(decoded)
    };
    if let Some(rest) = uri.path().strip_prefix(routes::LIVE_PREFIX) {
        let mut parts = rest.split('/');
        let (source, rendition, file) = (parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some() {
            return None;
        }
        return Some(Claim::Rendition {
            source: decode(source)?,
            rendition: decode(rendition)?,
            file: decode(file)?,
        });
    }
    if let Some(query) = uri.query()
        && url::form_urlencoded::parse(query.as_bytes()).any(|(k, _)| k == "download")
    {
        return None;
    }
    let rest = uri.path().strip_prefix(routes::MEDIA_PREFIX)?;
    let (bucket, key) = rest.split_once('/')?;
    Some(Claim::Media {
        bucket: decode(bucket)?,
        key: decode(key)?,
    })
}

/// One connection's service (see [`Front`]).
#[derive(Debug, Clone)]
pub(crate) struct Connection {
    front: Front,
    sink: Option<FileSink>,
}

type Answer = Pin<Box<dyn Future<Output = Result<http::Response<ReplyBody>, Infallible>> + Send>>;

impl hyper::service::Service<http::Request<Incoming>> for Connection {
    type Response = http::Response<ReplyBody>;
    type Error = Infallible;
    type Future = Answer;

    fn call(&self, req: http::Request<Incoming>) -> Answer {
        let (front, sink) = (self.front.clone(), self.sink.clone());
        Box::pin(async move { Ok(front.serve(req, sink).await) })
    }
}

impl Front {
    /// `req` answered by the direct path when it claims it ([`claim`], once), else by the
    /// router.
    async fn serve(
        self,
        mut req: http::Request<Incoming>,
        sink: Option<FileSink>,
    ) -> http::Response<ReplyBody> {
        if let Some(direct) = &self.direct
            && let Some(claimed) = claim(req.method(), req.uri())
        {
            return direct.serve(&req, claimed, sink).await;
        }
        if let Some(sink) = sink {
            req.extensions_mut().insert(sink);
        }
        match self.router.oneshot(req).await {
            Ok(response) => response.map(ReplyBody::Routed),
            Err(never) => match never {},
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claimed(method: Method, uri: &str) -> Option<(String, String)> {
        let uri: http::Uri = uri.parse().expect("uri");
        match claim(&method, &uri)? {
            Claim::Media { bucket, key } => Some((bucket.into_owned(), key.into_owned())),
            Claim::Rendition { .. } => None,
        }
    }

    fn rendition(uri: &str) -> Option<[String; 3]> {
        let uri: http::Uri = uri.parse().expect("uri");
        match claim(&Method::GET, &uri)? {
            Claim::Rendition {
                source,
                rendition,
                file,
            } => Some([source, rendition, file].map(Cow::into_owned)),
            Claim::Media { .. } => None,
        }
    }

    #[test]
    fn live_rendition_reads_are_claimed_decoded_with_any_query_and_nothing_else_under_live() {
        let three = |a: &str, b: &str, c: &str| Some([a, b, c].map(str::to_owned));
        assert_eq!(
            rendition("/live/s/v/index.m3u8"),
            three("s", "v", "index.m3u8")
        );
        assert_eq!(
            rendition("/live/s/v/index.m3u8?_HLS_msn=3&_HLS_part=1&_HLS_skip=YES"),
            three("s", "v", "index.m3u8")
        );
        assert_eq!(
            rendition("/live/a%20b/v/p1-2.m4s?download"),
            three("a b", "v", "p1-2.m4s")
        );
        for uri in [
            "/live/s/index.m3u8",
            "/live/s/v/",
            "/live/s//x.ts",
            "/live//v/x.ts",
            "/live/s/v/x/y.ts",
            "/live/s/v/%FF.ts",
            "/lives/s/v/x.ts",
        ] {
            assert_eq!(rendition(uri), None, "{uri}");
        }
        let uri: http::Uri = "/live/s/v/index.m3u8".parse().expect("uri");
        assert_eq!(claim(&Method::DELETE, &uri), None);
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
