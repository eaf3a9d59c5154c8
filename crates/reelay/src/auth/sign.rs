//! Signed playback URLs: `?exp=UNIX&kid=KEY&by=SIGNER&sig=HEX[&pfx=PREFIX]`, so a plain
//! `<video src>` or an HLS player can fetch media without headers.
//!
//! `sig` is HMAC-SHA256 over `reelay-sig-v2`, the method class (`GET`, which also admits HEAD),
//! the scope, the expiry, the key id and the signer, each length-prefixed. The scope is the
//! exact decoded path, or — with `pfx` — a path prefix ending in `/`, so one signature covers a
//! folder or an HLS playlist and its segments.
//!
//! - `kid` names the key ([`key_id`]): several keys verify ([`SigningKeys`]: the current one and
//!   the previous one of a rotation), only the current one signs.
//! - `by` names who signed: a token's id, or [`OPEN_SIGNER`] on an open node. The caller
//!   ([`crate::auth::Auth`]) refuses a valid signature whose signer's token has been revoked
//!   since, so revoking a token revokes its URLs.
//!
//! Pure functions: the keys and the clock are arguments.

use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};

type HmacSha256 = Hmac<Sha256>;

/// Longest validity a signature may be given.
pub(crate) const MAX_EXPIRES_IN: u64 = crate::rules::SIGN_EXPIRES_IN.max as u64;

/// The signer of a URL made on an open node (no token): valid while the node stays open.
pub const OPEN_SIGNER: &str = "open";

/// The result of checking a request's signature.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SignatureCheck {
    /// No `sig` parameter: not a signed request.
    Absent,
    /// Genuine, unexpired and covering the path; the signer is still to be checked.
    Valid,
    Expired,
    /// Bad encoding, unknown key, altered path/prefix/expiry/signer.
    Invalid,
    /// The signature is genuine but for another path or prefix.
    OutOfScope,
}

/// The id a key is named by in URLs: 8 hex digits of a hash of the key (never the key).
pub fn key_id(key: &[u8]) -> String {
    let digest = Sha256::new()
        .chain_update(b"reelay-signing-key-id\n")
        .chain_update(key)
        .finalize();
    crate::hex::encode(&digest[..4])
}

/// The keys signed URLs are made and checked with.
#[derive(Debug, Clone)]
pub struct SigningKeys {
    /// (id, key): signs and verifies.
    current: (String, Vec<u8>),
    /// (id, key): verifies only, while URLs it signed before a rotation expire.
    previous: Option<(String, Vec<u8>)>,
}

impl SigningKeys {
    pub fn new(current: Vec<u8>, previous: Option<Vec<u8>>) -> Self {
        Self {
            current: (key_id(&current), current),
            previous: previous.map(|k| (key_id(&k), k)),
        }
    }

    fn find(&self, kid: &str) -> Option<&[u8]> {
        std::iter::once(&self.current)
            .chain(self.previous.as_ref())
            .find(|(id, _)| id == kid)
            .map(|(_, key)| key.as_slice())
    }
}

/// A signed URL's parameters, as presented.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Presented<'a> {
    pub(crate) exp: Option<&'a str>,
    pub(crate) sig: Option<&'a str>,
    pub(crate) pfx: Option<&'a str>,
    pub(crate) kid: Option<&'a str>,
    pub(crate) by: Option<&'a str>,
}

/// Whether `by` can name a signer: a token id or [`OPEN_SIGNER`].
fn is_signer(by: &str) -> bool {
    (1..=64).contains(&by.len()) && by.bytes().all(|b| b.is_ascii_alphanumeric())
}

fn mac(key: &[u8], scope: &str, exp: u64, kid: &str, by: &str) -> HmacSha256 {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = HmacSha256::new_from_slice(key).unwrap_or_else(|_| unreachable!());
    let text = format!(
        "reelay-sig-v2\nGET\n{}:{scope}\n{exp}\n{kid}\n{}:{by}",
        scope.len(),
        by.len()
    );
    mac.update(text.as_bytes());
    mac
}

/// The query (`exp=…&kid=…&by=…&sig=…`, then `&pfx=…` for a prefix) signing `scope` (a path,
/// or a prefix ending in `/`) until `exp` with the current key, made by `by`.
pub fn signed_query(keys: &SigningKeys, scope: &str, exp: u64, by: &str, prefix: bool) -> String {
    let (kid, key) = &keys.current;
    let sig = crate::hex::encode(&mac(key, scope, exp, kid, by).finalize().into_bytes());
    let mut query = format!("exp={exp}&kid={kid}&by={by}&sig={sig}");
    if prefix {
        query.push_str("&pfx=");
        query.extend(url::form_urlencoded::byte_serialize(scope.as_bytes()));
    }
    query
}

