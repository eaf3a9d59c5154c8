//! What an edge forwards, decided from values: the pure policy (which live segments to send,
//! which buffered segment to backfill next) and the shared [`ForwardState`] — the desired state
//! last heard from the control and the segments it has confirmed — which also tells the
//! buffer what to hold past its age limit; and [`PartsProgress`], which segments' Low-Latency
//! parts have all gone out (the part forwarder marks, the live forwarder waits).
//!
//! Policy: live segments go out as they arrive while a source streams, newest first after an
//! outage (at most a window's worth, so a viewer resumes at the live edge, not in the past).
//! Segments that a recording covers and the control has not confirmed are backfilled one at a
//! time, oldest first, and held in the buffer (within its byte budget) until confirmed. Until
//! the edge has heard the desired state once, it holds everything.

use std::collections::{HashMap, HashSet};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use sqlx::AnyPool;
use tokio::sync::watch;

use super::protocol::DesiredState;
use crate::live::{Hold, SegmentRow};

/// The live segments to send for one streaming source: those newer than `last_sent`, at most
/// the newest `max`.
pub(crate) fn live_batch(
    buffered: &[SegmentRow],
    last_sent: Option<i64>,
    max: usize,
) -> &[SegmentRow] {
    let fresh = buffered.partition_point(|s| last_sent.is_some_and(|last| s.msn <= last));
    let from = fresh.max(buffered.len().saturating_sub(max));
    &buffered[from..]
}

/// A segment the control confirmed: (source, rendition, msn).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct Delivered(pub String, pub String, pub i64);

impl Delivered {
    pub(crate) fn of(segment: &SegmentRow) -> Self {
        Self(
            segment.source_id.clone(),
            segment.rendition.clone(),
            segment.msn,
        )
    }
}

/// The oldest segment a recording needs that the control has not confirmed.
pub(crate) fn next_backfill<'a>(
    buffers: &'a [Vec<SegmentRow>],
    desired: &DesiredState,
    delivered: &HashSet<Delivered>,
) -> Option<&'a SegmentRow> {
    buffers
        .iter()
        .flatten()
        .filter(|s| desired.recorded(&s.source_id, s.pdt_ms, s.duration_ms))
        .filter(|s| !delivered.contains(&Delivered::of(s)))
        .min_by_key(|s| (s.pdt_ms, s.msn))
}

/// The edge's forwarding state, shared by its tasks and its buffer.
#[derive(Debug, Default)]
pub(crate) struct ForwardState {
    desired: Mutex<Option<DesiredState>>,
    delivered: Mutex<HashSet<Delivered>>,
    db: OnceLock<AnyPool>,
}

impl ForwardState {
    /// Loads the confirmations persisted by an earlier run, and persists new ones from now on.
    pub(crate) async fn attach(&self, db: AnyPool) -> sqlx::Result<()> {
        let rows: Vec<(String, String, i64)> =
            sqlx::query_as("SELECT source_id, rendition, msn FROM edge_forwarded")
                .fetch_all(&db)
                .await?;
        self.delivered
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend(rows.into_iter().map(|(s, r, m)| Delivered(s, r, m)));
        let _ = self.db.set(db);
        Ok(())
    }

    pub(crate) fn desired(&self) -> Option<DesiredState> {
        self.desired
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    pub(crate) fn set_desired(&self, state: DesiredState) {
        *self.desired.lock().unwrap_or_else(|p| p.into_inner()) = Some(state);
    }

    pub(crate) fn delivered(&self) -> HashSet<Delivered> {
        self.delivered
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    pub(crate) fn is_delivered(&self, segment: &SegmentRow) -> bool {
        self.delivered
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains(&Delivered::of(segment))
    }

    /// The control confirmed `segment`.
    pub(crate) async fn confirm(&self, segment: &SegmentRow) {
        let new = self
            .delivered
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(Delivered::of(segment));
        if let (true, Some(db)) = (new, self.db.get()) {
            let insert = sqlx::query(
                "INSERT INTO edge_forwarded (source_id, rendition, msn) VALUES ($1, $2, $3) \
                 ON CONFLICT DO NOTHING",
            )
            .bind(&segment.source_id)
            .bind(&segment.rendition)
            .bind(segment.msn)
            .execute(db)
            .await;
            if let Err(e) = insert {
                tracing::warn!(error = %e, "cannot persist a forwarded segment");
            }
        }
    }
}

impl Hold for ForwardState {
    fn holds(&self, segment: &SegmentRow) -> bool {
        let needed = match &*self.desired.lock().unwrap_or_else(|p| p.into_inner()) {
            None => true,
            Some(d) => d.recorded(&segment.source_id, segment.pdt_ms, segment.duration_ms),
        };
        needed && !self.is_delivered(segment)
    }

    fn dropped(&self, segment: &SegmentRow) {
        let key = Delivered::of(segment);
        let was = self
            .delivered
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&key);
        if let (true, Some(db)) = (was, self.db.get()) {
            let db = db.clone();
            tokio::spawn(async move {
                let _ = sqlx::query(
                    "DELETE FROM edge_forwarded WHERE source_id = $1 AND rendition = $2 \
                     AND msn = $3",
                )
                .bind(&key.0)
                .bind(&key.1)
                .bind(key.2)
                .execute(&db)
                .await;
            });
        }
    }
}

/// Which segments' parts have all gone out (or been given up), by (source, rendition).
#[derive(Debug)]
pub(crate) struct PartsProgress {
    done: Mutex<HashMap<(String, String), u64>>,
    changed: watch::Sender<u64>,
}

impl Default for PartsProgress {
    fn default() -> Self {
        Self {
            done: Mutex::default(),
            changed: watch::Sender::new(0),
        }
    }
}

impl PartsProgress {
    /// Every part of segment `msn` of the rendition has gone out (or been given up).
    pub(crate) fn mark(&self, id: &str, rendition: &str, msn: u64) {
        let mut done = self.done.lock().unwrap_or_else(|p| p.into_inner());
        let newest = done
            .entry((id.to_owned(), rendition.to_owned()))
            .or_default();
        *newest = (*newest).max(msn);
        drop(done);
        self.changed.send_modify(|v| *v = v.wrapping_add(1));
    }

