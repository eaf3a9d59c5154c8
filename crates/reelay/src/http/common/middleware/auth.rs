//! The authorization layer: reads what a request presents — its `Authorization` header, a
//! signed URL's `exp`/`sig`/`pfx`, the bucket a read is about — asks [`Auth::decide`] against
//! the route's requirement ([`routes::requirement`]), and gives the [`Principal`] (which the
//! request pipeline, `http/common/pipeline.rs`, keeps) or the refusal. Routes authenticated by their handlers
//! (ingest, the edge protocol) and public routes without credentials pass straight through.

use std::sync::Arc;

use axum::response::{IntoResponse, Response};
use http::{HeaderMap, HeaderValue, Uri, header};

use crate::auth::{Auth, Credentials, Need, Principal, SignedQuery};
use crate::http::common::error::ApiError;
use crate::http::common::middleware::site;
use crate::http::common::routes;
use crate::http::common::state::AppState;

/// The value of query parameter `name`.
pub(crate) fn query_param(uri: &Uri, name: &str) -> Option<String> {
    let query = uri.query()?;
    url::form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// The id of the API token in `Authorization: Bearer rly_…`, if one is there.
pub(crate) fn bearer_id(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let token = crate::auth::token::parse_token(value.strip_prefix("Bearer ")?.trim())?;
    Some(token.id.to_owned())
}

/// A bearer token from `Authorization: Bearer …` or else a `token` query parameter.
pub(crate) fn presented_token(headers: &HeaderMap, query: Option<&str>) -> Option<String> {
    let from_header = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(|t| t.trim().to_owned());
    from_header.or_else(|| {
        url::form_urlencoded::parse(query?.as_bytes())
            .find(|(k, _)| k == "token")
            .map(|(_, v)| v.into_owned())
    })
}

/// The bucket a read request is about, for public-bucket checks.
fn bucket_of(route: &str, uri: &Uri) -> Option<String> {
    let index = match route {
        routes::MEDIA => 2,
        routes::OBJECTS | routes::OBJECT => 4,
        routes::WATCH => return query_param(uri, "bucket"),
        _ => return None,
    };
    let raw = uri.path().split('/').nth(index)?;
    percent_encoding::percent_decode_str(raw)
        .decode_utf8()
        .ok()
        .map(|b| b.into_owned())
}

fn signed_query(uri: &Uri) -> Option<SignedQuery> {
    let path = percent_encoding::percent_decode_str(uri.path())
        .decode_utf8()
        .ok()?;
    Some(SignedQuery {
        path: path.into_owned(),
        exp: query_param(uri, "exp"),
        sig: query_param(uri, "sig"),
        pfx: query_param(uri, "pfx"),
        kid: query_param(uri, "kid"),
        by: query_param(uri, "by"),
    })
}

/// The live stream or recording a credential-less read is about, when its being public could
/// let the read through: asked only for live and recording routes, and only when nothing else
/// would (no credential, no signature, not an open node). `(name, is_recording)`.
fn stream_of(state: &AppState, route: &str, uri: &Uri, need: Need) -> Option<(String, bool)> {
    state.live.as_ref()?;
    if need != Need::Read || state.auth.maybe_open() || query_param(uri, "sig").is_some() {
        return None;
    }
    // Which path segment names the source (or recording), by route.
    let (index, recording) = match route {
        routes::LIVE | routes::LIVE_RENDITION => (2, false),
        routes::RECORDING_FILE | routes::RECORDING_RENDITION => (2, true),
        routes::LIVEMIX_VOD_LIVE => (4, false),
        routes::LIVEMIX_VOD_RECORDING => (4, true),
        _ => return None,
    };
    let raw = uri.path().split('/').nth(index)?;
    let name = percent_encoding::percent_decode_str(raw)
        .decode_utf8()
        .ok()?;
    Some((name.into_owned(), recording))
}

/// Whether the live stream or recording [`stream_of`] names is public. (The live handlers read
/// the same source again: a row read within the last second, `Lookup::Viewing`.)
async fn public_stream(state: &AppState, (name, recording): (String, bool)) -> bool {
    let Some(live) = state.live.as_ref() else {
        return false;
    };
    if recording {
        live.recording_is_public(&name).await
    } else {
        live.source_is_public(&name).await
    }
}

/// Who a request of `method` for `uri` with `headers`, on `route` (its template), acts as;
/// `None` for routes whose handlers authenticate (ingest, the edge protocol) and public routes
/// without credentials; `Err` is the refusal to send. Asked by the request pipeline
/// (`http/common/pipeline.rs`) for every request, whichever door it came in by.
///
/// First, for every request: a `Host` outside `[server] hosts` is 421, and a state change a
/// browser says another site's page sent, without `Authorization`, is 403 ([`site`]).
///
/// It runs on every request, so it computes only what the decision can use: the signature
/// query only when the query carries `sig=`, the bucket only when some bucket is public.
pub(crate) async fn authorize(
    state: &AppState,
    route: &str,
    method: &http::Method,
    uri: &Uri,
    headers: &HeaderMap,
) -> Result<Option<Principal>, Response> {
    let auth: &Arc<Auth> = &state.auth;
    let host = site::host(uri, headers);
    if !auth.hosts.answers(host) {
        return Err(ApiError::misdirected().into_response());
    }
    let need = routes::requirement(method, route);
    let authorization = headers.get(header::AUTHORIZATION);
    if authorization.is_none()
        && site::changes_state(method)
        && site::cross_site(headers, host, &state.limits.cors_origins)
    {
        return Err(ApiError::forbidden(
            "a state change sent by another site's page needs a token",
        )
        .into_response());
    }
    if need == Need::Ingest {
        // The handler checks the source's token; it needs to know whether none is needed.
        let open = authorization.is_none() && auth.open_to(host, site::proxied(headers)).await;
        return Ok(open.then_some(Principal::Open));
    }
    if need == Need::Edge || (need == Need::Public && authorization.is_none()) {
        return Ok(None);
    }
    let has_signature = uri.query().is_some_and(|q| q.contains("sig="));
    let wants_bucket = !auth.public_buckets.is_empty();
    let public_stream = match authorization {
        None => match stream_of(state, route, uri, need) {
            // Boxed for the same reason as a token lookup (`Auth::decide`): a rare, large
            // future.
            Some(stream) => Box::pin(public_stream(state, stream)).await,
            None => false,
        },
        Some(_) => false,
    };
    let creds = Credentials {
        authorization: authorization.map(HeaderValue::as_bytes),
        signed: has_signature.then(|| signed_query(uri)).flatten(),
        signable: routes::signable(route),
        bucket: wants_bucket.then(|| bucket_of(route, uri)).flatten(),
        public_stream,
        host,
        proxied: site::proxied(headers),
    };
    match auth.decide(need, &creds).await {
        Ok(principal) => Ok(Some(principal)),
        Err(denied) => Err(ApiError::from(denied).into_response()),
    }
}
