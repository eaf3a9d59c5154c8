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

/// Latest program date-time a row may carry (2200-01-01, in ms): later is not a clock's.
const PDT_MAX_MS: i64 = 7_258_118_400_000;

/// Whether `id` is a source id as this node makes them (`src_` and hex digits): one plain
/// folder name under the live folder.
pub(crate) fn is_source_id(id: &str) -> bool {
    id.strip_prefix("src_").is_some_and(|hex| {
        (1..=32).contains(&hex.len()) && hex.bytes().all(|b| b.is_ascii_hexdigit())
    })
}

/// Whether `rendition` is a rendition name (the name of a media playlist without `.m3u8`).
pub(crate) fn is_rendition(rendition: &str) -> bool {
    reelay_hls::is_rendition_name(&format!("{rendition}.m3u8"))
}

/// Whether `name` is a segment's own file name as this node gives it: `<msn>.<ext>`, the
/// extension 1-16 of `A-Z a-z 0-9` (the encoder's, or the edge protocol's).
fn is_segment_name(name: &str, msn: i64) -> bool {
    let Some((number, ext)) = name.split_once('.') else {
        return false;
    };
    number == msn.to_string()
        && (1..=16).contains(&ext.len())
        && ext.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// Whether `name` is an init section's file name as this node gives it: `init-<digits>.mp4`.
pub fn is_init_name(name: &str) -> bool {
    name.strip_prefix("init-")
        .and_then(|r| r.strip_suffix(".mp4"))
        .is_some_and(|n| !n.is_empty() && n.len() <= 20 && n.bytes().all(|b| b.is_ascii_digit()))
}

impl SegmentRow {
    /// Whether this row has the shape this node gives its own rows — what a row another node
    /// announced must have before it is listed, pruned or recorded here: a source id, a
    /// rendition name, the file `<msn>.<ext>` in the rendition's folder and an init section
    /// named as init sections are, a duration within the longest target duration, a size
    /// within `max_bytes`, a flag of 0 or 1, a time a clock could give. `Err` names the field.
    pub(crate) fn check_shape(&self, max_bytes: u64) -> Result<(), &'static str> {
        let rendition_name = |file: &str| -> Option<String> {
            let name = file_name(file);
            (rendition_file(&self.rendition, name) == file).then(|| name.to_owned())
        };
        let max_duration = (super::sources::MAX_TARGET_DURATION + 1) * 1000;
        if !is_source_id(&self.source_id) {
            return Err("source");
        }
        if !is_rendition(&self.rendition) {
            return Err("rendition");
        }
        if self.msn < 0
            || !rendition_name(&self.file).is_some_and(|n| is_segment_name(&n, self.msn))
        {
            return Err("file");
        }
        if let Some(map) = &self.map_file
            && !rendition_name(map).is_some_and(|n| is_init_name(&n))
        {
            return Err("map");
        }
        if !(1..=max_duration).contains(&self.duration_ms) {
            return Err("duration");
        }
        if u64::try_from(self.bytes).map_or(true, |b| b > max_bytes) {
            return Err("bytes");
        }
        if !(0..=1).contains(&self.discontinuity) {
            return Err("discontinuity");
        }
        if !(0..=PDT_MAX_MS).contains(&self.pdt_ms) {
            return Err("time");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(rendition: &str, file: &str) -> SegmentRow {
        SegmentRow {
            source_id: "src_0123456789ab".into(),
            rendition: rendition.into(),
            msn: 12,
            file: file.into(),
            duration_ms: 2000,
            discontinuity: 0,
            pdt_ms: 1_800_000_000_000,
            map_file: None,
            bytes: 188_000,
        }
    }

    #[test]
    fn a_row_shaped_as_this_node_makes_them_passes() {
        assert_eq!(row("index", "12.ts").check_shape(1 << 20), Ok(()));
        let mut other = row("media_1", "media_1/12.m4s");
        other.map_file = Some("media_1/init-42.mp4".into());
        assert_eq!(other.check_shape(1 << 20), Ok(()));
    }

    #[test]
    fn a_row_that_names_anything_else_is_refused_by_field() {
        let file = |f: &str| row("index", f).check_shape(1 << 20);
        for bad in [
            "/etc/passwd",
            "../12.ts",
            "media_1/12.ts",
            "12.ts\n#EXT-X-ENDLIST",
            "13.ts",
            "12",
            "12.t/s",
            "12.",
        ] {
            assert_eq!(file(bad), Err("file"), "{bad:?}");
        }
        let mut r = row("index", "12.ts");
        r.source_id = "../../tmp".into();
        assert_eq!(r.check_shape(1 << 20), Err("source"));
        let mut r = row("a/b", "a/b/12.ts");
        assert_eq!(r.check_shape(1 << 20), Err("rendition"));
        r = row("index", "12.ts");
        r.map_file = Some("/etc/init-1.mp4".into());
        assert_eq!(r.check_shape(1 << 20), Err("map"));
        r = row("index", "12.ts");
        r.msn = -1;
        r.file = "-1.ts".into();
        assert_eq!(r.check_shape(1 << 20), Err("file"));
        type Spoil = fn(&mut SegmentRow);
        let checks: [(Spoil, &str); 5] = [
            (|r| r.duration_ms = 0, "duration"),
            (|r| r.duration_ms = 3_600_000, "duration"),
            (|r| r.bytes = (1 << 20) + 1, "bytes"),
            (|r| r.discontinuity = 2, "discontinuity"),
            (|r| r.pdt_ms = i64::MAX, "time"),
        ];
        for (spoil, field) in checks {
            let mut r = row("index", "12.ts");
            spoil(&mut r);
            assert_eq!(r.check_shape(1 << 20), Err(field), "{r:?}");
        }
    }
}