    fn is_done(&self, id: &str, rendition: &str, msn: u64) -> bool {
        let done = self.done.lock().unwrap_or_else(|p| p.into_inner());
        done.get(&(id.to_owned(), rendition.to_owned()))
            .is_some_and(|newest| *newest >= msn)
    }

    /// Waits, at most `limit`, until every part of segment `msn` has gone out; whether it has.
    pub(crate) async fn wait(&self, id: &str, rendition: &str, msn: u64, limit: Duration) -> bool {
        let mut changed = self.changed.subscribe();
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            changed.mark_unchanged();
            if self.is_done(id, rendition, msn) {
                return true;
            }
            if tokio::time::timeout_at(deadline, changed.changed())
                .await
                .is_err()
            {
                return false;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::relay::protocol::EdgeRecording;

    fn seg(source: &str, msn: i64, pdt_ms: i64) -> SegmentRow {
        SegmentRow {
            source_id: source.into(),
            rendition: "index".into(),
            msn,
            file: format!("{msn}.ts"),
            duration_ms: 1000,
            discontinuity: 0,
            pdt_ms,
            map_file: None,
            bytes: 10,
        }
    }

    #[test]
    fn live_sends_what_is_new_and_resumes_at_the_newest_after_an_outage() {
        let buf: Vec<_> = (0..10).map(|i| seg("s", i, i * 1000)).collect();
        let msns = |b: &[SegmentRow]| b.iter().map(|s| s.msn).collect::<Vec<_>>();
        assert_eq!(msns(live_batch(&buf, Some(7), 3)), vec![8, 9]);
        assert_eq!(msns(live_batch(&buf, Some(9), 3)), Vec::<i64>::new());
        assert_eq!(msns(live_batch(&buf, Some(1), 3)), vec![7, 8, 9]);
        assert_eq!(msns(live_batch(&buf, None, 2)), vec![8, 9]);
    }

    #[test]
    fn backfill_takes_the_oldest_recorded_unconfirmed_segment_across_sources() {
        let buffers = vec![
            (0..5).map(|i| seg("a", i, 10_000 + i * 1000)).collect(),
            (0..5)
                .map(|i| seg("b", i, 9_000 + i * 1000))
                .collect::<Vec<_>>(),
        ];
        let rec = |source: &str, start_ms| EdgeRecording {
            id: format!("r{source}"),
            source_id: source.into(),
            start_ms,
            end_ms: None,
        };
        let desired = DesiredState::new(1000, vec![], vec![rec("a", 11_500), rec("b", 12_500)]);
        let mut delivered = HashSet::new();
        let next = |d: &HashSet<_>| {
            next_backfill(&buffers, &desired, d).map(|s| (s.source_id.clone(), s.msn))
        };
        assert_eq!(next(&delivered), Some(("a".into(), 1)));
        delivered.insert(Delivered("a".into(), "index".into(), 1));
        assert_eq!(next(&delivered), Some(("a".into(), 2)));
        delivered.insert(Delivered("a".into(), "index".into(), 2));
        assert_eq!(
            next(&delivered),
            Some(("b".into(), 3)),
            "b's 12 000 ms comes next"
        );
        let none = DesiredState::new(1000, vec![], vec![]);
        assert!(next_backfill(&buffers, &none, &HashSet::new()).is_none());
    }

    #[test]
    fn the_buffer_holds_recorded_unconfirmed_segments_and_everything_before_first_contact() {
        let state = ForwardState::default();
        assert!(state.holds(&seg("a", 1, 0)), "no desired state yet: hold");
        let rec = EdgeRecording {
            id: "r".into(),
            source_id: "a".into(),
            start_ms: 5_000,
            end_ms: None,
        };
        state.set_desired(DesiredState::new(1000, vec![], vec![rec]));
        assert!(!state.holds(&seg("a", 1, 0)), "before the recording");
        assert!(state.holds(&seg("a", 6, 6_000)));
        state
            .delivered
            .lock()
            .expect("lock")
            .insert(Delivered("a".into(), "index".into(), 6));
        assert!(!state.holds(&seg("a", 6, 6_000)), "confirmed");
        let mut other = seg("a", 6, 6_000);
        other.rendition = "stream_1".into();
        assert!(
            state.holds(&other),
            "the same number in another rendition is not confirmed"
        );
    }

    #[tokio::test]
    async fn waiting_for_parts_ends_when_they_are_marked_or_at_the_limit() {
        let progress = std::sync::Arc::new(PartsProgress::default());
        assert!(
            !progress.wait("s", "v", 3, Duration::from_millis(20)).await,
            "nothing marked: the limit"
        );
        let marker = progress.clone();
        let waiting =
            tokio::spawn(async move { marker.wait("s", "v", 3, Duration::from_secs(10)).await });
        tokio::task::yield_now().await;
        progress.mark("s", "v", 2);
        progress.mark("s", "a", 9);
        progress.mark("s", "v", 4);
        assert!(waiting.await.expect("join"), "a newer segment covers it");
        assert!(progress.is_done("s", "v", 4) && !progress.is_done("s", "v", 5));
    }
}
