//! Access: API tokens (admin) and signed playback URLs (read).

use axum::Json;
use axum::extract::{Path, State};
use http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::Role;
use crate::auth::sign::{MAX_EXPIRES_IN, OPEN_SIGNER, signed_query};
use crate::db::now_unix;
use crate::http::common::error::{ApiError, ApiJson};
use crate::http::common::middleware::auth::bearer_id;
use crate::http::common::routes;
use crate::http::common::routes::SIGNABLE_PREFIXES;
use crate::http::common::state::AppState;
use crate::http::native::api::{ErrorBody, rfc3339_unix};

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CreateToken {
    /// A label for people: who or what uses the token.
    pub name: String,
    /// `read`, `write` or `admin`.
    pub(crate) role: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct TokenInfo {
    pub id: String,
    pub name: String,
    pub(crate) role: String,
    /// RFC 3339.
    pub(crate) created_at: Option<String>,
    /// RFC 3339, once revoked.
    pub(crate) revoked_at: Option<String>,
    /// The token itself: present only in the answer that created it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) token: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct TokenList {
    pub(crate) tokens: Vec<TokenInfo>,
}

fn info(row: crate::auth::store::TokenRow, token: Option<String>) -> TokenInfo {
    TokenInfo {
        created_at: rfc3339_unix(row.created_at),
        revoked_at: row.revoked_at.and_then(rfc3339_unix),
        id: row.id,
        name: row.name,
        role: row.role,
        token,
    }
}

/// Create a token (its secret is shown only in this answer).
#[utoipa::path(post, path = routes::TOKENS, tag = "access", request_body = CreateToken,
    responses((status = 201, description = "created", body = TokenInfo), (status = 400, description = "bad request: the message says what", body = ErrorBody),
        (status = 401, description = "credentials missing, unknown or revoked", body = ErrorBody), (status = 403, description = "credentials not allowed to do this", body = ErrorBody)),
    security(("bearer" = ["admin"])))]
pub(crate) async fn create_token(
    State(state): State<AppState>,
    ApiJson(req): ApiJson<CreateToken>,
) -> Result<(StatusCode, Json<TokenInfo>), ApiError> {
    let role = Role::parse(&req.role)
        .ok_or_else(|| ApiError::bad_request("role must be read, write or admin"))?;
    let name = req.name.trim();
    let most = crate::rules::TOKEN_NAME.max_len;
    if name.is_empty() || name.chars().count() > most || name.chars().any(char::is_control) {
        return Err(ApiError::bad_request(
            "name must be 1-200 printable characters",
        ));
    }
    let (row, text) = state.auth.tokens.create(name, role).await?;
    Ok((StatusCode::CREATED, Json(info(row, Some(text)))))
}

/// List tokens (never their secrets).
#[utoipa::path(get, path = routes::TOKENS, tag = "access",
    responses((status = 200, description = "OK", body = TokenList), (status = 401, description = "credentials missing, unknown or revoked", body = ErrorBody)),
    security(("bearer" = ["admin"])))]
pub(crate) async fn list_tokens(
    State(state): State<AppState>,
) -> Result<Json<TokenList>, ApiError> {
    let tokens = state.auth.tokens.list().await?;
    Ok(Json(TokenList {
        tokens: tokens.into_iter().map(|r| info(r, None)).collect(),
    }))
}

/// Revoke a token.
#[utoipa::path(delete, path = routes::TOKEN, tag = "access",
    params(("id" = String, Path)),
    responses((status = 204, description = "done; no body"), (status = 404, description = "no such bucket, object or token", body = ErrorBody)),
    security(("bearer" = ["admin"])))]
pub(crate) async fn revoke_token(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    if state.auth.tokens.revoke(&id).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found(format!("no active token {id:?}")))
    }
}

fn default_expires_in() -> u64 {
    3600
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct SignRequest {
    /// A media path as it appears in URLs, e.g. `/media/movies/trip/day%201.mp4`; with
    /// `prefix`, a folder ending in `/` whose every object the URL may fetch.
    pub(crate) path: String,
    /// Seconds until the URL stops working (default 3600, at most 7 days).
    #[serde(
        default = "default_expires_in",
        deserialize_with = "crate::http::common::json_values::u64"
    )]
    pub(crate) expires_in: u64,
    /// Sign the folder `path` rather than one object.
    #[serde(default)]
    pub(crate) prefix: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct SignedUrl {
    /// Path and query to append to this server's origin; plays in a plain `<video src>`.
    pub(crate) url: String,
    /// RFC 3339.
    pub(crate) expires_at: Option<String>,
}

/// Sign a playback URL for an object or a folder.
#[utoipa::path(post, path = routes::SIGN, tag = "access", request_body = SignRequest,
    responses((status = 200, description = "OK", body = SignedUrl), (status = 400, description = "bad request: the message says what", body = ErrorBody),
        (status = 401, description = "credentials missing, unknown or revoked", body = ErrorBody)),
    security(("bearer" = ["read"])))]
pub(crate) async fn sign(
    State(state): State<AppState>,
    headers: http::HeaderMap,
    ApiJson(req): ApiJson<SignRequest>,
) -> Result<Json<SignedUrl>, ApiError> {
    // The signer: the token that asked (authorized already), else an open node.
    let by = bearer_id(&headers).unwrap_or_else(|| OPEN_SIGNER.to_owned());
    if req.expires_in == 0 || req.expires_in > MAX_EXPIRES_IN {
        return Err(ApiError::bad_request(format!(
            "expires_in must be 1-{MAX_EXPIRES_IN} seconds"
        )));
    }
    let valid_path = req.path.len() <= crate::rules::SIGNED_PATH.max_len
        && SIGNABLE_PREFIXES.iter().any(|p| req.path.starts_with(p))
        && !req.path.contains(['?', '#'])
        && req.path.parse::<http::uri::PathAndQuery>().is_ok();
    if !valid_path {
        return Err(ApiError::bad_request(
            "path must start with /media/, /live/ or /recordings/",
        ));
    }
    let decoded = percent_encoding::percent_decode_str(&req.path)
        .decode_utf8()
        .map_err(|_| ApiError::bad_request("path is not UTF-8 once decoded"))?;
    if req.prefix != decoded.ends_with('/') {
        return Err(ApiError::bad_request(
            "a prefix ends with / and only a prefix does",
        ));
    }
    let exp = u64::try_from(now_unix())
        .unwrap_or(0)
        .saturating_add(req.expires_in);
    let query = signed_query(&state.auth.signing, &decoded, exp, &by, req.prefix);
    let url = format!("{}?{query}", req.path);
    Ok(Json(SignedUrl {
        url,
        expires_at: i64::try_from(exp).ok().and_then(rfc3339_unix),
    }))
}
