//! Never an open proxy: which addresses and URLs an origin bucket may reach.
//!
//! # Security model
//!
//! - reelay fetches only URLs of configured origins: the bucket's `origin` base, or, for
//!   late-resolved media, a resolver's answer that matches the bucket's `allow` list
//!   ([`Allowed`]). A redirect is followed only to the same scheme, host and port, checked again
//!   at every hop, at most [`MAX_REDIRECTS`] times.
//! - Addresses that reach the node itself or its private network — loopback, private ranges,
//!   link-local (cloud metadata at 169.254.169.254), carrier-grade NAT, unique-local IPv6,
//!   unspecified, multicast, and IPv4 addresses wrapped in IPv6 — are refused
//!   ([`is_internal`]). Host names are checked after DNS resolution, by the client's resolver,
//!   so a name that resolves inward is refused too (no check-then-connect gap).
//! - The exception is explicit: an origin configured with such an IP address literal, or a
//!   bucket with `allow_internal = true`.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use url::{Host, Url};

/// Most redirects followed for one request.
pub const MAX_REDIRECTS: usize = 5;

fn internal_v4(ip: Ipv4Addr) -> bool {
    let [a, b, ..] = ip.octets();
    ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || a == 0
        || (a == 100 && (64..128).contains(&b)) // carrier-grade NAT
        || (a == 192 && b == 0 && ip.octets()[2] == 0) // IETF protocol assignments
        || a >= 240 // reserved
}

/// Whether `ip` reaches this node, its private network, or nowhere routable.
pub fn is_internal(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => internal_v4(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return internal_v4(v4);
            }
            let first = v6.segments()[0];
            v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00 // unique local
                || (first & 0xffc0) == 0xfe80 // link local
                || (first == 0x64 && v6.segments()[1] == 0xff9b) // NAT64 well-known prefix
                || v6 == Ipv6Addr::new(0, 0, 0, 0, 0, 0, 0, 1)
        }
    }
}

/// Scheme, host and port of a URL, for same-origin comparisons.
pub fn origin_of(url: &Url) -> Option<(String, String, u16)> {
    Some((
        url.scheme().to_owned(),
        url.host_str()?.to_ascii_lowercase(),
        url.port_or_known_default()?,
    ))
}

/// The origins a bucket may fetch from: exact `scheme://host:port`, or `scheme://*.domain`.
#[derive(Debug, Clone, Default)]
pub struct Allowed {
    exact: Vec<(String, String, u16)>,
    /// (scheme, domain suffix without the `*.`, port).
    wildcard: Vec<(String, String, u16)>,
}

impl Allowed {
    /// Parses `https://cdn.example.com`, `http://10.0.0.5:8080`, `https://*.example.com`.
    pub fn parse(patterns: &[String]) -> anyhow::Result<Self> {
        let mut allowed = Self::default();
        for p in patterns {
            let (wild, url_text) = match p.split_once("://*.") {
                Some((scheme, rest)) => (true, format!("{scheme}://{rest}")),
                None => (false, p.clone()),
            };
            let url: Url = url_text
                .parse()
                .map_err(|_| anyhow::anyhow!("allow entry {p:?} is not an origin"))?;
            let origin =
                origin_of(&url).ok_or_else(|| anyhow::anyhow!("allow entry {p:?} has no host"))?;
            if !matches!(url.scheme(), "http" | "https") {
                anyhow::bail!("allow entry {p:?} must be http or https");
            }
            if wild {
                allowed.wildcard.push(origin);
            } else {
                allowed.exact.push(origin);
            }
        }
        Ok(allowed)
    }

    pub fn add(&mut self, url: &Url) {
        if let Some(origin) = origin_of(url) {
            self.exact.push(origin);
        }
    }

