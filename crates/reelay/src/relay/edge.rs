//! The edge node's relay tasks: the poller (register, long-poll the desired state, mirror the
//! sources locally so encoders can push with their ingest tokens), the live forwarder, the
//! backfiller; the part forwarder (`parts.rs`) runs beside them. Each reconnects on its own with backoff and jitter; none blocks ingest, which
//! keeps landing in the local buffer whatever the control node is doing.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http::StatusCode;
use tokio::sync::watch;

use super::forward::{Delivered, ForwardState, PartsProgress, live_batch, next_backfill};
use super::link::{Link, LinkError, backoff};
use super::metrics::RelayMetrics;
use super::protocol::DesiredState;
use crate::live::sources::SourceRow;
use crate::live::{Live, Lookup, SegmentRow, file_name};
use crate::random;

/// Live segments sent at once when a source (re)starts streaming or the link returns.
const LIVE_CATCH_UP: usize = 3;

/// Longest a live segment waits for its parts to go out first.
const PARTS_WAIT: Duration = Duration::from_secs(1);

/// What the edge's tasks share.
#[derive(Debug, Clone)]
pub(crate) struct EdgeRelay {
    pub(crate) live: Arc<Live>,
    pub(crate) forward: Arc<ForwardState>,
    pub(crate) link: Link,
    pub(crate) metrics: RelayMetrics,
    /// Where the last desired state is kept across restarts.
    state_file: PathBuf,
    /// Init sections the control has, by (source, file).
    inits: Arc<Mutex<HashSet<(String, String)>>>,
    /// Bumped when the desired state changes.
    wake: watch::Sender<u64>,
    /// Segments whose Low-Latency parts have all gone out (the part forwarder marks them).
    parts: Arc<PartsProgress>,
}

impl EdgeRelay {
    pub fn new(
        live: Arc<Live>,
        forward: Arc<ForwardState>,
        link: Link,
        metrics: RelayMetrics,
        data_dir: &Path,
    ) -> Self {
        let state_file = data_dir.join("edge-state.json");
        if let Some(state) = std::fs::read(&state_file)
            .ok()
            .and_then(|b| serde_json::from_slice::<DesiredState>(&b).ok())
        {
            forward.set_desired(state);
        }
        Self {
            live,
            forward,
            link,
            metrics,
            state_file,
            inits: Arc::default(),
            wake: watch::Sender::new(0),
            parts: Arc::default(),
        }
    }

    /// Starts the poller, the live forwarder and the backfiller.
    pub(crate) fn spawn(self) {
        tokio::spawn(self.clone().poller());
        tokio::spawn(self.clone().live_forwarder());
        tokio::spawn(self.backfiller());
    }

    async fn poller(mut self) {
        let mut attempt = 0;
        loop {
            match self.link.register().await {
                Ok(r) => {
                    self.metrics.link_up.set(1);
                    tracing::info!(edge = r.name, "registered with the control node");
                }
                Err(e) => {
                    tracing::warn!(error = %e, "cannot register with the control node");
                    tokio::time::sleep(backoff(attempt, random::u64())).await;
                    attempt = attempt.saturating_add(1);
                    continue;
                }
            }
            attempt = 0;
            let mut version = self.forward.desired().map(|d| d.version);
            loop {
                match self.link.poll(version.as_deref()).await {
                    Ok(state) => {
                        if version.as_deref() != Some(state.version.as_str()) {
                            version = Some(state.version.clone());
                            self.apply(state).await;
                        }
                    }
                    Err(e) => {
                        self.metrics.link_up.set(0);
                        tracing::warn!(error = %e, "lost the control node");
                        tokio::time::sleep(backoff(attempt, random::u64())).await;
                        attempt = attempt.saturating_add(1);
                        break;
                    }
                }
            }
        }
    }

