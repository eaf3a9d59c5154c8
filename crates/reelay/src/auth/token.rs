//! API tokens: `rly_<id>_<secret>`, shown once at creation; only SHA-256 of the secret is kept.
//! The id lets a token be found (and revoked) without storing anything that would let it be used.

use std::fmt;

use sha2::{Digest, Sha256};

/// What a token may do; each role includes the ones before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    Read,
    Write,
    Admin,
}

impl Role {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Read => "read",
            Self::Write => "write",
            Self::Admin => "admin",
        }
    }

    pub(crate) fn parse(s: &str) -> Option<Self> {
        match s {
            "read" => Some(Self::Read),
            "write" => Some(Self::Write),
            "admin" => Some(Self::Admin),
            _ => None,
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A token as presented by a client, split into its parts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PresentedToken<'a> {
    pub id: &'a str,
    pub(crate) secret: &'a str,
}

fn is_hex(s: &str, len: usize) -> bool {
    s.len() == len && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Splits `rly_<12 hex>_<64 hex>`; anything else is not a token.
pub(crate) fn parse_token(s: &str) -> Option<PresentedToken<'_>> {
    let rest = s.strip_prefix("rly_")?;
    let (id, secret) = rest.split_once('_')?;
    (is_hex(id, 12) && is_hex(secret, 64)).then_some(PresentedToken { id, secret })
}

/// SHA-256 of a secret, hex.
pub(crate) fn hash_secret(secret: &str) -> String {
    crate::hex::encode(&Sha256::digest(secret.as_bytes()))
}

/// A new token: (id, full token text, hash of its secret).
pub(crate) fn new_token() -> std::io::Result<(String, String, String)> {
    let id = crate::hex::encode(&crate::random::bytes::<6>()?);
    let secret = crate::hex::encode(&crate::random::bytes::<32>()?);
    let text = format!("rly_{id}_{secret}");
    Ok((id, text, hash_secret(&secret)))
}

/// Compares two equal-length hex digests without an early exit.
pub(crate) fn digest_eq(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_tokens_parse_and_hash() {
        let (id, text, hash) = new_token().expect("token");
        let parsed = parse_token(&text).expect("parses");
        assert_eq!(parsed.id, id);
        assert!(digest_eq(&hash_secret(parsed.secret), &hash));
        assert!(!text.contains(&hash));
    }

    #[test]
    fn malformed_tokens_are_rejected() {
        for bad in [
            "",
            "rly_",
            "rly_abc_def",
            "xyz_000000000000_",
            &format!("rly_{}_{}", "g".repeat(12), "0".repeat(64)),
        ] {
            assert!(parse_token(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn roles_are_ordered() {
        assert!(Role::Read < Role::Write && Role::Write < Role::Admin);
        assert_eq!(Role::parse("write"), Some(Role::Write));
        assert_eq!(Role::parse("root"), None);
    }
}
