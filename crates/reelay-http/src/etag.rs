//! Entity tags (RFC 9110 §8.8.3) and the lists carried by `If-Match` / `If-None-Match`.
//!
//! An `etagc` may contain commas, so lists are read with a small scanner rather than split on
//! `,`. Elements that do not parse are skipped: a garbage `If-Match` therefore matches nothing
//! (412), and a garbage `If-None-Match` matches nothing (the request proceeds).

use std::fmt;

/// An entity tag; `opaque` excludes the surrounding quotes.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct EntityTag {
    pub weak: bool,
    pub opaque: String,
}

fn is_etagc(b: u8) -> bool {
    b == 0x21 || (0x23..=0x7e).contains(&b) || b >= 0x80
}

impl EntityTag {
    /// A strong tag; `opaque` must consist of `etagc` bytes (checked, `None` otherwise).
    pub fn strong(opaque: impl Into<String>) -> Option<Self> {
        let opaque = opaque.into();
        opaque.bytes().all(is_etagc).then_some(Self {
            weak: false,
            opaque,
        })
    }

    /// The tag as a field value (`"…"` or `W/"…"`), in a string of exactly its length.
    pub fn field_value(&self) -> String {
        let prefix = if self.weak { "W/" } else { "" };
        let mut out = String::with_capacity(prefix.len() + self.opaque.len() + 2);
        out.push_str(prefix);
        out.push('"');
        out.push_str(&self.opaque);
        out.push('"');
        out
    }

    /// Strong comparison (§8.8.3.2): both strong and the same opaque tag.
    pub fn strong_eq(&self, other: &Self) -> bool {
        !self.weak && !other.weak && self.opaque == other.opaque
    }

    /// Weak comparison: the same opaque tag, whatever the weakness.
    pub fn weak_eq(&self, other: &Self) -> bool {
        self.opaque == other.opaque
    }

    /// Parses one entity-tag from the start of `s`, returning it and the rest.
    fn scan(s: &[u8]) -> Option<(Self, &[u8])> {
        let (weak, s) = match s {
            [b'W', b'/', rest @ ..] => (true, rest),
            _ => (false, s),
        };
        let rest = s.strip_prefix(b"\"")?;
        let close = rest.iter().position(|&b| b == b'"')?;
        let body = &rest[..close];
        if !body.iter().all(|&b| is_etagc(b)) {
            return None;
        }
        let opaque = String::from_utf8(body.to_vec()).ok()?;
        Some((Self { weak, opaque }, &rest[close + 1..]))
    }

    /// Parses a field value holding exactly one entity-tag (e.g. `If-Range`, `ETag`).
    pub fn parse(value: &[u8]) -> Option<Self> {
        let value = value.trim_ascii();
        let (tag, rest) = Self::scan(value)?;
        rest.is_empty().then_some(tag)
    }
}

impl fmt::Display for EntityTag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.weak {
            f.write_str("W/")?;
        }
        write!(f, "\"{}\"", self.opaque)
    }
}

/// The value of an `If-Match` or `If-None-Match` condition, all field lines combined.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EtagCondition {
    /// `*`: matches any current representation.
    Any,
    /// The listed tags (possibly none, if nothing parsed).
    Tags(Vec<EntityTag>),
}

impl EtagCondition {
    /// Combines the field lines of one header into a condition.
    pub fn parse<'a>(lines: impl IntoIterator<Item = &'a [u8]>) -> Self {
        let mut tags = Vec::new();
        for line in lines {
            if line.trim_ascii() == b"*" {
                return Self::Any;
            }
            scan_list(line, &mut tags);
        }
        Self::Tags(tags)
    }

    /// Whether `current` (the representation's tag, if it has one) matches, strongly or weakly.
    pub fn matches(&self, current: Option<&EntityTag>, strong: bool) -> bool {
        match (self, current) {
            (Self::Any, _) => true,
            (Self::Tags(_), None) => false,
            (Self::Tags(tags), Some(cur)) => tags.iter().any(|t| {
                if strong {
                    t.strong_eq(cur)
                } else {
                    t.weak_eq(cur)
                }
            }),
        }
    }
}

/// Scans a `#entity-tag` list; stops at the first element that does not parse.
fn scan_list(mut s: &[u8], out: &mut Vec<EntityTag>) {
    loop {
        s = s.trim_ascii_start();
        while let [b',', rest @ ..] = s {
            s = rest.trim_ascii_start();
        }
        if s.is_empty() {
            return;
        }
        match EntityTag::scan(s) {
            Some((tag, rest)) => {
                out.push(tag);
                s = rest;
            }
            None => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tag(weak: bool, o: &str) -> EntityTag {
        EntityTag {
            weak,
            opaque: o.into(),
        }
    }

    #[test]
    fn parses_and_formats() {
        assert_eq!(EntityTag::parse(b"\"abc\""), Some(tag(false, "abc")));
        assert_eq!(EntityTag::parse(b" W/\"a,b\" "), Some(tag(true, "a,b")));
        assert_eq!(EntityTag::parse(b"abc"), None);
        assert_eq!(EntityTag::parse(b"\"abc\"x"), None);
        assert_eq!(tag(true, "x").to_string(), "W/\"x\"");
        for t in [tag(true, "x"), tag(false, "a-1.2"), tag(false, "")] {
            let value = t.field_value();
            assert_eq!(value, t.to_string());
            assert_eq!(value.len(), value.capacity(), "no spare room");
            assert_eq!(EntityTag::parse(value.as_bytes()), Some(t));
        }
    }

    #[test]
    fn lists_with_commas_inside_tags() {
        let cond = EtagCondition::parse([&b"\"a,b\", W/\"c\""[..], b"\"d\""]);
        assert_eq!(
            cond,
            EtagCondition::Tags(vec![tag(false, "a,b"), tag(true, "c"), tag(false, "d")])
        );
    }

    #[test]
    fn star_matches_everything() {
        assert!(EtagCondition::parse([&b"*"[..]]).matches(None, true));
    }

    #[test]
    fn strong_and_weak_comparison() {
        let cond = EtagCondition::parse([&b"W/\"x\""[..]]);
        assert!(!cond.matches(Some(&tag(false, "x")), true));
        assert!(cond.matches(Some(&tag(false, "x")), false));
    }

    #[test]
    fn garbage_matches_nothing() {
        let cond = EtagCondition::parse([&b"garbage"[..]]);
        assert!(!cond.matches(Some(&tag(false, "garbage")), false));
    }
}
