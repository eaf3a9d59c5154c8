//! `Content-Disposition: attachment` with a file name (RFC 6266 §4, RFC 8187 §3.2).
//!
//! A name can be anything a client asked for (`?download=NAME`) or an object key's last
//! segment, so it is never copied into the header as it is: `filename*` carries it as UTF-8
//! percent-encoded outside RFC 8187's `attr-char` set, and the `filename` fallback for old
//! clients keeps printable ASCII only, with `"`, `\`, `%`, `/` and everything else replaced by
//! `_`. The header value is therefore visible ASCII and spaces only: no CR, LF or quote can end
//! a parameter or a header early.

use std::fmt::Write;

/// Longest name accepted, in bytes of UTF-8 (as most filesystems allow).
pub const MAX_NAME_BYTES: usize = 255;

/// Why a requested download name was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NameError {
    Empty,
    TooLong,
}

impl std::fmt::Display for NameError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Empty => f.write_str("the download name is empty"),
            Self::TooLong => write!(f, "the download name is longer than {MAX_NAME_BYTES} bytes"),
        }
    }
}

/// RFC 8187 `attr-char`: characters `filename*` may carry as they are.
fn is_attr_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&b)
}

/// The `filename` fallback's character for `c`.
fn fallback_char(c: char) -> char {
    match c {
        ' '..='~' if !matches!(c, '"' | '\\' | '%' | '/') => c,
        _ => '_',
    }
}

/// The header value `attachment; filename="…"; filename*=UTF-8''…` for `name`.
pub fn attachment(name: &str) -> Result<String, NameError> {
    if name.is_empty() {
        return Err(NameError::Empty);
    }
    if name.len() > MAX_NAME_BYTES {
        return Err(NameError::TooLong);
    }
    let fallback: String = name.chars().map(fallback_char).collect();
    let mut value = format!("attachment; filename=\"{fallback}\"; filename*=UTF-8''");
    for &b in name.as_bytes() {
        if is_attr_char(b) {
            value.push(char::from(b));
        } else {
            // Writing to a String cannot fail.
            let _ = write!(value, "%{b:02X}");
        }
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_ascii_name_is_both_the_fallback_and_the_extended_value() {
        assert_eq!(
            attachment("clip.mp4").as_deref(),
            Ok("attachment; filename=\"clip.mp4\"; filename*=UTF-8''clip.mp4")
        );
    }

    #[test]
    fn a_utf8_name_is_percent_encoded_and_its_fallback_is_ascii() {
        assert_eq!(
            attachment("Ünïcødé film.mp4").as_deref(),
            Ok("attachment; filename=\"_n_c_d_ film.mp4\"; \
                filename*=UTF-8''%C3%9Cn%C3%AFc%C3%B8d%C3%A9%20film.mp4")
        );
    }

    #[test]
    fn quotes_line_breaks_and_separators_cannot_escape_the_value() {
        let value = attachment("a\"; filename=evil.exe\r\nSet-Cookie: x=1\\/%.mp4").expect("ok");
        assert!(value.bytes().all(|b| (b' '..=b'~').contains(&b)), "{value}");
        assert_eq!(
            value.matches('"').count(),
            2,
            "only the fallback's own quotes"
        );
        assert!(
            value.ends_with("%0D%0ASet-Cookie%3A%20x%3D1%5C%2F%25.mp4"),
            "{value}"
        );
    }

    #[test]
    fn an_empty_or_overlong_name_is_refused() {
        assert_eq!(attachment(""), Err(NameError::Empty));
        assert!(attachment(&"é".repeat(127)).is_ok(), "254 bytes");
        assert_eq!(attachment(&"é".repeat(128)), Err(NameError::TooLong));
    }
}
