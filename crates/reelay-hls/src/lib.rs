//! Pure RFC 8216 logic for reelay (and the fMP4 framing LL-HLS parts are cut from): values in,
//! values out; no I/O, no async runtime.
//!
//! - [`ingest`]: parsing playlists pushed by encoders, with hard limits (hostile input is an
//!   error, never a crash or a stall);
//! - [`live`]: building live windows, EVENT and VOD playlists, and checking playlists against
//!   the RFC's rules;
//! - [`multivariant`]: parsing a pushed multivariant playlist (same limits) and rendering the
//!   one served for a source with several renditions;
//! - [`ll`] and [`ll_check`]: Low-Latency HLS media playlists (RFC 8216bis) — the model and
//!   its rendering, and a checker of the RFC's rules for any playlist text;
//! - [`fmp4`]: fragmented MP4 init segments' tracks, and media segments cut into their
//!   fragments (LL-HLS parts) while they arrive;
//! - [`part_log`]: one LL rendition's live edge as parts and segments arrive, and the
//!   playlist (full or delta) to serve from it;
//! - [`uris`]: a viewer's signed query put on every URI of a playlist rendered once;
//! - [`blocking`]: blocking playlist reload and delta-update queries, their limits and when a
//!   held request is answered.

pub mod blocking;
pub mod fmp4;
pub mod ingest;
pub mod live;
pub mod ll;
pub mod ll_check;
pub mod multivariant;
pub mod part_log;
pub mod uris;

pub use blocking::{LiveEdge, LlQuery, LlQueryError, Position, Skip, parse_ll_query};
pub use ingest::{
    IngestPlaylist, IngestSegment, PlaylistError, dash_chunk_stream, is_plain_name,
    parse_ingest_playlist,
};
pub use live::{
    MediaPlaylist, PlaylistKind, PlaylistSegment, check_media_playlist, format_program_date_time,
};
pub use ll::{LlPlaylist, LlSegment, Part, RenditionReport};
pub use ll_check::check_ll_media_playlist;
pub use multivariant::{
    Media, MediaType, Multivariant, Variant, is_multivariant, is_rendition_name, parse_multivariant,
};
pub use part_log::PartLog;
pub use uris::with_query;
