//! The rules a request's values obey, each declared once: the validator that enforces a rule
//! reads the same constant as the OpenAPI document that states it (`http/wiring/openapi_rules.rs`
//! places each on the parameters and fields it governs), so a generated client or validator
//! sees exactly what the server applies.
//!
//! A pattern is written in the part of regular-expression syntax that ECMA-262 (the dialect of
//! JSON Schema) and the `regex` crate read alike, with one exception: a leading negative
//! lookahead `(?!…)`, which ECMA-262 reads and the `regex` crate does not. The tests hold the
//! name, key and file validators to their patterns over strings on both sides of every edge, and
//! the token-name and signed-path patterns to the cases their handlers decide.

/// A text value: its length in characters and the pattern it matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Text {
    pub(crate) min_len: usize,
    pub(crate) max_len: usize,
    pub(crate) pattern: &'static str,
}

/// An integer value's inclusive bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Range {
    pub(crate) min: i64,
    pub(crate) max: i64,
}

impl Range {
    pub(crate) fn admits(self, value: i64) -> bool {
        (self.min..=self.max).contains(&value)
    }
}

/// What no name or key may hold: a backslash or a control character (Unicode's `Cc`).
macro_rules! no_control {
    () => {
        r"\\\u0000-\u001f\u007f-\u009f"
    };
}

/// Bucket names: 1-63 of `A-Z a-z 0-9 . _ -`, not starting with `.`.
pub(crate) const BUCKET_NAME: Text = Text {
    min_len: 1,
    max_len: 63,
    pattern: r"^[A-Za-z0-9_-][A-Za-z0-9._-]*$",
};

/// Source and edge names: as bucket names, and never shaped like a source id.
pub(crate) const SOURCE_NAME: Text = Text {
    min_len: 1,
    max_len: 63,
    pattern: r"^(?!src_)[A-Za-z0-9_-][A-Za-z0-9._-]*$",
};

/// What a URL names a source, an edge or a recording by: a name or an id (`src_…`, `edg_…`,
/// `rec_…`), the same characters.
pub(crate) const NAME_OR_ID: Text = BUCKET_NAME;

/// Object keys: `/`-separated segments of 1-255 characters, none starting with `.`, no
/// backslash or control character; at most 1024 characters. The server counts bytes of UTF-8
/// ([`MAX_KEY_BYTES`], S3's limit; [`MAX_SEGMENT_BYTES`], a file name's), which only keys of
/// characters beyond ASCII reach before the characters a pattern counts.
pub(crate) const OBJECT_KEY: Text = Text {
    min_len: 1,
    max_len: 1024,
    pattern: concat!(
        r"^[^./",
        no_control!(),
        r"][^/",
        no_control!(),
        r"]{0,254}(/[^./",
        no_control!(),
        r"][^/",
        no_control!(),
        r"]{0,254})*$"
    ),
};

/// The longest object key, in bytes.
pub(crate) const MAX_KEY_BYTES: usize = 1024;

/// The longest segment of an object key, in bytes.
pub(crate) const MAX_SEGMENT_BYTES: usize = 255;

/// A file of a live source or a recording: a plain name (`reelay_hls::is_plain_name`).
pub(crate) const PLAIN_FILE: Text = Text {
    min_len: 1,
    max_len: 128,
    pattern: r"^[A-Za-z0-9_-][A-Za-z0-9._-]*$",
};

/// A token's label for people: printable, not only spaces (leading and trailing spaces are
/// trimmed).
pub(crate) const TOKEN_NAME: Text = Text {
    min_len: 1,
    max_len: 200,
    pattern: concat!(
        r"^[^",
        no_control!(),
        r"]*[^\s",
        no_control!(),
        r"][^",
        no_control!(),
        r"]*$"
    ),
};

/// The longest name a download is saved under (`?download=`): 255 bytes of UTF-8, which only
/// names of characters beyond ASCII reach before 255 characters.
pub(crate) const DOWNLOAD_NAME_LEN: usize = 255;

/// The roles a token may have.
pub(crate) const ROLES: [&str; 3] = ["read", "write", "admin"];

/// A live source's target segment length, seconds.
pub(crate) const TARGET_DURATION: Range = Range { min: 1, max: 30 };

/// A page of an object listing.
pub(crate) const LIST_LIMIT: Range = Range { min: 1, max: 1000 };

