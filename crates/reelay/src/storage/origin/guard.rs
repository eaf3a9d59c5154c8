//! Never an open proxy: which addresses and URLs an origin bucket may reach.
//!
//! # Security model
//!
//! - reelay fetches only URLs of configured origins: the bucket's `origin` base, or, for
//!   late-resolved media, a resolver's answer that matches the bucket's `allow` list
//!   ([`Allowed`]). A redirect is followed only to the same scheme, host and port, checked again
//!   at every hop, at most [`MAX_REDIRECTS`] times.
//! - Addresses of every range in the IANA IPv4 and IPv6 special-purpose registries — loopback,
//!   private ranges, link-local (cloud metadata at 169.254.169.254), carrier-grade NAT,
//!   benchmarking, documentation, unique-local and site-local IPv6, NAT64, 6to4, Teredo,
//!   IPv4-compatible `::a.b.c.d` — and multicast are refused ([`is_internal`]); an IPv4 address
//!   mapped into IPv6 is judged as itself. Host names are checked after DNS resolution, by the client's resolver,
//!   so a name that resolves inward is refused too (no check-then-connect gap).
//! - The exception is explicit: an origin configured with such an IP address literal, or a
//!   bucket with `allow_internal = true`.
//! - No proxy from the environment: a proxy resolves names itself, past the guarded resolver.
//!   A bucket may name one explicitly (`proxy = "http://…"`); then that proxy is trusted to
//!   reach only what it should.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use url::{Host, Url};

/// Most redirects followed for one request.
pub(crate) const MAX_REDIRECTS: usize = 5;

/// The IANA IPv4 Special-Purpose Address Registry (as of 2026), plus multicast: every range
/// an origin has no business in, globally reachable or not.
const SPECIAL_V4: [(Ipv4Addr, u8, &str); 19] = [
    (Ipv4Addr::new(0, 0, 0, 0), 8, "this network"),
    (Ipv4Addr::new(10, 0, 0, 0), 8, "private use"),
    (
        Ipv4Addr::new(100, 64, 0, 0),
        10,
        "shared address space (carrier-grade NAT)",
    ),
    (Ipv4Addr::new(127, 0, 0, 0), 8, "loopback"),
    (
        Ipv4Addr::new(169, 254, 0, 0),
        16,
        "link local (cloud metadata)",
    ),
    (Ipv4Addr::new(172, 16, 0, 0), 12, "private use"),
    (Ipv4Addr::new(192, 0, 0, 0), 24, "IETF protocol assignments"),
    (
        Ipv4Addr::new(192, 0, 2, 0),
        24,
        "documentation (TEST-NET-1)",
    ),
    (Ipv4Addr::new(192, 31, 196, 0), 24, "AS112-v4"),
    (Ipv4Addr::new(192, 52, 193, 0), 24, "AMT"),
    (
        Ipv4Addr::new(192, 88, 99, 0),
        24,
        "deprecated 6to4 relay anycast",
    ),
    (Ipv4Addr::new(192, 168, 0, 0), 16, "private use"),
    (
        Ipv4Addr::new(192, 175, 48, 0),
        24,
        "direct delegation AS112 service",
    ),
    (Ipv4Addr::new(198, 18, 0, 0), 15, "benchmarking"),
    (
        Ipv4Addr::new(198, 51, 100, 0),
        24,
        "documentation (TEST-NET-2)",
    ),
    (
        Ipv4Addr::new(203, 0, 113, 0),
        24,
        "documentation (TEST-NET-3)",
    ),
    (Ipv4Addr::new(224, 0, 0, 0), 4, "multicast"),
    (Ipv4Addr::new(240, 0, 0, 0), 4, "reserved"),
    (Ipv4Addr::new(255, 255, 255, 255), 32, "limited broadcast"),
];

