//! Which live streams play without a token: every source's with `[live] public = true`, else
//! those of sources marked public, and the recordings of those sources. The HTTP layer's
//! authorization asks before it demands credentials on a live or recording route. Sources are
//! read as viewing reads them (`Lookup::Viewing`: a row read within the last second is used as
//! it is, so a source made private on another node of a cluster is private here within a
//! second — at once when changed through this node; while the database is down, the row last
//! read stands in, so a public stream stays public through an outage); a lookup that fails with
//! no such row answers "not public" (logged): an outage never opens a private stream.

use super::{Live, Lookup};

impl Live {
    /// Whether source `id_or_name` (live playlist and segments) plays without a token.
    pub(crate) async fn source_is_public(&self, id_or_name: &str) -> bool {
        if self.settings.public {
            return true;
        }
        match self.sources.lookup(id_or_name, Lookup::Viewing).await {
            Ok(row) => row.is_some_and(|r| r.public != 0),
            Err(e) => {
                tracing::warn!(error = %e, "cannot tell whether a source is public");
                false
            }
        }
    }

    /// Whether recording `id` (its playlists and segments) plays without a token: its source
    /// is public.
    pub(crate) async fn recording_is_public(&self, id: &str) -> bool {
        if self.settings.public {
            return true;
        }
        let Some(recordings) = self.recordings.as_ref() else {
            return false;
        };
        match recordings.get(id).await {
            Ok(Some(rec)) => self.source_is_public(&rec.source_id).await,
            Ok(None) => false,
            Err(e) => {
                tracing::warn!(error = %e, "cannot tell whether a recording is public");
                false
            }
        }
    }
}
