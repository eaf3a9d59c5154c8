//! The segment buffer: the one place a segment enters or leaves a rendition's buffer, in
//! memory (its rows, oldest first) and in the metadata database (`live_segments`) together.
//! Every way in goes through here — a segment this node committed (pushed by an encoder or
//! forwarded by an edge: [`SegmentBuffer::commit`]), one another node announced
//! ([`SegmentBuffer::admit`], with the rows between it and the newest known read first), the
//! rows another node wrote while this one missed the announcements
//! ([`SegmentBuffer::follow`]) — and the one way out, [`SegmentBuffer::prune`]. Readers (the
//! playlist window, the ladder's bitrates, recordings from the past, the LL view) borrow the
//! rows through `Deref`; nothing outside this module changes them.
//!
//! A segment committed here is told to whoever listens ([`Committed`]: the cluster's sync,
//! `shared.rs`, announces it to the other nodes); one admitted or followed came from another
//! node and is not told again.
//!
//! All `live_segments` SQL of the live domain is here, with the source-wide queries
//! ([`last_end_ms`], [`forget_source`]).

use std::collections::VecDeque;
use std::ops::Deref;

use sqlx::AnyPool;
use tokio::sync::broadcast;

use super::segment::SegmentRow;

/// The columns of a segment's row, in [`SegmentRow`]'s order.
macro_rules! select_segments {
    ($tail:literal) => {
        concat!(
            "SELECT source_id, rendition, msn, file, duration_ms, discontinuity, pdt_ms, \
             map_file, bytes FROM live_segments WHERE source_id = $1 AND rendition = $2 ",
            $tail
        )
    };
}

/// One rendition's buffered segments, oldest first, as the database has them.
#[derive(Debug)]
pub(super) struct SegmentBuffer {
    db: AnyPool,
    source_id: String,
    rendition: String,
    rows: VecDeque<SegmentRow>,
    /// Where a committed segment is told.
    committed: broadcast::Sender<Committed>,
}

/// A segment this node committed to a buffer, as the buffer tells it.
#[derive(Debug, Clone)]
pub(crate) struct Committed {
    pub(crate) row: SegmentRow,
    /// The rendition's discontinuities so far, this segment's included.
    pub(crate) discontinuities: u64,
}

/// What [`SegmentBuffer::prune`] keeps.
pub(super) struct Keep<'a> {
    /// The live window: never pruned.
    pub(crate) window: usize,
    /// Segments that ended before this (unix ms) are old.
    pub(crate) horizon_ms: i64,
    /// Bytes the buffer may hold; beyond them the oldest go, old or not (never the window).
    pub budget: u64,
    /// An old segment still needed (on an edge: an open recording's, unconfirmed).
    pub held: &'a (dyn Fn(&SegmentRow) -> bool + Sync),
}

impl Deref for SegmentBuffer {
    type Target = VecDeque<SegmentRow>;

    fn deref(&self) -> &Self::Target {
        &self.rows
    }
}

impl SegmentBuffer {
    /// The buffer of `rendition` of source `source_id` as the database has it, telling
    /// `committed` what is committed to it.
    pub(crate) async fn load(
        db: &AnyPool,
        source_id: &str,
        rendition: &str,
        committed: broadcast::Sender<Committed>,
    ) -> sqlx::Result<Self> {
        let rows: Vec<SegmentRow> = sqlx::query_as(select_segments!("ORDER BY msn"))
            .bind(source_id)
            .bind(rendition)
            .fetch_all(db)
            .await?;
        Ok(Self {
            db: db.clone(),
            source_id: source_id.to_owned(),
            rendition: rendition.to_owned(),
            rows: rows.into(),
            committed,
        })
    }

    /// The rows as one slice.
    pub(crate) fn contiguous(&mut self) -> &[SegmentRow] {
        self.rows.make_contiguous()
    }

    /// Bytes buffered.
    pub(crate) fn bytes(&self) -> u64 {
        self.rows
            .iter()
            .map(|r| u64::try_from(r.bytes).unwrap_or(0))
            .sum()
    }

