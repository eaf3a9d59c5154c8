//! `/healthz` (the process answers) and `/readyz` (it can do its work): ready means the
//! metadata database answers within [`crate::cluster::DEADLINE`], each S3 profile's endpoint
//! answers a one-key listing of one of its buckets within the same deadline (the probes run
//! together), every configured cluster engine (Redis, NATS) is connected, the shared chunk
//! tier's last call worked and, on an edge, its link to the control node is up. The S3 probes
//! are the one check that costs someone else a request, on a public route: one round stands
//! for [`S3_PROBE_TTL`], and calls arriving during a round wait for it instead of starting
//! their own, so no rate of `/readyz` calls makes more than one listing per profile per
//! interval. Not ready is
//! 503 with a JSON body naming what is down, in fixed words (public route: no addresses, no
//! engine error text; the log has those). `/healthz` stays a liveness check: it depends on
//! nothing.

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use serde_json::json;

use crate::http::common::state::AppState;

pub(crate) async fn healthz() -> &'static str {
    "ok\n"
}

pub(crate) async fn readyz(State(state): State<AppState>) -> Response {
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
    down.extend(s3_down(&state).await);
    if state.edge && state.metrics.relay.link_up.get() == 0 {
        down.push(json!({"engine": "control link", "state": "unavailable"}));
    }
    if let Some(cluster) = state.live.as_ref().and_then(|l| l.cluster()) {
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

/// How long one round of S3 probes answers for.
pub const S3_PROBE_TTL: std::time::Duration = std::time::Duration::from_secs(2);

/// The S3 profiles whose endpoint does not answer a one-key listing in time: the last round's
/// answer while it is fresh, else a new round (one at a time).
async fn s3_down(state: &AppState) -> Vec<serde_json::Value> {
    let mut last = state.s3_probes.lock().await;
    if let Some((at, down)) = last.as_ref()
        && at.elapsed() < S3_PROBE_TTL
    {
        return down.clone();
    }
    let down = probe_s3(state).await;
    *last = Some((std::time::Instant::now(), down.clone()));
    down
}

/// One round: every profile probed at once, each within the cluster deadline.
async fn probe_s3(state: &AppState) -> Vec<serde_json::Value> {
    let probes = state
        .buckets
        .s3_probes()
        .into_iter()
        .map(|(profile, bucket)| async move {
            let listed = bucket.list("", None, None, 1);
            let failed = match tokio::time::timeout(crate::cluster::DEADLINE, listed).await {
                Ok(Ok(_)) => return None,
                Ok(Err(e)) => {
                    tracing::warn!(%profile, error = %e, "readyz: an S3 endpoint is unavailable");
                    "unavailable"
                }
                Err(_) => "timed out",
            };
            Some(json!({"engine": "s3", "profile": profile, "state": failed}))
        });
    futures_util::future::join_all(probes)
        .await
        .into_iter()
        .flatten()
        .collect()
}
