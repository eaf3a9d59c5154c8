//! Edge nodes, for operators: create one (its token is shown once), list them with their
//! liveness, delete one. The routes edges themselves call are in `relay::control`.

use axum::Json;
use axum::extract::{Path, State};
use http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::ErrorBody;
use crate::http::error::{ApiError, ApiJson};
use crate::http::routes;
use crate::http::state::AppState;
use crate::live::sources::validate_name;
use crate::relay::edges::EdgeRow;

#[derive(Debug, Serialize, ToSchema)]
pub struct EdgeInfo {
    pub id: String,
    pub name: String,
    /// Heard from within the liveness deadline (`[edges]`: 3 intervals plus a margin).
    pub online: bool,
    /// Last contact, RFC 3339; absent if never.
    pub last_seen: Option<String>,
    pub created_at: Option<String>,
    /// Present only in the answer that created the edge: `reelay edge --token` takes it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EdgeList {
    pub edges: Vec<EdgeInfo>,
}

fn info(state: &AppState, row: EdgeRow, token: Option<String>) -> Result<EdgeInfo, ApiError> {
    Ok(EdgeInfo {
        online: state.control()?.edges.online(&row),
        last_seen: row.last_seen_ms.and_then(super::rfc3339_ms),
        created_at: super::rfc3339_unix(row.created_at),
        id: row.id,
        name: row.name,
        token,
    })
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateEdge {
    pub name: String,
}

/// Create an edge node's identity and token.
#[utoipa::path(post, path = routes::EDGES, tag = "live", request_body = CreateEdge,
    responses((status = 201, description = "created; the token is shown only here", body = EdgeInfo),
        (status = 400, description = "bad request: the message says what", body = ErrorBody),
        (status = 409, description = "the name is taken", body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn create_edge(
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
    let (row, token) = edges.create(&req.name).await?;
    Ok((StatusCode::CREATED, Json(info(&state, row, Some(token))?)))
}

/// List edge nodes and whether they are online.
#[utoipa::path(get, path = routes::EDGES, tag = "live",
    responses((status = 200, description = "OK", body = EdgeList)), security(("bearer" = []), ()))]
pub async fn list_edges(State(state): State<AppState>) -> Result<Json<EdgeList>, ApiError> {
    let rows = state.control()?.edges.list().await?;
    let edges = rows
        .into_iter()
        .map(|r| info(&state, r, None))
        .collect::<Result<_, _>>()?;
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
    security(("bearer" = []), ()))]
pub async fn get_edge(
    State(state): State<AppState>,
    Path(edge): Path<String>,
) -> Result<Json<EdgeInfo>, ApiError> {
    let row = find(&state, &edge).await?;
    Ok(Json(info(&state, row, None)?))
}

/// Delete an edge node: its token stops working; its sources may be claimed by another edge.
#[utoipa::path(delete, path = routes::EDGE, tag = "live",
    params(("edge" = String, Path, description = "id or name")),
    responses((status = 204, description = "done; no body"),
        (status = 404, description = "no such edge", body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn delete_edge(
    State(state): State<AppState>,
    Path(edge): Path<String>,
) -> Result<StatusCode, ApiError> {
    let row = find(&state, &edge).await?;
    let control = state.control()?;
    control.edges.delete(&row.id).await?;
    control.live.changed();
    Ok(StatusCode::NO_CONTENT)
}
