//! A segment in a source's buffer, as its database row: what the window, recordings and the
//! edge's forwarders know of it.

/// A segment in a source's buffer.
#[derive(Debug, Clone, sqlx::FromRow, serde::Serialize, serde::Deserialize)]
pub struct SegmentRow {
    pub source_id: String,
    /// The rendition it belongs to (`sources::PRIMARY` for a single-playlist source).
    pub rendition: String,
    pub msn: i64,
    /// Its file under the source's `segments/`: `<msn>.<ext>` for the primary rendition,
    /// `<rendition>/<msn>.<ext>` for the others (so recording keys follow the same shape).
    pub file: String,
    pub duration_ms: i64,
    pub discontinuity: i64,
    pub pdt_ms: i64,
    pub map_file: Option<String>,
    pub bytes: i64,
}

/// Where a file `name` of `rendition` lives under a source's `segments/` (and in recordings).
pub fn rendition_file(rendition: &str, name: &str) -> String {
    if rendition == super::sources::PRIMARY {
        name.to_owned()
    } else {
        format!("{rendition}/{name}")
    }
}

/// The file's own name, as a playlist of its rendition lists it.
pub fn file_name(file: &str) -> &str {
    file.rsplit('/').next().unwrap_or(file)
}
