//! What can go wrong in the live relay, saying who failed: the request (`NoSource`, `Invalid`,
//! `NameTaken`, `Conflict`, `Forbidden`, `Body`), this node (`NotConfigured`, `Io`,
//! `Internal`), the metadata database (`Db`), a cluster engine (`Cluster`) or the recordings
//! bucket's store (`Storage`).
//! The HTTP layer maps each to a status in one table; the texts of `Db`, `Io`, `Internal` and a
//! failed store are for the log only.

use crate::storage::{PutError, StorageError};
use crate::stream::BodyError;

#[derive(Debug, thiserror::Error)]
pub enum LiveError {
    #[error("no source {0:?}")]
    NoSource(String),
    #[error("no recording {0:?}")]
    NoRecording(String),
    /// Streaming is off, or nothing has arrived yet: nothing to play.
    #[error("{0}")]
    NothingToPlay(&'static str),
    /// What a blocking request waits for did not come in time: asking again is safe.
    #[error("{0}")]
    NotYet(&'static str),
    /// This node holds as many waiting requests as it may: asking again shortly is safe.
    #[error("{0}")]
    Busy(&'static str),
    /// A part of the relay this node does not run (the live relay, LiveMix ingest,
    /// recordings).
    #[error("{0}")]
    NotConfigured(&'static str),
    #[error("a source named {0:?} already exists")]
    NameTaken(String),
    /// The request is malformed: the message says how.
    #[error("{0}")]
    Invalid(String),
    /// The request clashes with the relay's state.
    #[error("{0}")]
    Conflict(String),
    /// The request may not touch what it names.
    #[error("{0}")]
    Forbidden(&'static str),
    #[error(transparent)]
    Body(#[from] BodyError),
    #[error("metadata database: {0}")]
    Db(#[from] sqlx::Error),
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// A cluster engine (the shared tier) failed: retrying later is safe.
    #[error(transparent)]
    Cluster(#[from] crate::cluster::ClusterError),
    #[error("live buffer I/O: {0}")]
    Io(#[from] std::io::Error),
    /// A bug: a value the relay made itself does not hold.
    #[error("{0}")]
    Internal(String),
}

impl From<PutError> for LiveError {
    fn from(e: PutError) -> Self {
        match e {
            PutError::Body(e) => Self::Body(e),
            PutError::Storage(e) => Self::Storage(e),
        }
    }
}
