//! Caching that matches access: who may keep a copy of an answer.
//!
//! # Security model
//!
//! The handlers write the `Cache-Control` their content deserves (segments and parts are
//! immutable, playlists live a second, a bucket may set its own). Whether a *shared* cache — a
//! CDN, a proxy in front — may store that answer and give it to others depends on who was let
//! in: only an answer given to nobody in particular (a public bucket or a public live source,
//! [`Principal::Anonymous`]) may be `public`. An answer given under a token or a signature is
//! made `private` here, on the way out, whatever the handler wrote: `public` and `s-maxage`
//! are dropped and `private` leads, the rest (`max-age`, `immutable`, `no-cache`) is kept for
//! the client's own cache. Answers without a `Cache-Control`, routes without a principal
//! (health, UI) and an open node's answers (everyone who can reach it as this machine may read
//! everything; a proxy's clients never can, [`crate::auth::access`]) are left alone.

use http::{HeaderMap, HeaderValue, header};

use crate::auth::Principal;

/// Makes the answer's `Cache-Control` private unless `principal` is anonymous (see the module).
pub(crate) fn restrict(headers: &mut HeaderMap, principal: Option<Principal>) {
    if matches!(
        principal,
        None | Some(Principal::Anonymous | Principal::Open)
    ) {
        return;
    }
    if let Some(value) = headers.get(header::CACHE_CONTROL) {
        let private = private_of(value);
        headers.insert(header::CACHE_CONTROL, private);
    }
}

/// `value` with `private` first and nothing a shared cache would act on.
fn private_of(value: &HeaderValue) -> HeaderValue {
    let text = value.to_str().unwrap_or_default();
    let mut out = String::from("private");
    for directive in text.split(',').map(str::trim).filter(|d| !d.is_empty()) {
        let name = directive.split('=').next().unwrap_or_default().trim();
        let shared_only = ["public", "private", "s-maxage", "proxy-revalidate"]
            .iter()
            .any(|n| name.eq_ignore_ascii_case(n));
        if !shared_only {
            out.push_str(", ");
            out.push_str(directive);
        }
    }
    HeaderValue::from_str(&out).unwrap_or(HeaderValue::from_static("private, no-cache"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn restricted(value: &'static str, principal: Option<Principal>) -> String {
        let mut headers = HeaderMap::new();
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(value));
        restrict(&mut headers, principal);
        headers[header::CACHE_CONTROL]
            .to_str()
            .expect("text")
            .to_owned()
    }

    #[test]
    fn answers_under_a_token_or_a_signature_are_private() {
        for principal in [Principal::Token(crate::auth::Role::Read), Principal::Signed] {
            assert_eq!(
                restricted("public, max-age=86400, immutable", Some(principal)),
                "private, max-age=86400, immutable"
            );
            assert_eq!(
                restricted("max-age=1", Some(principal)),
                "private, max-age=1"
            );
            assert_eq!(restricted("no-cache", Some(principal)), "private, no-cache");
            assert_eq!(
                restricted("Public, s-maxage=600, max-age=60", Some(principal)),
                "private, max-age=60"
            );
        }
    }

    #[test]
    fn anonymous_open_and_unauthenticated_answers_keep_what_the_handler_wrote() {
        let value = "public, max-age=86400, immutable";
        assert_eq!(restricted(value, Some(Principal::Anonymous)), value);
        assert_eq!(restricted(value, Some(Principal::Open)), value);
        assert_eq!(restricted(value, None), value);
    }
}