/// The IANA IPv6 Special-Purpose Address Registry (as of 2026), plus multicast and the
/// deprecated site-local and IPv4-compatible ranges. IPv4-mapped addresses are judged by the
/// IPv4 address they carry ([`is_internal`]).
const SPECIAL_V6: [(Ipv6Addr, u8, &str); 20] = [
    (Ipv6Addr::new(0, 0, 0, 0, 0, 0, 0, 1), 128, "loopback"),
    (
        Ipv6Addr::new(0, 0, 0, 0, 0, 0, 0, 0),
        96,
        "unspecified and IPv4-compatible (::a.b.c.d)",
    ),
    (
        Ipv6Addr::new(0x64, 0xff9b, 0, 0, 0, 0, 0, 0),
        96,
        "IPv4-IPv6 translation (NAT64)",
    ),
    (
        Ipv6Addr::new(0x64, 0xff9b, 1, 0, 0, 0, 0, 0),
        48,
        "local-use IPv4/IPv6 translation",
    ),
    (
        Ipv6Addr::new(0x100, 0, 0, 0, 0, 0, 0, 0),
        64,
        "discard-only",
    ),
    (
        Ipv6Addr::new(0x100, 0, 0, 1, 0, 0, 0, 0),
        64,
        "dummy IPv6 prefix",
    ),
    (
        Ipv6Addr::new(0x2001, 0, 0, 0, 0, 0, 0, 0),
        23,
        "IETF protocol assignments (Teredo, ORCHID…)",
    ),
    (
        Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0),
        32,
        "documentation",
    ),
    (Ipv6Addr::new(0x2002, 0, 0, 0, 0, 0, 0, 0), 16, "6to4"),
    (
        Ipv6Addr::new(0x2620, 0x4f, 0x8000, 0, 0, 0, 0, 0),
        48,
        "direct delegation AS112 service",
    ),
    (
        Ipv6Addr::new(0x3fff, 0, 0, 0, 0, 0, 0, 0),
        20,
        "documentation",
    ),
    (
        Ipv6Addr::new(0x5f00, 0, 0, 0, 0, 0, 0, 0),
        16,
        "segment routing (SRv6) SIDs",
    ),
    (
        Ipv6Addr::new(0xfc00, 0, 0, 0, 0, 0, 0, 0),
        7,
        "unique local",
    ),
    (Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 0), 10, "link local"),
    (
        Ipv6Addr::new(0xfec0, 0, 0, 0, 0, 0, 0, 0),
        10,
        "site local (deprecated)",
    ),
    (Ipv6Addr::new(0xff00, 0, 0, 0, 0, 0, 0, 0), 8, "multicast"),
    (
        Ipv6Addr::new(0x2001, 0x2, 0, 0, 0, 0, 0, 0),
        48,
        "benchmarking",
    ),
    (Ipv6Addr::new(0x2001, 0x3, 0, 0, 0, 0, 0, 0), 32, "AMT"),
    (
        Ipv6Addr::new(0x2001, 0x20, 0, 0, 0, 0, 0, 0),
        28,
        "ORCHIDv2",
    ),
    (
        Ipv6Addr::new(0x2001, 0x4, 0x112, 0, 0, 0, 0, 0),
        48,
        "AS112-v6",
    ),
];

/// Whether the top `len` bits of `addr` and `net` agree.
fn in_prefix(addr: u128, net: u128, len: u8) -> bool {
    let mask = match len {
        0 => 0,
        len => u128::MAX << (128 - u32::from(len.min(128))),
    };
    (addr & mask) == (net & mask)
}

/// The special-purpose range `ip` is in, if any (its registry name).
pub(crate) fn special_range(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => SPECIAL_V4.iter().find_map(|(net, len, name)| {
            let (a, n) = (u128::from(u32::from(v4)), u128::from(u32::from(*net)));
            in_prefix(a << 96, n << 96, *len).then_some(*name)
        }),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return special_range(IpAddr::V4(v4));
            }
            SPECIAL_V6.iter().find_map(|(net, len, name)| {
                in_prefix(u128::from(v6), u128::from(*net), *len).then_some(*name)
            })
        }
    }
}

/// Whether `ip` reaches this node, its private network, or any special-purpose range of the
/// IANA registries (IPv4-mapped IPv6 addresses are judged by their IPv4 address).
pub(crate) fn is_internal(ip: IpAddr) -> bool {
    special_range(ip).is_some()
}

