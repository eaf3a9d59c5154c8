//! Media types by file extension. A small owned table rather than a general MIME database: the
//! values that players care about (`video/mp2t` for `.ts`, the HLS and DASH types, `text/vtt`)
//! are exact here, and everything unknown is `application/octet-stream`.

const TABLE: &[(&str, &str)] = &[
    ("mp4", "video/mp4"),
    ("m4v", "video/mp4"),
    ("mov", "video/quicktime"),
    ("webm", "video/webm"),
    ("mkv", "video/x-matroska"),
    ("ts", "video/mp2t"),
    ("m2ts", "video/mp2t"),
    ("m4s", "video/iso.segment"),
    ("avi", "video/x-msvideo"),
    ("ogv", "video/ogg"),
    ("m4a", "audio/mp4"),
    ("mp3", "audio/mpeg"),
    ("aac", "audio/aac"),
    ("ogg", "audio/ogg"),
    ("oga", "audio/ogg"),
    ("opus", "audio/ogg"),
    ("flac", "audio/flac"),
    ("wav", "audio/wav"),
    ("m3u8", "application/vnd.apple.mpegurl"),
    ("mpd", "application/dash+xml"),
    ("vtt", "text/vtt; charset=utf-8"),
    ("srt", "application/x-subrip"),
    ("jpg", "image/jpeg"),
    ("jpeg", "image/jpeg"),
    ("png", "image/png"),
    ("gif", "image/gif"),
    ("webp", "image/webp"),
    ("avif", "image/avif"),
    ("svg", "image/svg+xml"),
    ("html", "text/html; charset=utf-8"),
    ("css", "text/css; charset=utf-8"),
    ("js", "text/javascript; charset=utf-8"),
    ("json", "application/json"),
    ("txt", "text/plain; charset=utf-8"),
    ("pdf", "application/pdf"),
];

/// The type used when the extension is unknown.
pub const DEFAULT_CONTENT_TYPE: &str = "application/octet-stream";

/// The media type for `path`, chosen by its extension (case-insensitive).
pub fn content_type_for(path: &str) -> &'static str {
    let name = path.rsplit('/').next().unwrap_or(path);
    let Some((_, ext)) = name.rsplit_once('.') else {
        return DEFAULT_CONTENT_TYPE;
    };
    TABLE
        .iter()
        .find(|(e, _)| e.eq_ignore_ascii_case(ext))
        .map_or(DEFAULT_CONTENT_TYPE, |(_, t)| t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_extensions() {
        assert_eq!(content_type_for("a/b/clip.MP4"), "video/mp4");
        assert_eq!(content_type_for("seg0.ts"), "video/mp2t");
        assert_eq!(content_type_for("x.m3u8"), "application/vnd.apple.mpegurl");
        assert_eq!(content_type_for("noext"), DEFAULT_CONTENT_TYPE);
        assert_eq!(content_type_for("dir.mp4/file"), DEFAULT_CONTENT_TYPE);
    }
}