    /// A segment this node took, newest of the buffer, the rendition's `discontinuities`
    /// counted with it: written, listed, then told to the listeners.
    pub(crate) async fn commit(
        &mut self,
        row: SegmentRow,
        discontinuities: u64,
    ) -> sqlx::Result<()> {
        sqlx::query(
            "INSERT INTO live_segments (source_id, rendition, msn, file, duration_ms, \
             discontinuity, pdt_ms, map_file, bytes) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
             ON CONFLICT (source_id, rendition, msn) DO NOTHING",
        )
        .bind(&row.source_id)
        .bind(&row.rendition)
        .bind(row.msn)
        .bind(&row.file)
        .bind(row.duration_ms)
        .bind(row.discontinuity)
        .bind(row.pdt_ms)
        .bind(&row.map_file)
        .bind(row.bytes)
        .execute(&self.db)
        .await?;
        self.rows.push_back(row.clone());
        // No listener (a single node): nobody to tell.
        let _ = self.committed.send(Committed {
            row,
            discontinuities,
        });
        Ok(())
    }

    /// A segment another node committed (its row in the database already): listed in order,
    /// after the rows between the newest known and it, which this node missed; one listed
    /// already is left as it is.
    pub(crate) async fn admit(&mut self, row: SegmentRow) -> sqlx::Result<()> {
        if self.rows.iter().any(|r| r.msn == row.msn) {
            return Ok(());
        }
        if let Some(newest) = self.rows.back().map(|r| r.msn)
            && row.msn > newest.saturating_add(1)
        {
            let missed: Vec<SegmentRow> =
                sqlx::query_as(select_segments!("AND msn > $3 AND msn < $4 ORDER BY msn"))
                    .bind(&self.source_id)
                    .bind(&self.rendition)
                    .bind(newest)
                    .bind(row.msn)
                    .fetch_all(&self.db)
                    .await?;
            self.rows.extend(missed);
        }
        let at = self
            .rows
            .iter()
            .position(|r| r.msn > row.msn)
            .unwrap_or(self.rows.len());
        self.rows.insert(at, row);
        Ok(())
    }

    /// The rows other nodes wrote after the newest listed here; how many.
    pub(crate) async fn follow(&mut self) -> sqlx::Result<usize> {
        let newest = self.rows.back().map_or(-1, |r| r.msn);
        let rows: Vec<SegmentRow> = sqlx::query_as(select_segments!("AND msn > $3 ORDER BY msn"))
            .bind(&self.source_id)
            .bind(&self.rendition)
            .bind(newest)
            .fetch_all(&self.db)
            .await?;
        let added = rows.len();
        self.rows.extend(rows);
        Ok(added)
    }

    /// Drops the oldest segments that `keep` does not keep, from memory and the database,
    /// handing each to `dropped` (its file is the caller's).
    pub(crate) async fn prune(
        &mut self,
        keep: &Keep<'_>,
        mut dropped: impl FnMut(&SegmentRow),
    ) -> sqlx::Result<()> {
        let mut bytes = self.bytes();
        while self.rows.len() > keep.window {
            let Some(front) = self.rows.front() else {
                break;
            };
            let expired = front.pdt_ms + front.duration_ms < keep.horizon_ms && !(keep.held)(front);
            if !expired && bytes <= keep.budget {
                break;
            }
            let Some(old) = self.rows.pop_front() else {
                break;
            };
            bytes = bytes.saturating_sub(u64::try_from(old.bytes).unwrap_or(0));
            dropped(&old);
            sqlx::query(
                "DELETE FROM live_segments WHERE source_id = $1 AND rendition = $2 AND msn = $3",
            )
            .bind(&self.source_id)
            .bind(&self.rendition)
            .bind(old.msn)
            .execute(&self.db)
            .await?;
        }
        Ok(())
    }
}

/// When the newest segment of source `id` (any rendition) ends, unix ms.
pub(super) async fn last_end_ms(db: &AnyPool, id: &str) -> sqlx::Result<Option<i64>> {
    let (end,): (Option<i64>,) =
        sqlx::query_as("SELECT MAX(pdt_ms + duration_ms) FROM live_segments WHERE source_id = $1")
            .bind(id)
            .fetch_one(db)
            .await?;
    Ok(end)
}

/// Forgets every buffered segment of source `id` (the source is being deleted).
pub(super) async fn forget_source(db: &AnyPool, id: &str) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM live_segments WHERE source_id = $1")
        .bind(id)
        .execute(db)
        .await?;
    Ok(())
}
