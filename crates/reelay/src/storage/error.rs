//! Who failed when storage fails: the object's answer (`NotFound`, `Forbidden`), the store
//! (`Backend*`: their detail is for the log, only a `BackendDenied` reason for the client), a
//! clash with what is stored (`Conflict`, `InvalidKey`), a version change mid-read (`Changed`)
//! or this node's I/O (`Io`). Storing a body can also fail because of the body ([`PutError`]).

use std::borrow::Cow;
use std::io;

use crate::stream::BodyError;

/// A backend failure: who failed, and whether trying again may help.
///
/// `NotFound` and `Forbidden` are answers about the object (404/403). The `Backend*` variants
/// mean the store itself failed (reelay answers 502/504; the detail they carry is for the log,
/// never for the client). `Changed` means the object was replaced while being read: the
/// response is aborted rather than mixing two versions. `Conflict` is the request's clash with
/// what is stored (a key under a file, a read-only bucket), in words meant for the client.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("no such object")]
    NotFound,
    #[error("access denied")]
    Forbidden,
    /// The store refused us; `reason` is written for the client, `detail` for the log.
    #[error("the storage backend denied access: {reason} ({detail})")]
    BackendDenied {
        reason: Cow<'static, str>,
        detail: String,
    },
    #[error("the storage backend is unreachable: {0}")]
    BackendUnavailable(String),
    #[error("the storage backend timed out: {0}")]
    BackendTimeout(String),
    #[error("the storage backend failed: {0}")]
    Backend(String),
    #[error("the object changed while it was being read")]
    Changed,
    #[error("{0}")]
    Conflict(String),
    /// A key this bucket cannot hold (an origin resolver's id rules, say).
    #[error("{0}")]
    InvalidKey(String),
    #[error("backend I/O failed: {0}")]
    Io(#[from] io::Error),
    /// A cap of this node's is reached (resolver slots): retrying shortly is safe.
    #[error("{0}")]
    Busy(String),
}

/// Why storing a body failed: the body (the sender's fault) or the store.
#[derive(Debug, thiserror::Error)]
pub enum PutError {
    #[error(transparent)]
    Body(#[from] BodyError),
    #[error(transparent)]
    Storage(#[from] StorageError),
}

impl From<io::Error> for PutError {
    fn from(e: io::Error) -> Self {
        Self::Storage(StorageError::Io(e))
    }
}

impl StorageError {
    /// The store refused us: `reason` (made of fixed phrases) may be shown to the client.
    pub(crate) fn denied(reason: impl Into<Cow<'static, str>>, detail: impl Into<String>) -> Self {
        Self::BackendDenied {
            reason: reason.into(),
            detail: detail.into(),
        }
    }

    /// The same failure again, for each of several requests that waited on one attempt.
    pub(crate) fn duplicate(&self) -> Self {
        match self {
            Self::NotFound => Self::NotFound,
            Self::Forbidden => Self::Forbidden,
            Self::BackendDenied { reason, detail } => Self::denied(reason.clone(), detail.clone()),
            Self::BackendUnavailable(m) => Self::BackendUnavailable(m.clone()),
            Self::BackendTimeout(m) => Self::BackendTimeout(m.clone()),
            Self::Backend(m) => Self::Backend(m.clone()),
            Self::Changed => Self::Changed,
            Self::Conflict(m) => Self::Conflict(m.clone()),
            Self::InvalidKey(m) => Self::InvalidKey(m.clone()),
            Self::Io(e) => Self::Io(io::Error::new(e.kind(), e.to_string())),
            Self::Busy(m) => Self::Busy(m.clone()),
        }
    }

    /// Whether the same request may succeed if tried again.
    pub(crate) fn is_retryable(&self) -> bool {
        matches!(
            self,
            Self::BackendUnavailable(_) | Self::BackendTimeout(_) | Self::Backend(_)
        )
    }
}
