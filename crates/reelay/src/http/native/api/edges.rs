//! Edge nodes, for operators: create one (its token is shown once) naming the sources it may
//! feed, change those later, list them with their liveness, delete one. The routes edges
//! themselves call are in `relay::control`.

use axum::Json;
use axum::extract::{Path, State};
use http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::http::common::error::{ApiError, ApiJson};
use crate::http::common::routes;
use crate::http::common::state::AppState;
use crate::http::native::api::ErrorBody;
use crate::live::Lookup;
use crate::live::sources::validate_name;
use crate::relay::edges::EdgeRow;

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct EdgeInfo {
    pub id: String,
    pub name: String,
    /// Heard from within the liveness deadline (`[edges]`: 3 intervals plus a margin).
    pub(crate) online: bool,
    /// Last contact, RFC 3339; absent if never.
    pub(crate) last_seen: Option<String>,
    pub(crate) created_at: Option<String>,
    /// The names of the sources this edge may feed; it is refused (403) any other.
    pub(crate) sources: Vec<String>,
    /// Present only in the answer that created the edge: `reelay edge --token` takes it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) token: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct EdgeList {
    pub(crate) edges: Vec<EdgeInfo>,
}

async fn info(state: &AppState, row: EdgeRow, token: Option<String>) -> Result<EdgeInfo, ApiError> {
    let control = state.control()?;
    let sources = control.edges.scope_names(&row.id).await?;
    Ok(EdgeInfo {
        sources,
        online: control.edges.online(&row),
        last_seen: row
            .last_seen_ms
            .and_then(crate::http::native::api::rfc3339_ms),
        created_at: crate::http::native::api::rfc3339_unix(row.created_at),
        id: row.id,
        name: row.name,
        token,
    })
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CreateEdge {
    pub name: String,
    /// Sources (names or ids) it may feed; more can be given later (`PATCH`).
    #[serde(default)]
    pub(crate) sources: Vec<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct EdgeScope {
    /// Every source (name or id) the edge may feed, replacing the previous list.
    pub(crate) sources: Vec<String>,
}

/// Most sources one edge may be given.
const MAX_SCOPE: usize = crate::rules::EDGE_SCOPE_ITEMS;

/// The ids of the sources `names` (names or ids): 404 naming the first unknown one.
async fn source_ids(state: &AppState, names: &[String]) -> Result<Vec<String>, ApiError> {
    if names.len() > MAX_SCOPE {
        return Err(ApiError::bad_request(format!(
            "an edge may feed at most {MAX_SCOPE} sources"
        )));
    }
    let live = state.control()?.live;
    let mut ids = Vec::with_capacity(names.len());
    for name in names {
        let source = live.source(name, Lookup::Standing).await?;
        if !ids.contains(&source.id) {
            ids.push(source.id.clone());
        }
    }
    Ok(ids)
}

/// Create an edge node's identity and token, and name the sources it may feed.
#[utoipa::path(post, path = routes::EDGES, tag = "live", request_body = CreateEdge,
    responses((status = 201, description = "created; the token is shown only here", body = EdgeInfo),
        (status = 400, description = "bad request: the message says what", body = ErrorBody),
        (status = 404, description = "no such source", body = ErrorBody),
        (status = 409, description = "the name is taken", body = ErrorBody)),
    security(("bearer" = ["admin"])))]
pub(crate) async fn create_edge(
    State(state): State<AppState>,
    ApiJson(req): ApiJson<CreateEdge>,
) -> Result<(StatusCode, Json<EdgeInfo>), ApiError> {
    validate_name(&req.name)?;
    let edges = state.control()?.edges;
    if edges.find(&req.name).await?.is_some() {
        return Err(ApiError::conflict(format!(
            "an edge named {:?} already exists",
            req.name
        )));
    }
    let scope = source_ids(&state, &req.sources).await?;
    let (row, token) = state.control()?.create_edge(&req.name, &scope).await?;
    Ok((
        StatusCode::CREATED,
        Json(info(&state, row, Some(token)).await?),
    ))
}

/// List edge nodes and whether they are online.
#[utoipa::path(get, path = routes::EDGES, tag = "live",
    responses((status = 200, description = "OK", body = EdgeList)), security(("bearer" = ["read"]), ()))]
pub(crate) async fn list_edges(State(state): State<AppState>) -> Result<Json<EdgeList>, ApiError> {
    let rows = state.control()?.edges.list().await?;
    let mut edges = Vec::with_capacity(rows.len());
    for row in rows {
        edges.push(info(&state, row, None).await?);
    }
    Ok(Json(EdgeList { edges }))
}

async fn find(state: &AppState, edge: &str) -> Result<EdgeRow, ApiError> {
    state
        .control()?
        .edges
        .find(edge)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no edge {edge:?}")))
}

/// An edge node.
#[utoipa::path(get, path = routes::EDGE, tag = "live",
    params(("edge" = String, Path, description = "id or name")),
    responses((status = 200, description = "OK", body = EdgeInfo),
        (status = 404, description = "no such edge", body = ErrorBody)),
    security(("bearer" = ["read"]), ()))]
pub(crate) async fn get_edge(
    State(state): State<AppState>,
    Path(edge): Path<String>,
) -> Result<Json<EdgeInfo>, ApiError> {
    let row = find(&state, &edge).await?;
    Ok(Json(info(&state, row, None).await?))
}

/// Name the sources an edge may feed (replacing the list). A source an encoder fed directly
/// may be given to an edge only this way; one no longer named is released.
#[utoipa::path(patch, path = routes::EDGE, tag = "live", request_body = EdgeScope,
    params(("edge" = String, Path, description = "id or name")),
    responses((status = 200, description = "OK", body = EdgeInfo),
        (status = 400, description = "bad request: the message says what", body = ErrorBody),
        (status = 404, description = "no such edge or source", body = ErrorBody)),
    security(("bearer" = ["admin"])))]
pub(crate) async fn set_edge_sources(
    State(state): State<AppState>,
    Path(edge): Path<String>,
    ApiJson(req): ApiJson<EdgeScope>,
) -> Result<Json<EdgeInfo>, ApiError> {
    let row = find(&state, &edge).await?;
    let scope = source_ids(&state, &req.sources).await?;
    let control = state.control()?;
    control.set_edge_scope(&row.id, &scope).await?;
    Ok(Json(info(&state, row, None).await?))
}

/// Delete an edge node: its token stops working; its sources may be claimed by another edge.
#[utoipa::path(delete, path = routes::EDGE, tag = "live",
    params(("edge" = String, Path, description = "id or name")),
    responses((status = 204, description = "done; no body"),
        (status = 404, description = "no such edge", body = ErrorBody)),
    security(("bearer" = ["admin"])))]
pub(crate) async fn delete_edge(
    State(state): State<AppState>,
    Path(edge): Path<String>,
) -> Result<StatusCode, ApiError> {
    let row = find(&state, &edge).await?;
    let control = state.control()?;
    control.delete_edge(&row.id).await?;
    Ok(StatusCode::NO_CONTENT)
}
