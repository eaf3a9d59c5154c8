//! Authorization: who may do what.
//!
//! # Security model
//!
//! - Every route's requirement is declared with the route (`http/wiring/router.rs`; asked through
//!   `http::common::routes::requirement`): `Public` (health, metrics, UI, API docs), `Read` (play,
//!   list, sign), `Write` (upload, delete objects) or `Admin` (buckets, tokens). A route nothing
//!   declares needs `Admin`: forgetting a route fails closed. This module decides from what a request presents ([`Credentials`]);
//!   the HTTP layer reads them off the request and turns a [`Denied`] into 401/403/503.
//! - Credentials, in order: a bearer token (`Authorization: Bearer rly_…`; roles
//!   read < write < admin); a signed URL (`?exp&kid&by&sig[&pfx]`, read-only, media routes
//!   only, exact path or `/`-terminated prefix, valid while the token that signed it is —
//!   [`sign`]); then, for `Read` on a bucket marked `public`, nobody.
//!   A presented credential that is wrong is refused (401/403) even where none is needed.
//! - Open mode: a node bound to a loopback address on which no token was ever configured or
//!   created (on the shared database: [`TokenStore::closed`]) lets a *local* request act as
//!   admin, for local use: one whose `Host` names this machine or a `[server] hosts` entry and
//!   that no proxy forwarded ([`access`]). Anything else needs credentials as on a closed node.
//!   Revoking the last token does not open the node again; `reelay serve --reopen` does.
//!   Bound to anything else a node never runs open: with no token it creates an admin token at
//!   first start and prints it once (`node.rs`).
//! - Encoders authenticate with their source's own ingest token ([`Auth::check_ingest`]), edge
//!   nodes with their edge token (`relay::control`); neither grants anything else.
//! - Tokens are stored as SHA-256 hashes only; signatures are HMAC-SHA256 with a per-deployment
//!   key named in the URL (a rotation keeps the previous key verifying); comparisons are
//!   constant-time.

pub mod access;
pub mod sign;
pub mod store;
pub(crate) mod token;

use std::borrow::Cow;
use std::collections::HashSet;

use sign::{OPEN_SIGNER, SignatureCheck, SigningKeys};
pub use store::TokenStore;
pub use token::Role;

/// What a route requires.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Need {
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
    /// Every requirement, by the name a route's declaration gives it (the OpenAPI document's
    /// security scope).
    pub(crate) const SCOPES: [(&'static str, Need); 6] = [
        ("public", Self::Public),
        ("ingest", Self::Ingest),
        ("edge", Self::Edge),
        ("read", Self::Read),
        ("write", Self::Write),
        ("admin", Self::Admin),
    ];

    /// The requirement a scope names.
    pub(crate) fn from_scope(scope: &str) -> Option<Self> {
        Self::SCOPES
            .iter()
            .find(|(name, _)| *name == scope)
            .map(|(_, need)| *need)
    }

    fn role(self) -> Option<Role> {
        match self {
            Self::Public | Self::Ingest | Self::Edge => None,
            Self::Read => Some(Role::Read),
            Self::Write => Some(Role::Write),
            Self::Admin => Some(Role::Admin),
        }
    }
}

/// Who is acting, as established by [`Auth::decide`] (put in the request's extensions).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Principal {
    /// A local request to a loopback node that never had tokens.
    Open,
    Token(Role),
    /// A valid signed URL.
    Signed,
    /// Reading a public bucket.
    Anonymous,
}

/// Why a request may not go on: unauthenticated (401), not allowed (403), or the token store
/// could not be asked (503). Messages are for the client.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum Denied {
    #[error("{0}")]
    Unauthenticated(Cow<'static, str>),
    #[error("{0}")]
    Forbidden(Cow<'static, str>),
    #[error("cannot check tokens right now")]
    Unavailable,
}

/// A signed URL's parts, as presented.
#[derive(Debug, Clone, Default)]
pub(crate) struct SignedQuery {
    /// The request's decoded path.
    pub(crate) path: String,
    pub(crate) exp: Option<String>,
    pub(crate) sig: Option<String>,
    pub(crate) pfx: Option<String>,
    pub(crate) kid: Option<String>,
    pub(crate) by: Option<String>,
}

/// What a request presents, read off it by the HTTP layer.
#[derive(Debug, Clone, Default)]
pub(crate) struct Credentials<'a> {
    /// The `Authorization` header's value, as bytes.
    pub(crate) authorization: Option<&'a [u8]>,
    /// The signature query, when the path could be decoded.
    pub(crate) signed: Option<SignedQuery>,
    /// Whether the route is one signatures apply to (media, live, recordings).
    pub(crate) signable: bool,
    /// The bucket a read is about, for public-bucket checks.
    pub(crate) bucket: Option<String>,
    /// The live stream or recording a read is about is public (the live layer said so).
    pub(crate) public_stream: bool,
    /// The request's `Host` (or its URI's authority).
    pub(crate) host: Option<&'a str>,
    /// The request carries a header a proxy adds ([`access::PROXY_HEADERS`]).
    pub(crate) proxied: bool,
}

/// Shared authorization state.
#[derive(Debug)]
pub struct Auth {
    pub tokens: TokenStore,
    /// The keys of signed URLs (one signs, a rotation's previous one still verifies).
    pub signing: SigningKeys,
    /// Bound to a loopback address (open mode possible).
    pub loopback: bool,
    pub public_buckets: HashSet<String>,
    /// `[server] hosts`: the names besides loopback's a request may give.
    pub hosts: access::Hosts,
}

