//! The control node's side of the relay, as plain calls: who an edge is (its token), the desired
//! state it long-polls (with every rendition's sequence floor), the segments, init sections and
//! multivariant playlists it forwards (only for sources its scope names, each bound to the
//! first edge forwarding it), and the liveness sweeper. The routes that call this are in
//! `http::edge`; the operator's routes for edges are in `http::api::edges`.

use std::sync::Arc;
use std::time::Duration;

use super::RelayError;
use super::edges::{EdgeRow, Edges};
use super::metrics::RelayMetrics;
use super::protocol::{
    DesiredState, EdgeRecording, EdgeRendition, EdgeSource, MAX_PART_BYTES, PartMeta, SegmentMeta,
    is_init_name, parse_segment_file, parse_segment_number,
};
use crate::auth::Denied;
use crate::db::now_ms;
use crate::live::forwarded::{Forwarded, ForwardedSegment};
use crate::live::ll::published::StoredPart;
use crate::live::ll::view::parse_part_uri;
use crate::live::sources::{PRIMARY, SourceRow};
use crate::live::{Live, Lookup};
use crate::stream::BodyStream;

/// The control node's relay, borrowed from the node's state for one request.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Control<'a> {
    pub(crate) live: &'a Live,
    pub(crate) edges: &'a Edges,
    pub(crate) metrics: &'a RelayMetrics,
}

/// What an operator does to edges, as verbs that announce each change to the edges
/// long-polling on every node (an edge learns its sources from the answer).
impl Control<'_> {
    /// Creates edge `name` feeding the sources `scope` (ids): it, and its token (shown once).
    pub(crate) async fn create_edge(
        &self,
        name: &str,
        scope: &[String],
    ) -> Result<(EdgeRow, String), sqlx::Error> {
        let (row, token) = self.edges.create(name).await?;
        self.edges.set_scope(&row.id, scope).await?;
        self.live.changed();
        Ok((row, token))
    }

    /// Names the sources edge `id` may feed, replacing the list (sources it no longer names
    /// are released; those it names are read afresh).
    pub(crate) async fn set_edge_scope(
        &self,
        id: &str,
        scope: &[String],
    ) -> Result<(), sqlx::Error> {
        self.edges.set_scope(id, scope).await?;
        for source in scope {
            self.live.sources().forget(source);
        }
        self.live.changed();
        Ok(())
    }

    /// Adds source `source` to what edge `id` may feed.
    pub(crate) async fn give_source(&self, id: &str, source: &str) -> Result<(), sqlx::Error> {
        self.edges.add_to_scope(id, source).await?;
        self.live.changed();
        Ok(())
    }

    /// Deletes edge `id`: its token stops working; its sources may go to another edge.
    pub(crate) async fn delete_edge(&self, id: &str) -> Result<(), sqlx::Error> {
        self.edges.delete(id).await?;
        self.live.changed();
        Ok(())
    }
}

