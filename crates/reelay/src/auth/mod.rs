//! Authorization: who may do what.
//!
//! # Security model
//!
//! - Every route's requirement is in one table, [`requirement`]: `Public` (health, metrics, UI,
//!   API docs), `Read` (play, list, sign), `Write` (upload, delete objects) or `Admin` (buckets,
//!   tokens). A route missing from the table needs `Admin`: forgetting a route fails closed.
//! - Credentials, in order: a bearer token (`Authorization: Bearer rly_…`; roles
//!   read < write < admin); a signed URL (`?exp&sig[&pfx]`, read-only, media routes only, exact
//!   path or `/`-terminated prefix); then, for `Read` on a bucket marked `public`, nobody.
//!   A presented credential that is wrong is refused (401/403) even where none is needed.
//! - Open mode: a node bound to a loopback address with no token configured or created lets
//!   everyone act as admin, for local use. Bound to anything else it never runs open: with no
//!   token it creates an admin token at first start and prints it once (`cli.rs`).
//! - Tokens are stored as SHA-256 hashes only; signatures are HMAC-SHA256 with a per-deployment
//!   key; comparisons are constant-time.

pub mod sign;
pub mod store;
pub mod token;

use std::collections::HashSet;
use std::sync::Arc;

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, Method, StatusCode, Uri, header};

use crate::error::ApiError;
use sign::SignatureCheck;
pub use store::TokenStore;
pub use token::Role;

/// What a route requires.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Need {
    Public,
    /// Authenticated by the handler with the source's own ingest token.
    Ingest,
    /// Authenticated by the handler with the edge node's own token.
    Edge,
    Read,
    Write,
    Admin,
}

impl Need {
    fn role(self) -> Option<Role> {
        match self {
            Self::Public | Self::Ingest | Self::Edge => None,
            Self::Read => Some(Role::Read),
            Self::Write => Some(Role::Write),
            Self::Admin => Some(Role::Admin),
        }
    }
}

/// The media route, the only one signatures apply to.
pub const MEDIA_ROUTE: &str = "/media/{bucket}/{*key}";
/// What every path under [`MEDIA_ROUTE`] starts with.
pub const MEDIA_ROUTE_PREFIX: &str = "/media/";
/// Live playlists and segments; signatures apply here too.
pub const LIVE_ROUTE: &str = "/live/{source}/{file}";
/// Recorded playlists and segments; signatures apply here too.
pub const RECORDING_ROUTE: &str = "/recordings/{id}/{file}";
/// Path prefixes a signed URL may cover.
pub const SIGNABLE_PREFIXES: [&str; 3] = [MEDIA_ROUTE_PREFIX, "/live/", "/recordings/"];
const OBJECTS_ROUTE: &str = "/api/v1/buckets/{bucket}/objects";
const OBJECT_ROUTE: &str = "/api/v1/buckets/{bucket}/objects/{*key}";

/// The requirement of `method` on the matched `route` (the router's template).
pub fn requirement(method: &Method, route: &str) -> Need {
    let read_method = method == Method::GET || method == Method::HEAD;
    if method == Method::OPTIONS {
        // CORS preflights are answered before this layer; any other OPTIONS gets a 405.
        return Need::Public;
    }
    match route {
        "/healthz" | "/readyz" | "/metrics" | "/" | "/ui/{*file}" => Need::Public,
        "/openapi.json" => Need::Public,
        r if r == "/docs" || r.starts_with("/docs/") => Need::Public,
        // Unknown paths: nothing to protect, the answer is 404.
        "unmatched" => Need::Public,
        MEDIA_ROUTE | "/watch" | LIVE_ROUTE | RECORDING_ROUTE if read_method => Need::Read,
        "/api/v1/recordings" | "/api/v1/recordings/{id}" if read_method => Need::Read,
        "/api/v1/sources/{source}/recordings" | "/api/v1/recordings/{id}/stop"
            if method == Method::POST =>
        {
            Need::Write
        }
        "/api/v1/recordings/{id}" if method == Method::DELETE => Need::Write,
        "/ingest/{source}/{file}" | "/v1/playlist" => Need::Ingest,
        r if r.starts_with("/api/v1/edge/") => Need::Edge,
        "/api/v1/edges" | "/api/v1/edges/{edge}" if read_method => Need::Read,
        "/api/v1/sources" | "/api/v1/sources/{source}" if read_method => Need::Read,
        "/api/v1/sources/{source}/streaming" if method == Method::PUT => Need::Write,
        "/api/v1/buckets" | OBJECTS_ROUTE | OBJECT_ROUTE if read_method => Need::Read,
        "/api/v1/sign" if method == Method::POST => Need::Read,
        OBJECT_ROUTE if method == Method::PUT || method == Method::DELETE => Need::Write,
        _ => Need::Admin,
    }
}

/// Who is acting, as established by [`authorize`] (in the request's extensions).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Principal {
    /// A loopback node with no tokens: anyone.
    Open,
    Token(Role),
    /// A valid signed URL.
    Signed,
    /// Reading a public bucket.
    Anonymous,
}

/// Shared authorization state.
#[derive(Debug)]
pub struct Auth {
    pub tokens: TokenStore,
    pub signing_key: Vec<u8>,
    /// Bound to a loopback address (open mode possible).
    pub loopback: bool,
    pub public_buckets: HashSet<String>,
}

fn unauthorized(message: &str) -> Response {
    let mut resp = ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", message).into_response();
    resp.headers_mut()
        .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    resp
}