    /// Mirrors the desired sources locally, and wakes the forwarders.
    async fn apply(&self, state: DesiredState) {
        let sources = &self.live.sources();
        for s in &state.sources {
            let row = SourceRow {
                id: s.id.clone(),
                name: s.name.clone(),
                description: s.description.clone(),
                target_duration: s.target_duration,
                ingest_token_hash: s.ingest_token_hash.clone(),
                streaming: i64::from(s.streaming),
                next_msn: s.next_msn,
                discontinuities: 0,
                created_at: s.created_at,
                edge_id: None,
                multivariant: None,
                public: 0,
                fed_directly: 0,
            };
            if let Err(e) = sources.mirror(&row).await {
                tracing::error!(error = %e, source = s.name, "cannot mirror a source");
            }
            for r in &s.renditions {
                if let Err(e) = sources.raise_next_msn(&s.id, &r.name, r.next_msn).await {
                    tracing::error!(error = %e, source = s.name, "cannot mirror a rendition");
                }
            }
        }
        if let Ok(local) = sources.list().await {
            for gone in local
                .iter()
                .filter(|l| !state.sources.iter().any(|s| s.id == l.id))
            {
                tracing::info!(source = gone.name, "source removed by the control node");
                self.live.forget_source(&gone.id).await;
            }
        }
        if let Ok(json) = serde_json::to_vec(&state) {
            let tmp = self.state_file.with_extension("json.tmp");
            if std::fs::write(&tmp, json).is_ok() {
                let _ = std::fs::rename(&tmp, &self.state_file);
            }
        }
        self.forward.set_desired(state);
        self.wake.send_modify(|v| *v = v.wrapping_add(1));
    }

    async fn local_source(&self, id: &str) -> Option<SourceRow> {
        self.live
            .source(id, Lookup::Current)
            .await
            .ok()
            .map(Arc::unwrap_or_clone)
    }

    /// Sends `segment` (after its init section, if the control may not have it).
    async fn send(&self, segment: &SegmentRow, live: bool) -> Result<(), LinkError> {
        let path = |file: &str| self.live.segment_path(&segment.source_id, file);
        if let Some(map) = &segment.map_file {
            let key = (segment.source_id.clone(), map.clone());
            let known = self
                .inits
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .contains(&key);
            if !known {
                let body = Bytes::from(tokio::fs::read(path(map)).await?);
                let name = file_name(map);
                self.link
                    .put_init(&segment.source_id, &segment.rendition, name, body)
                    .await?;
                self.inits
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .insert(key);
            }
        }
        // Segments are bounded by `live.max_segment`.
        let body = Bytes::from(tokio::fs::read(path(&segment.file)).await?);
        let result = self.link.put_segment(segment, live, body).await;
        if let Err(LinkError::Refused { status, .. }) = &result
            && *status == StatusCode::CONFLICT
        {
            // Perhaps the control lost the init section: send it again next time.
            self.inits
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .retain(|(s, _)| *s != segment.source_id);
        }
        if result.is_err() {
            self.metrics.forward_failures.inc();
        }
        result?;
        if live {
            self.metrics.forwarded_live.inc();
        } else {
            self.metrics.backfilled.inc();
        }
        self.forward.confirm(segment).await;
        Ok(())
    }

    async fn live_forwarder(self) {
        let mut arrivals = self.live.watch_arrivals();
        let mut wake = self.wake.subscribe();
        let mut last_sent: HashMap<(String, String), i64> = HashMap::new();
        let mut multivariants: HashMap<String, String> = HashMap::new();
        loop {
            arrivals.mark_unchanged();
            wake.mark_unchanged();
            let desired = self.forward.desired();
            for s in desired.iter().flat_map(|d| &d.sources) {
                let Some(source) = self.local_source(&s.id).await else {
                    continue;
                };
                self.send_multivariant(&source, &mut multivariants).await;
                if !s.streaming {
                    continue;
                }
                for (rendition, buffered) in self.buffers(&source).await {
                    let key = (s.id.clone(), rendition);
                    for segment in
                        live_batch(&buffered, last_sent.get(&key).copied(), LIVE_CATCH_UP)
                    {
                        last_sent.insert(key.clone(), segment.msn);
                        if self.forward.is_delivered(segment) {
                            continue;
                        }
                        self.parts_first(segment).await;
                        if let Err(e) = self.send(segment, true).await {
                            tracing::debug!(error = %e, msn = segment.msn, "live segment not forwarded");
                        }
                    }
                }
            }
            tokio::select! {
                _ = arrivals.changed() => {}
                _ = wake.changed() => {}
            }
        }
    }

