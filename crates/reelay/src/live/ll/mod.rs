//! Low-Latency HLS (RFC 8216bis): streaming uploads cut into parts as they arrive
//! ([`ingest`]), the parts published per rendition with their wake-ups and the events an
//! edge's part forwarder and the cluster's bus listen to ([`published`]), the one wake-up per
//! connection thread and publication ([`wake`]), the segment growing from its parts
//! ([`growing`]), one rendering of a playlist per publication ([`renderings`]), LL playlists
//! and blocking reloads over the live window ([`view`]), and parts told to and by other nodes
//! of a cluster ([`bus`]).

pub(crate) mod bus;
pub(crate) mod growing;
pub(crate) mod ingest;
pub(crate) mod published;
pub(crate) mod renderings;
pub mod view;
pub(crate) mod wake;