/// Scheme, host and port of a URL, for same-origin comparisons.
pub(crate) fn origin_of(url: &Url) -> Option<(String, String, u16)> {
    Some((
        url.scheme().to_owned(),
        url.host_str()?.to_ascii_lowercase(),
        url.port_or_known_default()?,
    ))
}

/// The origins a bucket may fetch from: exact `scheme://host:port`, or `scheme://*.domain`.
#[derive(Debug, Clone, Default)]
pub(crate) struct Allowed {
    exact: Vec<(String, String, u16)>,
    /// (scheme, domain suffix without the `*.`, port).
    wildcard: Vec<(String, String, u16)>,
}

impl Allowed {
    /// Parses `https://cdn.example.com`, `http://10.0.0.5:8080`, `https://*.example.com`.
    pub(crate) fn parse(patterns: &[String]) -> anyhow::Result<Self> {
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

    pub(crate) fn add(&mut self, url: &Url) {
        if let Some(origin) = origin_of(url) {
            self.exact.push(origin);
        }
    }

    /// Whether `url` is on an allowed origin (and, if its host is an address literal, that
    /// address is external or the origin was configured with exactly it).
    pub(crate) fn permits(&self, url: &Url) -> bool {
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
pub(crate) fn ip_literal(url: &Url) -> Option<IpAddr> {
    match url.host()? {
        Host::Ipv4(v4) => Some(IpAddr::V4(v4)),
        Host::Ipv6(v6) => Some(IpAddr::V6(v6)),
        Host::Domain(_) => None,
    }
}

/// A DNS resolver that drops internal addresses unless the bucket allows them.
#[derive(Debug, Clone)]
pub(crate) struct GuardedResolver {
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
pub(crate) fn same_origin_redirects() -> reqwest::redirect::Policy {
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

/// A client for one origin bucket, with the guarded resolver and redirect rule. No proxy from
/// the environment (`HTTPS_PROXY` and the like) is used: a proxy resolves names itself, which
/// would bypass the guarded resolver. `proxy` is the bucket's explicit one, if configured.
pub(crate) fn client(
    allow_internal: bool,
    connect_timeout: std::time::Duration,
    proxy: Option<&Url>,
) -> reqwest::Result<reqwest::Client> {
    let builder = match proxy {
        Some(url) => reqwest::Client::builder().proxy(reqwest::Proxy::all(url.as_str())?),
        None => reqwest::Client::builder().no_proxy(),
    };
    builder
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

    /// One test per special-purpose range: its first and last address are internal, and
    /// the addresses either side of it are not (where those are ordinary unicast).
    macro_rules! special_range_tests {
        ($($name:ident: $first:literal ..= $last:literal, outside [$($out:literal),*];)*) => {$(
            #[test]
            fn $name() {
                for inside in [$first, $last] {
                    assert!(is_internal(ip(inside)), "{inside} is internal");
                }
                for outside in [$($out),*] {
                    assert!(!is_internal(ip(outside)), "{outside} is external");
                }
            }
        )*};
    }

    special_range_tests! {
        v4_this_network: "0.0.0.0" ..= "0.255.255.255", outside ["1.0.0.0"];
        v4_private_10: "10.0.0.0" ..= "10.255.255.255", outside ["9.255.255.255", "11.0.0.0"];
        v4_shared_address_space: "100.64.0.0" ..= "100.127.255.255", outside ["100.63.255.255", "100.128.0.0"];
        v4_loopback: "127.0.0.0" ..= "127.255.255.255", outside ["126.255.255.255", "128.0.0.0"];
        v4_link_local: "169.254.0.0" ..= "169.254.255.255", outside ["169.253.255.255", "169.255.0.0"];
        v4_private_172: "172.16.0.0" ..= "172.31.255.255", outside ["172.15.255.255", "172.32.0.0"];
        v4_ietf_protocol_assignments: "192.0.0.0" ..= "192.0.0.255", outside ["191.255.255.255", "192.0.1.0"];
        v4_test_net_1: "192.0.2.0" ..= "192.0.2.255", outside ["192.0.3.0"];
        v4_as112: "192.31.196.0" ..= "192.31.196.255", outside ["192.31.195.255", "192.31.197.0"];
        v4_amt: "192.52.193.0" ..= "192.52.193.255", outside ["192.52.192.255", "192.52.194.0"];
        v4_6to4_relay_anycast: "192.88.99.0" ..= "192.88.99.255", outside ["192.88.98.255", "192.88.100.0"];
        v4_private_192_168: "192.168.0.0" ..= "192.168.255.255", outside ["192.167.255.255", "192.169.0.0"];
        v4_as112_direct_delegation: "192.175.48.0" ..= "192.175.48.255", outside ["192.175.47.255", "192.175.49.0"];
        v4_benchmarking: "198.18.0.0" ..= "198.19.255.255", outside ["198.17.255.255", "198.20.0.0"];
        v4_test_net_2: "198.51.100.0" ..= "198.51.100.255", outside ["198.51.99.255", "198.51.101.0"];
        v4_test_net_3: "203.0.113.0" ..= "203.0.113.255", outside ["203.0.112.255", "203.0.114.0"];
        v4_multicast: "224.0.0.0" ..= "239.255.255.255", outside ["223.255.255.255"];
        v4_reserved: "240.0.0.0" ..= "255.255.255.254", outside [];
        v4_limited_broadcast: "255.255.255.255" ..= "255.255.255.255", outside [];
        v4_mapped_in_v6: "::ffff:127.0.0.1" ..= "::ffff:169.254.169.254", outside ["::ffff:8.8.8.8"];
        v6_loopback: "::1" ..= "::1", outside [];
        v6_unspecified_and_v4_compatible: "::" ..= "::ffff:ffff", outside ["1::"];
        v6_nat64: "64:ff9b::" ..= "64:ff9b::ffff:ffff", outside ["64:ff9a:ffff:ffff:ffff:ffff:ffff:ffff"];
        v6_local_use_translation: "64:ff9b:1::" ..= "64:ff9b:1:ffff:ffff:ffff:ffff:ffff", outside ["64:ff9b:2::"];
        v6_discard_only: "100::" ..= "100::ffff:ffff:ffff:ffff", outside [];
        v6_dummy_prefix: "100:0:0:1::" ..= "100:0:0:1:ffff:ffff:ffff:ffff", outside ["100:0:0:2::"];
        v6_ietf_protocol_assignments: "2001::" ..= "2001:1ff:ffff:ffff:ffff:ffff:ffff:ffff", outside ["2001:200::", "2000:ffff::"];
        v6_documentation: "2001:db8::" ..= "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff", outside ["2001:db9::", "2001:db7:ffff::"];
        v6_6to4: "2002::" ..= "2002:ffff:ffff:ffff:ffff:ffff:ffff:ffff", outside ["2003::"];
        v6_as112_direct_delegation: "2620:4f:8000::" ..= "2620:4f:8000:ffff:ffff:ffff:ffff:ffff", outside ["2620:4f:8001::", "2620:4f:7fff:ffff::"];
        v6_documentation_3fff: "3fff::" ..= "3fff:fff:ffff:ffff:ffff:ffff:ffff:ffff", outside ["3fff:1000::"];
        v6_srv6_sids: "5f00::" ..= "5f00:ffff:ffff:ffff:ffff:ffff:ffff:ffff", outside ["5f01::", "5eff:ffff::"];
        v6_unique_local: "fc00::" ..= "fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", outside ["fbff:ffff::"];
        v6_link_local: "fe80::" ..= "febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff", outside [];
        v6_site_local: "fec0::" ..= "feff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", outside [];
        v6_multicast: "ff00::" ..= "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", outside [];
    }

    #[test]
    fn ordinary_unicast_is_external() {
        for s in [
            "8.8.8.8",
            "1.1.1.1",
            "2606:4700::1111",
            "2a00:1450::1",
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
