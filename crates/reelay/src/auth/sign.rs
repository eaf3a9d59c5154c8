//! Signed playback URLs: `?exp=UNIX&sig=HEX[&pfx=PREFIX]`, so a plain `<video src>` or an HLS
//! player can fetch media without headers.
//!
//! `sig` is HMAC-SHA256 over `reelay-sig-v1`, the method class (`GET`, which also admits HEAD),
//! the scope and the expiry. The scope is the exact decoded path, or — with `pfx` — a path
//! prefix ending in `/`, so one signature covers a folder or an HLS playlist and its segments.
//! Pure functions: the key and the clock are arguments.

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// Longest validity a signature may be given.
pub const MAX_EXPIRES_IN: u64 = 7 * 24 * 3600;

/// The result of checking a request's signature.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignatureCheck {
    /// No `sig` parameter: not a signed request.
    Absent,
    Valid,
    Expired,
    /// Bad encoding, wrong key, altered path/prefix/expiry.
    Invalid,
    /// The signature is genuine but for another path or prefix.
    OutOfScope,
}

fn mac(key: &[u8], scope: &str, exp: u64) -> HmacSha256 {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = HmacSha256::new_from_slice(key).unwrap_or_else(|_| unreachable!());
    mac.update(format!("reelay-sig-v1\nGET\n{scope}\n{exp}").as_bytes());
    mac
}

/// The signature for `scope` (a path, or a prefix ending in `/`) valid until `exp`.
pub fn signature(key: &[u8], scope: &str, exp: u64) -> String {
    crate::hex::encode(&mac(key, scope, exp).finalize().into_bytes())
}

/// Checks a request for `path` carrying `exp`, `sig` and maybe `pfx`, at time `now`.
pub fn verify(
    key: &[u8],
    path: &str,
    exp: Option<&str>,
    sig: Option<&str>,
    pfx: Option<&str>,
    now: u64,
) -> SignatureCheck {
    let Some(sig) = sig else {
        return SignatureCheck::Absent;
    };
    let (Some(exp), Some(sig)) = (
        exp.and_then(|e| e.parse::<u64>().ok()),
        crate::hex::decode(sig),
    ) else {
        return SignatureCheck::Invalid;
    };
    let scope = pfx.unwrap_or(path);
    if pfx.is_some_and(|p| !p.ends_with('/')) {
        return SignatureCheck::Invalid;
    }
    if mac(key, scope, exp).verify_slice(&sig).is_err() {
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

    #[test]
    fn exact_path_signatures() {
        let sig = signature(KEY, "/media/b/a.mp4", 100);
        let check = |path, exp, sig: &str, now| verify(KEY, path, Some(exp), Some(sig), None, now);
        assert_eq!(
            check("/media/b/a.mp4", "100", &sig, 50),
            SignatureCheck::Valid
        );
        assert_eq!(
            check("/media/b/a.mp4", "100", &sig, 101),
            SignatureCheck::Expired
        );
        assert_eq!(
            check("/media/b/a.mp4", "101", &sig, 50),
            SignatureCheck::Invalid
        );
        assert_eq!(
            check("/media/b/b.mp4", "100", &sig, 50),
            SignatureCheck::Invalid
        );
        let mut tampered = sig.clone();
        tampered.replace_range(0..1, if sig.starts_with('0') { "1" } else { "0" });
        assert_eq!(
            check("/media/b/a.mp4", "100", &tampered, 50),
            SignatureCheck::Invalid
        );
        assert_eq!(
            check("/media/b/a.mp4", "100", "zz", 50),
            SignatureCheck::Invalid
        );
    }

    #[test]
    fn prefix_signatures_cover_the_folder_only() {
        let sig = signature(KEY, "/media/b/show/", 100);
        let check = |path, pfx| verify(KEY, path, Some("100"), Some(&sig), Some(pfx), 50);
        assert_eq!(
            check("/media/b/show/ep1.mp4", "/media/b/show/"),
            SignatureCheck::Valid
        );
        assert_eq!(
            check("/media/b/other.mp4", "/media/b/show/"),
            SignatureCheck::OutOfScope
        );
        assert_eq!(
            check("/media/b/show/x.mp4", "/media/b/"),
            SignatureCheck::Invalid
        );
        assert_eq!(
            check("/media/b/showx", "/media/b/show"),
            SignatureCheck::Invalid
        );
    }

    #[test]
    fn absent_signature() {
        assert_eq!(
            verify(KEY, "/x", None, None, None, 0),
            SignatureCheck::Absent
        );
    }
}