fn forbidden(message: impl Into<Cow<'static, str>>) -> Denied {
    Denied::Forbidden(message.into())
}

impl Auth {
    /// Whether the node itself is open: bound to loopback and no token ever made.
    pub async fn node_open(&self) -> bool {
        self.loopback && !self.tokens.closed().await
    }

    /// Whether the node may be open (no database question): false once it knows it is closed.
    pub(crate) fn maybe_open(&self) -> bool {
        self.loopback && !self.tokens.known_closed()
    }

    /// Whether a request naming `host`, `proxied` or not, acts as admin without credentials:
    /// the node is open and the request is local.
    pub(crate) async fn open_to(&self, host: Option<&str>, proxied: bool) -> bool {
        self.maybe_open() && !proxied && self.hosts.admits(host) && self.node_open().await
    }

    /// Decides whether a request presenting `creds` may do what needs `need`.
    pub(crate) async fn decide(
        &self,
        need: Need,
        creds: &Credentials<'_>,
    ) -> Result<Principal, Denied> {
        if let Some(value) = creds.authorization {
            // Boxed: a token lookup's future is large, and every request's future (most carry
            // no token) would otherwise reserve room for it.
            return Box::pin(self.bearer(need, value)).await;
        }
        if let Some(result) = Box::pin(self.signed(need, creds)).await {
            return result;
        }
        if self.open_to(creds.host, creds.proxied).await {
            return Ok(Principal::Open);
        }
        let public_bucket = creds
            .bucket
            .as_ref()
            .is_some_and(|b| self.public_buckets.contains(b));
        if need == Need::Read && (public_bucket || creds.public_stream) {
            return Ok(Principal::Anonymous);
        }
        Err(Denied::Unauthenticated(
            "authentication required: a bearer token or a signed URL".into(),
        ))
    }

    async fn bearer(&self, need: Need, value: &[u8]) -> Result<Principal, Denied> {
        let presented = std::str::from_utf8(value)
            .ok()
            .and_then(|v| v.strip_prefix("Bearer "))
            .and_then(|t| token::parse_token(t.trim()));
        let Some(presented) = presented else {
            return Err(Denied::Unauthenticated(
                "the Authorization header is not a reelay bearer token".into(),
            ));
        };
        let role = self.tokens.verify(&presented).await.map_err(|e| {
            tracing::error!(error = %e, "token lookup failed");
            Denied::Unavailable
        })?;
        match (role, need.role()) {
            (None, _) => Err(Denied::Unauthenticated("unknown or revoked token".into())),
            (Some(role), Some(required)) if role < required => Err(forbidden(format!(
                "a {role} token cannot do this; it needs {required}"
            ))),
            (Some(role), _) => Ok(Principal::Token(role)),
        }
    }

    /// Checks a signed URL; `None` when the request carries no signature. A valid one still
    /// needs its signer: a token not revoked since (cached as tokens are, [`store::CACHE_TTL`]),
    /// or, for [`OPEN_SIGNER`], a node that is still open.
    async fn signed(
        &self,
        need: Need,
        creds: &Credentials<'_>,
    ) -> Option<Result<Principal, Denied>> {
        let q = creds.signed.as_ref()?;
        let now = crate::db::now_unix().try_into().unwrap_or(0);
        let presented = sign::Presented {
            exp: q.exp.as_deref(),
            sig: q.sig.as_deref(),
            pfx: q.pfx.as_deref(),
            kid: q.kid.as_deref(),
            by: q.by.as_deref(),
        };
        Some(
            match sign::verify(&self.signing, &q.path, &presented, now) {
                SignatureCheck::Absent => return None,
                SignatureCheck::Valid if need == Need::Read && creds.signable => {
                    self.signer_stands(q.by.as_deref().unwrap_or_default())
                        .await
                }
                SignatureCheck::Valid => {
                    Err(forbidden("a signed URL only grants playback of media"))
                }
                SignatureCheck::Expired => Err(forbidden("the signed URL has expired")),
                SignatureCheck::Invalid => Err(forbidden("the signature is not valid")),
                SignatureCheck::OutOfScope => {
                    Err(forbidden("the signature does not cover this path"))
                }
            },
        )
    }

    /// Whether the signer `by` of a genuine signature still stands.
    async fn signer_stands(&self, by: &str) -> Result<Principal, Denied> {
        let stands = if by == OPEN_SIGNER {
            Ok(!self.tokens.closed().await)
        } else {
            self.tokens.is_active(by).await
        };
        match stands {
            Ok(true) => Ok(Principal::Signed),
            Ok(false) if by == OPEN_SIGNER => Err(forbidden(
                "this URL was signed while the node was open, and it is closed now",
            )),
            Ok(false) => Err(forbidden("the token that signed this URL was revoked")),
            Err(e) => {
                tracing::error!(error = %e, "token lookup failed");
                Err(Denied::Unavailable)
            }
        }
    }

    /// An encoder pushing to a source: `presented` must be that source's ingest token
    /// (`is_theirs` says whether it is), except for a local push to an open node (`open`, as
    /// [`Auth::open_to`] said), which needs none.
    pub(crate) fn check_ingest(
        presented: Option<&str>,
        open: bool,
        is_theirs: impl FnOnce(&str) -> bool,
    ) -> Result<(), Denied> {
        match presented {
            Some(t) if is_theirs(t) => Ok(()),
            Some(_) => Err(forbidden("not this source's ingest token")),
            None if open => Ok(()),
            None => Err(Denied::Unauthenticated(
                "ingest needs the source's token".into(),
            )),
        }
    }
}