impl Control<'_> {
    /// The edge presenting `token`, noted as heard from.
    pub(crate) async fn authenticate(&self, token: Option<&str>) -> Result<EdgeRow, RelayError> {
        let token =
            token.ok_or_else(|| Denied::Unauthenticated("edges present their token".into()))?;
        let row = self
            .edges
            .authenticate(token)
            .await?
            .ok_or_else(|| Denied::Unauthenticated("unknown edge token".into()))?;
        self.edges.touch(&row.id).await?;
        Ok(row)
    }

    /// How often edges must be heard from, milliseconds.
    pub(crate) fn interval_ms(&self) -> u64 {
        u64::try_from(self.edges.liveness.interval.as_millis()).unwrap_or(u64::MAX)
    }

    /// The desired state for edge `edge_id`: the sources it may carry (named in its scope, not
    /// bound to another edge, not fed directly) and their recordings.
    pub(crate) async fn desired_state(&self, edge_id: &str) -> Result<DesiredState, RelayError> {
        let live = self.live;
        let scope = self.edges.scope(edge_id).await?;
        let sources: Vec<SourceRow> = live
            .sources()
            .list()
            .await?
            .into_iter()
            .filter(|s| {
                scope.contains(&s.id)
                    && s.fed_directly == 0
                    && s.edge_id.as_deref().is_none_or(|e| e == edge_id)
            })
            .collect();
        // A stopped recording stays listed while an edge may still hold its segments.
        let horizon = live.settings().buffer.saturating_mul(6);
        let since = now_ms().saturating_sub(i64::try_from(horizon.as_millis()).unwrap_or(i64::MAX));
        let recordings = match live.recordings().ok() {
            Some(r) => r.open_or_ended_since(since).await?,
            None => Vec::new(),
        };
        let recordings = recordings
            .into_iter()
            .filter(|r| sources.iter().any(|s| s.id == r.source_id))
            .map(|r| EdgeRecording {
                id: r.id,
                source_id: r.source_id,
                start_ms: r.start_ms,
                end_ms: r.end_ms,
            })
            .collect();
        let mut edge_sources = Vec::with_capacity(sources.len());
        for s in sources {
            let floors = live.sources().rendition_floors(&s.id).await?;
            edge_sources.push(edge_source(s, floors));
        }
        Ok(DesiredState::new(
            self.interval_ms(),
            edge_sources,
            recordings,
        ))
    }

    /// The desired state for `edge_id` at once if it is not `version`, otherwise when it
    /// changes or after one interval. Changes made through this node, or announced by another
    /// node of the cluster (NATS), wake it at once; without the bus, changes through another
    /// node sharing the database are seen within a second (the state is read again).
    pub(crate) async fn next_state(
        &self,
        edge_id: &str,
        version: Option<&str>,
    ) -> Result<DesiredState, RelayError> {
        let deadline = tokio::time::Instant::now() + self.edges.liveness.interval;
        let mut changes = self.live.watch_changes();
        let mut announced = false;
        loop {
            changes.mark_unchanged();
            let current = self.desired_state(edge_id).await?;
            if version != Some(current.version.as_str()) || tokio::time::Instant::now() >= deadline
            {
                if announced && version != Some(current.version.as_str()) {
                    self.metrics.polls_woken.inc();
                }
                // No touch here: the edge may have died while its poll was held (the handler
                // runs on), and its last contact is when it asked.
                return Ok(current);
            }
            let wake = deadline.min(tokio::time::Instant::now() + Duration::from_secs(1));
            let _held = Held::new(&self.metrics.polls_held);
            announced = matches!(
                tokio::time::timeout_at(wake, changes.changed()).await,
                Ok(Ok(()))
            );
        }
    }

    /// The source an edge forwards for, bound to that edge on first use: only a source the
    /// edge's scope names (403 otherwise), never one an encoder feeds directly (403), and not
    /// one another edge feeds (409).
    async fn forwarding_source(
        &self,
        edge: &EdgeRow,
        source_id: &str,
    ) -> Result<SourceRow, RelayError> {
        let source = self.live.source(source_id, Lookup::Standing).await?;
        // Bound to this edge already (the row is read afresh): within its scope, since
        // `Edges::set_scope` releases what it drops in the same transaction, so neither the
        // scope nor the binding is asked again for every segment and part.
        let bound_here = source.edge_id.as_deref() == Some(edge.id.as_str());
        if !bound_here && !self.edges.may_feed(&edge.id, &source.id).await? {
            return Err(Denied::Forbidden(
                format!(
                    "edge {} may not feed source {}: its sources are named by an operator \
                     (PATCH /api/v1/edges/{})",
                    edge.name, source.name, edge.name
                )
                .into(),
            )
            .into());
        }
        if source.fed_directly != 0 {
            return Err(Denied::Forbidden(
                format!("source {} is fed by an encoder directly", source.name).into(),
            )
            .into());
        }
        if bound_here {
            return Ok(Arc::unwrap_or_clone(source));
        }
        match self.live.sources().bind_edge(&source.id, &edge.id).await? {
            Some(bound) if bound != edge.id => Err(RelayError::OtherEdge(source.name.clone())),
            _ => Ok(Arc::unwrap_or_clone(source)),
        }
    }

    /// A forwarded segment `file` (`<msn>.<ext>`) described by `meta`; idempotent by
    /// `(source, msn)`.
    pub(crate) async fn forward_segment(
        &self,
        edge: &EdgeRow,
        source_id: &str,
        file: &str,
        meta: SegmentMeta,
        body: BodyStream,
    ) -> Result<Forwarded, RelayError> {
        let (msn, ext) = parse_segment_file(file)
            .ok_or_else(|| RelayError::Invalid("segment files are <msn>.ts or <msn>.m4s".into()))?;
        let source = self.forwarding_source(edge, source_id).await?;
        let path = self.live.receive_forwarded(&source, file, body).await?;
        let segment = ForwardedSegment {
            msn,
            ext: ext.to_owned(),
            duration_ms: meta.duration_ms,
            pdt_ms: meta.pdt_ms,
            discontinuity: meta.discontinuity,
            map_file: meta.map_file,
            live: meta.live,
            rendition: meta.rendition,
        };
        Ok(self.live.accept_forwarded(&source, &segment, &path).await?)
    }

    /// A forwarded fMP4 init section `file` (`init-<digits>.mp4`), before the segments naming it.
    pub(crate) async fn forward_init(
        &self,
        edge: &EdgeRow,
        source_id: &str,
        rendition: &str,
        file: &str,
        body: BodyStream,
    ) -> Result<Forwarded, RelayError> {
        if !is_init_name(file) {
            return Err(RelayError::Invalid(
                "init sections are init-<digits>.mp4".into(),
            ));
        }
        let source = self.forwarding_source(edge, source_id).await?;
        let path = self.live.receive_forwarded(&source, file, body).await?;
        Ok(self
            .live
            .accept_forwarded_init(&source, rendition, file, &path)
            .await?)
    }

    /// A forwarded Low-Latency part `file` (`p{msn}-{index}.m4s`) described by `meta`: published
    /// at once when it is the next part of its segment.
    pub(crate) async fn forward_part(
        &self,
        edge: &EdgeRow,
        source_id: &str,
        file: &str,
        meta: PartMeta,
        body: BodyStream,
    ) -> Result<(), RelayError> {
        let (msn, index) = parse_part_uri(file)
            .ok_or_else(|| RelayError::Invalid("parts are p<msn>-<index>.m4s".into()))?;
        let source = self.forwarding_source(edge, source_id).await?;
        let bytes = crate::stream::Limited::new(body, MAX_PART_BYTES)
            .collect()
            .await
            .map_err(crate::live::LiveError::from)?;
        let part = StoredPart {
            bytes: bytes.into(),
            duration_ms: meta.duration_ms,
            independent: meta.independent,
        };
        let at = (meta.rendition.as_str(), msn, index);
        Ok(self.live.accept_forwarded_part(&source, at, part).await?)
    }

    /// Segment `msn` of `rendition` failed at the edge: its parts go.
    pub(crate) async fn abandon_part(
        &self,
        edge: &EdgeRow,
        source_id: &str,
        rendition: &str,
        msn: &str,
    ) -> Result<(), RelayError> {
        let msn = parse_segment_number(msn)
            .ok_or_else(|| RelayError::Invalid("a segment number is 1-19 digits".into()))?;
        let source = self.forwarding_source(edge, source_id).await?;
        self.live.abandon_forwarded_part(&source, rendition, msn);
        Ok(())
    }

    /// The multivariant playlist the encoder pushed to the edge.
    pub(crate) async fn forward_multivariant(
        &self,
        edge: &EdgeRow,
        source_id: &str,
        body: BodyStream,
    ) -> Result<(), RelayError> {
        let source = self.forwarding_source(edge, source_id).await?;
        self.live.accept_multivariant(&source, body).await?;
        Ok(())
    }
}