/// A signed URL's lifetime, seconds: up to 7 days.
pub(crate) const SIGN_EXPIRES_IN: Range = Range {
    min: 1,
    max: 7 * 24 * 3600,
};

/// A path a URL may be signed for: one of the playback prefixes, then characters a URL path
/// holds as they are, and percent-escapes that decode to UTF-8 — an escaped ASCII byte but `/`,
/// or a whole character of two to four bytes as RFC 3629 §4 writes them; no query or fragment.
pub(crate) const SIGNED_PATH: Text = Text {
    min_len: 6,
    max_len: 4096,
    pattern: concat!(
        r"^/(media|live|recordings|v1/vod/live|v1/vod/recording)/(",
        r"[A-Za-z0-9._~!$&'()*+,;=:@/-]",
        r"|%([01][0-9A-Fa-f]|2[0-9A-Ea-e]|[3-7][0-9A-Fa-f])",
        r"|%([Cc][2-9A-Fa-f]|[Dd][0-9A-Fa-f])%[89AaBb][0-9A-Fa-f]",
        r"|%[Ee]0%[AaBb][0-9A-Fa-f]%[89AaBb][0-9A-Fa-f]",
        r"|%[Ee][1-9AaBbCcEeFf](%[89AaBb][0-9A-Fa-f]){2}",
        r"|%[Ee][Dd]%[89][0-9A-Fa-f]%[89AaBb][0-9A-Fa-f]",
        r"|%[Ff]0%[9AaBb][0-9A-Fa-f](%[89AaBb][0-9A-Fa-f]){2}",
        r"|%[Ff][1-3](%[89AaBb][0-9A-Fa-f]){3}",
        r"|%[Ff]4%8[0-9A-Fa-f](%[89AaBb][0-9A-Fa-f]){2}",
        r")*$"
    ),
};

/// Most sources one edge may be given.
pub(crate) const EDGE_SCOPE_ITEMS: usize = 1000;

/// LiveMix's `new_state`: on or off.
pub(crate) const ON_OFF: [&str; 2] = ["true", "false"];

// The edge protocol's (`relay/protocol.rs`): what an edge's uploads are named and described by.

/// A forwarded segment: `<msn>.ts` or `<msn>.m4s`, the number 1-19 digits.
pub(crate) const SEGMENT_FILE: Text = Text {
    min_len: 4,
    max_len: 23,
    pattern: r"^[0-9]{1,19}\.(ts|m4s)$",
};

/// A forwarded init section: `init-<digits>.mp4`, 1-20 digits.
pub(crate) const INIT_FILE: Text = Text {
    min_len: 10,
    max_len: 29,
    pattern: r"^init-[0-9]{1,20}\.mp4$",
};

/// A forwarded Low-Latency part: `p<msn>-<index>.m4s`, each number 1-19 digits.
pub(crate) const PART_FILE: Text = Text {
    min_len: 8,
    max_len: 44,
    pattern: r"^p[0-9]{1,19}-[0-9]{1,19}\.m4s$",
};

/// A segment's number as a path names it: 1-19 digits.
pub(crate) const SEGMENT_NUMBER: Text = Text {
    min_len: 1,
    max_len: 19,
    pattern: r"^[0-9]{1,19}$",
};

/// A rendition's name (`reelay_hls::is_rendition_name` without `.m3u8`): 1-64 of
/// `A-Z a-z 0-9 _ -`, not starting with `-`.
pub(crate) const RENDITION: Text = Text {
    min_len: 1,
    max_len: 64,
    pattern: r"^[A-Za-z0-9_][A-Za-z0-9_-]*$",
};

/// A forwarded segment's duration, milliseconds: up to 10 minutes.
pub(crate) const SEGMENT_DURATION_MS: Range = Range {
    min: 1,
    max: 10 * 60 * 1000,
};

/// A forwarded part's duration, milliseconds (RFC 8216bis parts are a fraction of a segment).
pub(crate) const PART_DURATION_MS: Range = Range {
    min: 1,
    max: 10_000,
};

/// When a forwarded segment was produced: milliseconds since 1970.
pub(crate) const PRODUCED_MS: Range = Range {
    min: 0,
    max: i64::MAX,
};

/// A flag header: `0` (as absent) or `1`.
pub(crate) const FLAG: [&str; 2] = ["0", "1"];

#[cfg(test)]
#[path = "rules_tests.rs"]
mod tests;
