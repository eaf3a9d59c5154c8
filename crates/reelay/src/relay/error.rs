//! What can go wrong on the control node's side of the relay, saying who failed: the edge's
//! credentials (`Denied`), its request (`Invalid`, `OtherEdge`), or the live relay and the
//! metadata database beneath (`Live`, `Db`, whose texts are for the log only).

use crate::auth::Denied;
use crate::live::LiveError;

#[derive(Debug, thiserror::Error)]
pub(crate) enum RelayError {
    #[error(transparent)]
    Denied(#[from] Denied),
    /// The source is bound to another edge.
    #[error("source {0} comes through another edge")]
    OtherEdge(String),
    /// A malformed name or header: the message says which.
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Live(#[from] LiveError),
    #[error("metadata database: {0}")]
    Db(#[from] sqlx::Error),
}
