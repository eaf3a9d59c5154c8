//! `/healthz` (the process answers) and `/readyz` (it can do its work): ready means the
//! metadata database answers within [`crate::cluster::DEADLINE`], every configured cluster
//! engine (Redis, NATS) is connected and the shared chunk tier's last call worked. Not ready is 503 with a JSON body naming what is down,
//! in fixed words (public route: no addresses, no engine error text; the log has those).

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use serde_json::json;

use super::state::AppState;

pub async fn healthz() -> &'static str {
    "ok\n"
}

pub async fn readyz(State(state): State<AppState>) -> Response {
    let mut down = Vec::new();
    let ping = sqlx::query("SELECT 1").execute(&state.db);
    match tokio::time::timeout(crate::cluster::DEADLINE, ping).await {
        Ok(Ok(_)) => {}
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "readyz: the metadata database is unavailable");
            down.push(json!({"engine": "database", "state": "unavailable"}));
        }
        Err(_) => down.push(json!({"engine": "database", "state": "timed out"})),
    }
    if let Some(cluster) = state.live.as_ref().and_then(|l| l.cluster.as_ref()) {
        if let Some(tier) = &cluster.tier {
            let _ = tier.ping().await; // refreshes its health
        }
        for (engine, _) in cluster.down() {
            down.push(json!({"engine": engine, "state": "unavailable"}));
        }
    }
    let cache = state.buckets.reads().cache().and_then(|c| c.shared_down());
    if cache == Some(true) {
        down.push(json!({"engine": "shared cache", "state": "unavailable"}));
    }
    if down.is_empty() {
        return "ready\n".into_response();
    }
    let body = json!({
        "error": {"code": "not_ready", "message": "a backing engine is unavailable"},
        "down": down,
    });
    (StatusCode::SERVICE_UNAVAILABLE, Json(body)).into_response()
}