fn edge_source(s: SourceRow, floors: Vec<(String, i64)>) -> EdgeSource {
    let renditions = floors
        .into_iter()
        .filter(|(name, _)| name != PRIMARY)
        .map(|(name, next_msn)| EdgeRendition { name, next_msn })
        .collect();
    EdgeSource {
        renditions,
        id: s.id,
        name: s.name,
        description: s.description,
        target_duration: s.target_duration,
        ingest_token_hash: s.ingest_token_hash,
        streaming: s.streaming != 0,
        next_msn: s.next_msn,
        created_at: s.created_at,
    }
}

/// Counts a held long-poll while it waits (`edge_state_polls_held`).
struct Held<'a>(&'a prometheus_client::metrics::gauge::Gauge);

impl<'a> Held<'a> {
    fn new(gauge: &'a prometheus_client::metrics::gauge::Gauge) -> Self {
        gauge.inc();
        Self(gauge)
    }
}

impl Drop for Held<'_> {
    fn drop(&mut self) {
        self.0.dec();
    }
}

/// Watches edges' liveness: logs each going offline or back online and, when configured,
/// stops the open recordings of an offline edge's sources at the moment it was last heard.
/// Every node keeps its gauge; only the holder of the sweeper lease (one node of a cluster)
/// logs and acts, and a node taking the lease over looks at every offline edge afresh (stopping
/// recordings is idempotent).
pub(crate) async fn sweep_liveness(
    live: Arc<Live>,
    edges: Arc<Edges>,
    metrics: RelayMetrics,
    node: String,
) {
    let mut offline = std::collections::HashSet::new();
    loop {
        tokio::time::sleep(edges.liveness.interval).await;
        let Ok(list) = edges.list().await else {
            continue;
        };
        metrics.liveness_sweeps.inc();
        let online = list.iter().filter(|e| edges.online(e)).count();
        metrics
            .edges_online
            .set(i64::try_from(online).unwrap_or(i64::MAX));
        match edges.lead_sweep(&node).await {
            Ok(true) => {}
            Ok(false) => {
                offline.clear();
                continue;
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot renew the sweeper lease");
                offline.clear();
                continue;
            }
        }
        for edge in list {
            if edges.online(&edge) {
                if offline.remove(&edge.id) {
                    tracing::info!(edge = edge.name, "edge is back online");
                }
                continue;
            }
            if edge.last_seen_ms.is_none() || !offline.insert(edge.id.clone()) {
                continue;
            }
            tracing::warn!(edge = edge.name, last_seen_ms = ?edge.last_seen_ms, "edge is offline");
            if edges.liveness.stop_recordings {
                stop_recordings_of(&live, &edge).await;
            }
        }
    }
}

async fn stop_recordings_of(live: &Live, edge: &EdgeRow) {
    let (Some(recordings), Some(seen)) = (live.recordings().ok(), edge.last_seen_ms) else {
        return;
    };
    let Ok(sources) = live.sources().list().await else {
        return;
    };
    for source in sources
        .iter()
        .filter(|s| s.edge_id.as_deref() == Some(&edge.id))
    {
        let Ok(open) = recordings.open_or_ended_since(i64::MAX).await else {
            continue;
        };
        for rec in open.iter().filter(|r| r.source_id == source.id) {
            if recordings.stop(&rec.id, seen).await.is_ok() {
                tracing::warn!(
                    recording = rec.id,
                    edge = edge.name,
                    "stopped: edge offline"
                );
            }
        }
    }
    live.changed();
}
