//! A segment in a source's buffer, as its database row: what the window, recordings and the
//! edge's forwarders know of it.

/// A segment in a source's buffer.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SegmentRow {
    pub source_id: String,
    pub msn: i64,
    pub file: String,
    pub duration_ms: i64,
    pub discontinuity: i64,
    pub pdt_ms: i64,
    pub map_file: Option<String>,
    pub bytes: i64,
}
