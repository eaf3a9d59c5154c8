//! Object keys and bucket names: what a request may name.
//!
//! # Security model
//!
//! A key arrives percent-decoded exactly once (by the router). It is then checked here, before
//! any backend sees it, and refused (400) when it could mean anything other than one object
//! below the bucket root:
//! - empty, longer than [`MAX_KEY_LEN`] bytes, with a segment longer than [`MAX_SEGMENT_LEN`]
//!   bytes, or with an empty segment (`//`, leading or
//!   trailing `/`) — so there is no way to name the root or an absolute path;
//! - a `.` or `..` segment (covers `../`, `%2e%2e/` and `..%2f` after the one decoding), or
//!   any segment starting with `.`: hidden files (`.git/`, `.env`, reelay's own `.reelay-tmp/`
//!   uploads in progress) are never served, listed or written;
//! - a backslash (`%5c`), NUL (`%00`) or any other control character.
//!
//! A key like `%2e%2e` (from `%252e%252e`) is a legal, literal file name and is simply not found.
//! Symlinks are the filesystem backend's business: it opens with `RESOLVE_BENEATH`, so a link
//! that leads outside the root fails to open (404), whatever the key looked like.

use std::fmt;

/// Longest accepted key, in bytes (S3's limit).
pub(crate) const MAX_KEY_LEN: usize = crate::rules::MAX_KEY_BYTES;

/// Longest segment of a key, in bytes: the longest file name the filesystems a folder bucket
/// lives on take (`NAME_MAX`), so that a key is storable in every kind of bucket.
pub(crate) const MAX_SEGMENT_LEN: usize = crate::rules::MAX_SEGMENT_BYTES;

/// Why a key or bucket name was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("the key is empty")]
    Empty,
    #[error("the key is longer than {MAX_KEY_LEN} bytes")]
    TooLong,
    #[error("a segment of the key is longer than {MAX_SEGMENT_LEN} bytes")]
    SegmentTooLong,
    #[error("the key has an empty path segment")]
    EmptySegment,
    #[error("the key has a '.' or '..' segment")]
    DotSegment,
    #[error("the key has a hidden segment (starting with '.')")]
    HiddenSegment,
    #[error("the key contains a backslash, NUL or control character")]
    ForbiddenCharacter,
    #[error("bucket names are 1-63 characters of A-Z a-z 0-9 . _ - and do not start with '.'")]
    BadBucketName,
}

/// A validated object key: `/`-separated, relative, no dot segments, no control characters.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ObjectKey(String);

impl ObjectKey {
    /// Validates `raw` (already percent-decoded once).
    pub(crate) fn parse(raw: &str) -> Result<Self, KeyError> {
        if raw.is_empty() {
            return Err(KeyError::Empty);
        }
        if raw.len() > MAX_KEY_LEN {
            return Err(KeyError::TooLong);
        }
        if raw.chars().any(|c| c == '\\' || c.is_control()) {
            return Err(KeyError::ForbiddenCharacter);
        }
        for segment in raw.split('/') {
            match segment {
                "" => return Err(KeyError::EmptySegment),
                "." | ".." => return Err(KeyError::DotSegment),
                s if s.starts_with('.') => return Err(KeyError::HiddenSegment),
                s if s.len() > MAX_SEGMENT_LEN => return Err(KeyError::SegmentTooLong),
                _ => {}
            }
        }
        Ok(Self(raw.to_owned()))
    }

    pub(crate) fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ObjectKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Checks a bucket name: 1-63 of `[A-Za-z0-9._-]`, not starting with `.`.
pub fn validate_bucket_name(name: &str) -> Result<(), KeyError> {
    let rule = crate::rules::BUCKET_NAME;
    let ok = (rule.min_len..=rule.max_len).contains(&name.len())
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(KeyError::BadBucketName)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_ordinary_keys() {
        for key in ["a.mp4", "dir/sub/clip.mkv", "%2e%2e", "a..b", "名前.mp3"] {
            assert!(ObjectKey::parse(key).is_ok(), "{key}");
        }
    }

    #[test]
    fn refuses_traversal_and_odd_characters() {
        let cases = [
            ("", KeyError::Empty),
            ("../etc/passwd", KeyError::DotSegment),
            ("a/../../b", KeyError::DotSegment),
            ("a/./b", KeyError::DotSegment),
            (".env", KeyError::HiddenSegment),
            ("a/.git/config", KeyError::HiddenSegment),
            (".reelay-tmp/upload-1", KeyError::HiddenSegment),
            ("/etc/passwd", KeyError::EmptySegment),
            ("a//b", KeyError::EmptySegment),
            ("a/", KeyError::EmptySegment),
            ("..\\x", KeyError::ForbiddenCharacter),
            ("a\0b", KeyError::ForbiddenCharacter),
            ("a\nb", KeyError::ForbiddenCharacter),
        ];
        for (key, err) in cases {
            assert_eq!(ObjectKey::parse(key), Err(err), "{key:?}");
        }
        assert_eq!(
            ObjectKey::parse(&"a".repeat(MAX_KEY_LEN + 1)),
            Err(KeyError::TooLong)
        );
    }

    #[test]
    fn bucket_names() {
        assert!(validate_bucket_name("Videos_2024-a.b").is_ok());
        for bad in ["", ".x", "a/b", "a b", &"x".repeat(64)] {
            assert!(validate_bucket_name(bad).is_err(), "{bad}");
        }
    }
}
