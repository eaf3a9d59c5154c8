//! What an operator does to live sources and recordings — through the API, LiveMix's API or
//! the UI — as verbs that keep their own invariants, so the HTTP layer only calls them: every
//! change is announced to the edges long-polling on any node of the cluster
//! ([`Live::changed`]), and a deleted source's windows and Low-Latency parts are dropped here.
//! Starting a recording (`window.rs`) announces itself the same way.

use super::sources::SourceRow;
use super::{Live, LiveError};

/// A source to create.
#[derive(Debug, Clone, Copy)]
pub(crate) struct NewSource<'a> {
    pub name: &'a str,
    pub(crate) description: &'a str,
    /// Seconds.
    pub(crate) target_duration: i64,
    /// Watchable without a token.
    pub(crate) public: bool,
}

/// What changes of a source (absent: unchanged).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct SourceChange<'a> {
    pub name: Option<&'a str>,
    pub(crate) description: Option<&'a str>,
    pub(crate) target_duration: Option<i64>,
    pub(crate) public: Option<bool>,
}

impl Live {
    /// Creates a source: it, and its ingest token (shown once).
    pub(crate) async fn create_source(
        &self,
        new: NewSource<'_>,
    ) -> Result<(SourceRow, String), LiveError> {
        let (mut row, token) = self
            .sources
            .create(new.name, new.description, new.target_duration)
            .await?;
        if new.public {
            self.sources.set_public(&row.id, true).await?;
            row.public = 1;
        }
        self.changed();
        Ok((row, token))
    }

    /// Changes source `id` as `change` says.
    pub(crate) async fn change_source(
        &self,
        id: &str,
        change: SourceChange<'_>,
    ) -> Result<(), LiveError> {
        self.sources
            .update(id, change.name, change.description, change.target_duration)
            .await?;
        if let Some(public) = change.public {
            self.sources.set_public(id, public).await?;
        }
        self.changed();
        Ok(())
    }

    /// Turns source `id`'s streaming through this node on or off.
    pub(crate) async fn set_streaming(&self, id: &str, on: bool) -> Result<(), LiveError> {
        self.sources.set_streaming(id, on).await?;
        self.changed();
        Ok(())
    }

    /// Deletes source `id` and what this node holds of it.
    pub(crate) async fn delete_source(&self, id: &str) -> Result<(), LiveError> {
        self.delete_rows(id).await?;
        self.drop_source(id);
        self.changed();
        Ok(())
    }

    /// Forgets what this node holds of source `id` — its buffered segments, its rows, its
    /// files — whatever the database answers (an edge following its control node, which
    /// deleted the source).
    pub(crate) async fn forget_source(&self, id: &str) {
        if let Err(e) = self.delete_rows(id).await {
            tracing::warn!(error = %e, source = id, "cannot delete a removed source's rows");
        }
        self.drop_source(id);
    }

    /// Source `id`'s rows: its buffered segments first, then the source.
    async fn delete_rows(&self, id: &str) -> sqlx::Result<()> {
        super::buffer::forget_source(&self.db, id).await?;
        self.sources.delete(id).await
    }

    /// Stops recording `id` at `end_ms` (already stopped: nothing changes).
    pub(crate) async fn stop_recording(&self, id: &str, end_ms: i64) -> Result<(), LiveError> {
        self.recordings()?.stop(id, end_ms).await?;
        self.changed();
        Ok(())
    }

    /// Deletes recording `id` (and the stored segments no other recording uses).
    pub(crate) async fn delete_recording(&self, id: &str) -> Result<(), LiveError> {
        self.recordings()?.delete(id).await?;
        self.changed();
        Ok(())
    }
}
