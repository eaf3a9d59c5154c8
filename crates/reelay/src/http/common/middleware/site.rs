//! Where a request says it comes from and what it says it is for: its `Host`, the headers a
//! proxy adds, and the site of the page that sent it.
//!
//! # Security model
//!
//! - **Misdirected requests.** With `[server] hosts` set, a request whose `Host` (or absolute
//!   URI's authority) names neither this machine nor a listed name is answered 421 before
//!   anything else: a rebound DNS name reaches nothing.
//! - **Cross-site state changes.** A page on another site can make a browser send a `POST`
//!   (a form, `fetch` with `no-cors`) with no preflight. Every request whose method changes
//!   state (anything but `GET`, `HEAD`, `OPTIONS`) and that carries no `Authorization` (which
//!   no such page can set) is refused 403 when the browser says it is cross-site: an `Origin`
//!   that is neither this node's own (`scheme://` + `Host`) nor a configured CORS origin, or
//!   `Sec-Fetch-Site: cross-site` / `same-site` without such an origin. Clients that are not
//!   browsers send neither header and are unaffected.
//! - **Proxied requests** ([`proxied`]) are never local, so never open ([`crate::auth::access`]).

use http::{HeaderMap, HeaderValue, Method, Uri, header};

use crate::auth::access::PROXY_HEADERS;

/// The host a request names: its URI's authority (absolute form, HTTP/2's `:authority`), else
/// its `Host` header.
pub(crate) fn host<'a>(uri: &'a Uri, headers: &'a HeaderMap) -> Option<&'a str> {
    uri.authority()
        .map(http::uri::Authority::as_str)
        .or_else(|| headers.get(header::HOST).and_then(|h| h.to_str().ok()))
}

/// Whether the request carries a header a proxy adds.
pub(crate) fn proxied(headers: &HeaderMap) -> bool {
    PROXY_HEADERS.iter().any(|name| headers.contains_key(*name))
}

/// Whether a request of `method` can change state.
pub(crate) fn changes_state(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// Whether a browser says this request comes from another site's page and nothing lets it
/// through (see the module's security model). `host` is what [`host`] read.
pub(crate) fn cross_site(
    headers: &HeaderMap,
    host: Option<&str>,
    cors_origins: &[HeaderValue],
) -> bool {
    let origin = headers.get(header::ORIGIN);
    if origin.is_some_and(|o| cors_origins.contains(o)) {
        return false;
    }
    if let Some(origin) = origin {
        return !is_own_origin(origin, host);
    }
    headers
        .get("sec-fetch-site")
        .is_some_and(|site| site == "cross-site" || site == "same-site")
}

/// Whether `origin` is `http://` or `https://` followed by exactly `host`.
fn is_own_origin(origin: &HeaderValue, host: Option<&str>) -> bool {
    let Some(host) = host else {
        return false;
    };
    origin.to_str().is_ok_and(|o| {
        o.strip_prefix("http://")
            .or_else(|| o.strip_prefix("https://"))
            .is_some_and(|rest| rest.eq_ignore_ascii_case(host))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, HeaderValue::from_static(value));
        }
        map
    }

    #[test]
    fn another_sites_origin_is_cross_site_and_the_nodes_own_is_not() {
        let cors = [HeaderValue::from_static("https://app.example")];
        let host = Some("127.0.0.1:8080");
        let evil = headers(&[("origin", "https://evil.example")]);
        assert!(cross_site(&evil, host, &cors));
        let own = headers(&[("origin", "http://127.0.0.1:8080")]);
        assert!(!cross_site(&own, host, &cors));
        let other_port = headers(&[("origin", "http://127.0.0.1:3000")]);
        assert!(cross_site(&other_port, host, &cors));
        let listed = headers(&[("origin", "https://app.example")]);
        assert!(!cross_site(&listed, host, &cors));
        let null = headers(&[("origin", "null")]);
        assert!(cross_site(&null, host, &cors));
    }

    #[test]
    fn fetch_metadata_without_origin_decides_and_no_headers_means_not_a_browser() {
        let host = Some("localhost:8080");
        for (site, refused) in [
            ("cross-site", true),
            ("same-site", true),
            ("same-origin", false),
            ("none", false),
        ] {
            let mut map = HeaderMap::new();
            map.insert("sec-fetch-site", HeaderValue::from_static(site));
            assert_eq!(cross_site(&map, host, &[]), refused, "{site}");
        }
        assert!(!cross_site(&HeaderMap::new(), host, &[]));
    }

    #[test]
    fn the_host_is_the_authority_of_an_absolute_uri_before_the_host_header() {
        let map = headers(&[("host", "localhost")]);
        let absolute: Uri = "http://attacker.example/api/v1/tokens"
            .parse()
            .expect("uri");
        assert_eq!(host(&absolute, &map), Some("attacker.example"));
        let origin_form: Uri = "/api/v1/tokens".parse().expect("uri");
        assert_eq!(host(&origin_form, &map), Some("localhost"));
    }

    #[test]
    fn every_proxy_header_marks_a_request_proxied() {
        for name in PROXY_HEADERS {
            let mut map = HeaderMap::new();
            map.insert(name, HeaderValue::from_static("203.0.113.9"));
            assert!(proxied(&map), "{name}");
        }
        assert!(!proxied(&headers(&[("host", "localhost")])));
    }
}