    /// Whether `url` is on an allowed origin (and, if its host is an address literal, that
    /// address is external or the origin was configured with exactly it).
    pub fn permits(&self, url: &Url) -> bool {
        let Some((scheme, host, port)) = origin_of(url) else {
            return false;
        };
        let exact = self
            .exact
            .iter()
            .any(|(s, h, p)| *s == scheme && *h == host && *p == port);
        let wild = self.wildcard.iter().any(|(s, d, p)| {
            *s == scheme && *p == port && host.len() > d.len() && host.ends_with(&format!(".{d}"))
        });
        exact || wild
    }
}

/// The host of `url` as an IP address, if it is one.
pub fn ip_literal(url: &Url) -> Option<IpAddr> {
    match url.host()? {
        Host::Ipv4(v4) => Some(IpAddr::V4(v4)),
        Host::Ipv6(v6) => Some(IpAddr::V6(v6)),
        Host::Domain(_) => None,
    }
}

/// A DNS resolver that drops internal addresses unless the bucket allows them.
#[derive(Debug, Clone)]
pub struct GuardedResolver {
    pub allow_internal: bool,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let allow_internal = self.allow_internal;
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let found: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let usable: Vec<SocketAddr> = found
                .into_iter()
                .filter(|a| allow_internal || !is_internal(a.ip()))
                .collect();
            if usable.is_empty() {
                let message =
                    format!("{host} resolves only to internal addresses, which are refused");
                return Err(message.into());
            }
            let addrs: Addrs = Box::new(usable.into_iter());
            Ok(addrs)
        })
    }
}

/// A redirect policy that follows only to the same origin, at most [`MAX_REDIRECTS`] hops.
pub fn same_origin_redirects() -> reqwest::redirect::Policy {
    reqwest::redirect::Policy::custom(|attempt| {
        let same = attempt
            .previous()
            .last()
            .and_then(origin_of)
            .zip(origin_of(attempt.url()))
            .is_some_and(|(from, to)| from == to);
        if same && attempt.previous().len() <= MAX_REDIRECTS {
            attempt.follow()
        } else {
            attempt.stop()
        }
    })
}

/// A client for one origin bucket, with the guarded resolver and redirect rule.
pub fn client(
    allow_internal: bool,
    connect_timeout: std::time::Duration,
) -> reqwest::Result<reqwest::Client> {
    reqwest::Client::builder()
        .connect_timeout(connect_timeout)
        .pool_idle_timeout(std::time::Duration::from_secs(30))
        .redirect(same_origin_redirects())
        .dns_resolver(Arc::new(GuardedResolver { allow_internal }))
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("ip")
    }

    #[test]
    fn internal_addresses() {
        for s in [
            "127.0.0.1",
            "127.8.9.10",
            "10.1.2.3",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "224.0.0.1",
            "255.255.255.255",
            "::1",
            "::",
            "fe80::1",
            "fd00::1",
            "fc00::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "ff02::1",
            "64:ff9b::a9fe:a9fe",
        ] {
            assert!(is_internal(ip(s)), "{s} is internal");
        }
        for s in [
            "8.8.8.8",
            "1.1.1.1",
            "172.32.0.1",
            "100.128.0.1",
            "2606:4700::1111",
            "::ffff:8.8.8.8",
        ] {
            assert!(!is_internal(ip(s)), "{s} is external");
        }
    }

    #[test]
    fn allow_lists_match_exact_and_wildcard_origins() {
        let allowed = Allowed::parse(&[
            "https://cdn.example.com".into(),
            "https://*.media.example".into(),
        ])
        .expect("parse");
        let ok = |u: &str| allowed.permits(&u.parse().expect("url"));
        assert!(ok("https://cdn.example.com/a.mp3"));
        assert!(ok("https://cdn.example.com:443/a.mp3"));
        assert!(!ok("http://cdn.example.com/a.mp3"), "scheme");
        assert!(!ok("https://cdn.example.com:8443/a.mp3"), "port");
        assert!(!ok("https://evil.com/?cdn.example.com"));
        assert!(!ok("https://cdn.example.com.evil.com/"));
        assert!(ok("https://r1.media.example/x"));
        assert!(
            !ok("https://media.example/x"),
            "the wildcard needs a subdomain"
        );
        assert!(!ok("https://evilmedia.example/x"));
    }
}