    /// What the part forwarder marks as parts go out.
    pub(crate) fn parts_progress(&self) -> Arc<PartsProgress> {
        self.parts.clone()
    }

    /// For a low-latency segment: waits (a little) until its parts have all gone out, so the
    /// control lists it with every part.
    async fn parts_first(&self, segment: &SegmentRow) {
        let (id, rendition) = (&segment.source_id, &segment.rendition);
        let Ok(msn) = u64::try_from(segment.msn) else {
            return;
        };
        if self.live.ll().is_low_latency(id, rendition)
            && !self.parts.wait(id, rendition, msn, PARTS_WAIT).await
        {
            tracing::debug!(
                msn,
                "a segment's parts were still going out; sending it anyway"
            );
        }
    }

    /// Each rendition of `source` with its buffered segments, oldest first.
    async fn buffers(&self, source: &SourceRow) -> Vec<(String, Vec<SegmentRow>)> {
        self.live.buffered_all(source).await.unwrap_or_default()
    }

    /// Sends the multivariant playlist the encoder pushed, when it is new (`sent` remembers).
    async fn send_multivariant(&self, source: &SourceRow, sent: &mut HashMap<String, String>) {
        let Some(text) = &source.multivariant else {
            return;
        };
        if sent.get(&source.id) == Some(text) {
            return;
        }
        match self.link.put_multivariant(&source.id, text.clone()).await {
            Ok(()) => {
                sent.insert(source.id.clone(), text.clone());
            }
            Err(e) => tracing::debug!(error = %e, "multivariant playlist not forwarded"),
        }
    }

    async fn backfiller(self) {
        let mut arrivals = self.live.watch_arrivals();
        let mut wake = self.wake.subscribe();
        let mut attempt = 0;
        let mut given_up: HashSet<Delivered> = HashSet::new();
        loop {
            arrivals.mark_unchanged();
            wake.mark_unchanged();
            let next = match self.forward.desired() {
                Some(desired) => self.next_backfill(&desired, &given_up).await,
                None => None,
            };
            let Some(segment) = next else {
                tokio::select! {
                    _ = arrivals.changed() => {}
                    _ = wake.changed() => {}
                    () = tokio::time::sleep(Duration::from_secs(1)) => {}
                }
                continue;
            };
            match self.send(&segment, false).await {
                Ok(()) => attempt = 0,
                Err(LinkError::Refused { status, body }) if status.is_client_error() => {
                    tracing::warn!(msn = segment.msn, %status, body, "control refused a segment; skipping it");
                    given_up.insert(Delivered::of(&segment));
                }
                Err(e) => {
                    tracing::debug!(error = %e, msn = segment.msn, "backfill paused");
                    tokio::time::sleep(backoff(attempt, random::u64())).await;
                    attempt = attempt.saturating_add(1);
                }
            }
        }
    }

    async fn next_backfill(
        &self,
        desired: &DesiredState,
        given_up: &HashSet<Delivered>,
    ) -> Option<SegmentRow> {
        let mut ids: Vec<&str> = desired
            .recordings
            .iter()
            .map(|r| r.source_id.as_str())
            .collect();
        ids.sort_unstable();
        ids.dedup();
        let mut buffers = Vec::new();
        for id in ids {
            if let Some(source) = self.local_source(id).await {
                buffers.extend(self.buffers(&source).await.into_iter().map(|(_, b)| b));
            }
        }
        let mut skip = self.forward.delivered();
        skip.extend(given_up.iter().cloned());
        next_backfill(&buffers, desired, &skip).cloned()
    }
}