/// Checks a request for `path` carrying the parameters `p`, at time `now`.
pub(crate) fn verify(
    keys: &SigningKeys,
    path: &str,
    p: &Presented<'_>,
    now: u64,
) -> SignatureCheck {
    let Some(sig) = p.sig else {
        return SignatureCheck::Absent;
    };
    let exp = p.exp.and_then(|e| e.parse::<u64>().ok());
    let key = p.kid.and_then(|kid| keys.find(kid));
    let by = p.by.filter(|by| is_signer(by));
    let (Some(exp), Some(sig), Some(key), Some(kid), Some(by)) =
        (exp, crate::hex::decode(sig), key, p.kid, by)
    else {
        return SignatureCheck::Invalid;
    };
    let scope = p.pfx.unwrap_or(path);
    if p.pfx.is_some_and(|p| !p.ends_with('/')) {
        return SignatureCheck::Invalid;
    }
    if mac(key, scope, exp, kid, by).verify_slice(&sig).is_err() {
        return SignatureCheck::Invalid;
    }
    if now > exp {
        return SignatureCheck::Expired;
    }
    if !path.starts_with(scope) {
        return SignatureCheck::OutOfScope;
    }
    SignatureCheck::Valid
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &[u8] = b"0123456789abcdef0123456789abcdef";
    const OTHER: &[u8] = b"fedcba9876543210fedcba9876543210";

    /// The parameters of `query` (as [`signed_query`] wrote it), owned.
    fn params(query: &str) -> Vec<(String, String)> {
        url::form_urlencoded::parse(query.as_bytes())
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect()
    }

    fn check(keys: &SigningKeys, path: &str, query: &str, now: u64) -> SignatureCheck {
        let p = params(query);
        let get = |name: &str| p.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
        let presented = Presented {
            exp: get("exp"),
            sig: get("sig"),
            pfx: get("pfx"),
            kid: get("kid"),
            by: get("by"),
        };
        verify(keys, path, &presented, now)
    }

    fn replace(query: &str, name: &str, value: &str) -> String {
        params(query)
            .into_iter()
            .map(|(k, v)| format!("{k}={}", if k == name { value } else { &v }))
            .collect::<Vec<_>>()
            .join("&")
    }

    #[test]
    fn exact_path_signatures() {
        let keys = SigningKeys::new(KEY.to_vec(), None);
        let q = signed_query(&keys, "/media/b/a.mp4", 100, "0123456789ab", false);
        assert_eq!(
            check(&keys, "/media/b/a.mp4", &q, 50),
            SignatureCheck::Valid
        );
        assert_eq!(
            check(&keys, "/media/b/a.mp4", &q, 101),
            SignatureCheck::Expired
        );
        assert_eq!(
            check(&keys, "/media/b/b.mp4", &q, 50),
            SignatureCheck::Invalid
        );
        for (name, value) in [
            ("exp", "101"),
            ("by", "0123456789ac"),
            ("by", "open"),
            ("kid", "00000000"),
            ("sig", "zz"),
            ("by", "a b"),
        ] {
            let tampered = replace(&q, name, value);
            assert_eq!(
                check(&keys, "/media/b/a.mp4", &tampered, 50),
                SignatureCheck::Invalid,
                "{name}={value}"
            );
        }
    }

    #[test]
    fn prefix_signatures_cover_the_folder_only() {
        let keys = SigningKeys::new(KEY.to_vec(), None);
        let q = signed_query(&keys, "/media/b/show/", 100, OPEN_SIGNER, true);
        assert_eq!(
            check(&keys, "/media/b/show/ep1.mp4", &q, 50),
            SignatureCheck::Valid
        );
        assert_eq!(
            check(&keys, "/media/b/other.mp4", &q, 50),
            SignatureCheck::OutOfScope
        );
        let wider = replace(&q, "pfx", "/media/b/");
        assert_eq!(
            check(&keys, "/media/b/show/x.mp4", &wider, 50),
            SignatureCheck::Invalid
        );
        let unterminated = replace(&q, "pfx", "/media/b/show");
        assert_eq!(
            check(&keys, "/media/b/showx", &unterminated, 50),
            SignatureCheck::Invalid
        );
    }

    #[test]
    fn a_rotation_keeps_the_previous_keys_urls_and_signs_with_the_new_key() {
        let old = SigningKeys::new(KEY.to_vec(), None);
        let q = signed_query(&old, "/media/b/a.mp4", 100, "0123456789ab", false);
        let rotated = SigningKeys::new(OTHER.to_vec(), Some(KEY.to_vec()));
        assert_eq!(
            check(&rotated, "/media/b/a.mp4", &q, 50),
            SignatureCheck::Valid
        );
        let fresh = signed_query(&rotated, "/media/b/a.mp4", 100, "0123456789ab", false);
        assert!(fresh.contains(&format!("kid={}", key_id(OTHER))), "{fresh}");
        let dropped = SigningKeys::new(OTHER.to_vec(), None);
        assert_eq!(
            check(&dropped, "/media/b/a.mp4", &q, 50),
            SignatureCheck::Invalid
        );
    }

    #[test]
    fn absent_signature() {
        let keys = SigningKeys::new(KEY.to_vec(), None);
        assert_eq!(check(&keys, "/x", "", 0), SignatureCheck::Absent);
    }
}