fn forbidden(message: &str) -> Response {
    ApiError::new(StatusCode::FORBIDDEN, "forbidden", message).into_response()
}

/// The bucket a read request is about, for public-bucket checks.
fn bucket_of(route: &str, uri: &Uri) -> Option<String> {
    let path = uri.path();
    match route {
        MEDIA_ROUTE | OBJECTS_ROUTE | OBJECT_ROUTE => {
            let index = if route == MEDIA_ROUTE { 2 } else { 4 };
            let raw = path.split('/').nth(index)?;
            Some(
                percent_encoding::percent_decode_str(raw)
                    .decode_utf8()
                    .ok()?
                    .into_owned(),
            )
        }
        "/watch" => query_param(uri, "bucket"),
        _ => None,
    }
}

fn query_param(uri: &Uri, name: &str) -> Option<String> {
    let query = uri.query()?;
    url::form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// Checks a signed URL on `req`; `None` when it carries no signature.
fn signed_access(
    auth: &Auth,
    route: &str,
    need: Need,
    uri: &Uri,
) -> Option<Result<Principal, Response>> {
    let path = percent_encoding::percent_decode_str(uri.path())
        .decode_utf8()
        .ok()?;
    let (exp, sig, pfx) = (
        query_param(uri, "exp"),
        query_param(uri, "sig"),
        query_param(uri, "pfx"),
    );
    let check = sign::verify(
        &auth.signing_key,
        &path,
        exp.as_deref(),
        sig.as_deref(),
        pfx.as_deref(),
        crate::db::now_unix().try_into().unwrap_or(0),
    );
    Some(match check {
        SignatureCheck::Absent => return None,
        SignatureCheck::Valid
            if need == Need::Read
                && [MEDIA_ROUTE, LIVE_ROUTE, RECORDING_ROUTE].contains(&route) =>
        {
            Ok(Principal::Signed)
        }
        SignatureCheck::Valid => Err(forbidden("a signed URL only grants playback of media")),
        SignatureCheck::Expired => Err(forbidden("the signed URL has expired")),
        SignatureCheck::Invalid => Err(forbidden("the signature is not valid")),
        SignatureCheck::OutOfScope => Err(forbidden("the signature does not cover this path")),
    })
}

async fn decide(
    auth: &Auth,
    route: &str,
    need: Need,
    uri: &Uri,
    authorization: Option<&HeaderValue>,
) -> Result<Principal, Response> {
    if let Some(value) = authorization {
        let presented = value
            .to_str()
            .ok()
            .and_then(|v| v.strip_prefix("Bearer "))
            .and_then(|t| token::parse_token(t.trim()));
        let Some(presented) = presented else {
            return Err(unauthorized(
                "the Authorization header is not a reelay bearer token",
            ));
        };
        let role = auth.tokens.verify(&presented).await.map_err(|e| {
            tracing::error!(error = %e, "token lookup failed");
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "auth_unavailable",
                "cannot check tokens right now",
            )
            .into_response()
        })?;
        return match (role, need.role()) {
            (None, _) => Err(unauthorized("unknown or revoked token")),
            (Some(role), Some(required)) if role < required => Err(forbidden(&format!(
                "a {role} token cannot do this; it needs {required}"
            ))),
            (Some(role), _) => Ok(Principal::Token(role)),
        };
    }
    if let Some(result) = signed_access(auth, route, need, uri) {
        return result;
    }
    if auth.loopback && !auth.tokens.any_tokens() {
        return Ok(Principal::Open);
    }
    if need == Need::Read && bucket_of(route, uri).is_some_and(|b| auth.public_buckets.contains(&b))
    {
        return Ok(Principal::Anonymous);
    }
    Err(unauthorized(
        "authentication required: a bearer token or a signed URL",
    ))
}

/// The middleware: establishes the [`Principal`] or refuses the request.
pub async fn authorize(State(auth): State<Arc<Auth>>, mut req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", MatchedPath::as_str)
        .to_owned();
    let need = requirement(req.method(), &route);
    if need == Need::Ingest
        || need == Need::Edge
        || (need == Need::Public && !req.headers().contains_key(header::AUTHORIZATION))
    {
        return next.run(req).await;
    }
    let uri = req.uri().clone();
    let authorization = req.headers().get(header::AUTHORIZATION).cloned();
    match decide(&auth, &route, need, &uri, authorization.as_ref()).await {
        Ok(principal) => {
            req.extensions_mut().insert(principal);
            next.run(req).await
        }
        Err(refusal) => refusal,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_changing_methods_never_need_less_than_write() {
        let routes = [
            MEDIA_ROUTE,
            "/watch",
            "/api/v1/buckets",
            OBJECTS_ROUTE,
            OBJECT_ROUTE,
            "/api/v1/tokens",
            "/api/v1/sources",
            "/api/v1/sources/{source}",
            "/api/v1/sources/{source}/streaming",
            LIVE_ROUTE,
            "/x",
        ];
        for route in routes {
            for method in [Method::POST, Method::PUT, Method::DELETE, Method::PATCH] {
                let need = requirement(&method, route);
                assert!(need >= Need::Write, "{method} {route} needs only {need:?}");
            }
        }
        // Ingest is the one exception: its handler checks the source's own ingest token.
        assert_eq!(
            requirement(&Method::PUT, "/ingest/{source}/{file}"),
            Need::Ingest
        );
    }
}
