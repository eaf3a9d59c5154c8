//! Whom open mode is open to: the names a request may give as its `Host`.
//!
//! # Security model
//!
//! An open node (bound to loopback, no token ever made) lets its requests act as admin. Being
//! bound to loopback is not enough to know a request comes from this machine: a web page whose
//! name an attacker rebinds to `127.0.0.1` reaches the node from the user's browser with
//! `Host: attacker.example`, and a reverse proxy on the same machine makes every internet client
//! a loopback peer. So a request is *local* only when its `Host` names this machine —
//! `localhost`, `127.0.0.1` or `[::1]`, any port — or one of the `[server] hosts` the operator
//! listed, and it carries none of the headers a proxy adds ([`PROXY_HEADERS`]). When `hosts` is
//! set, a request naming any other host is misdirected (the HTTP layer answers 421).
//!
//! The names are compared without their port and without case; nothing here resolves a name.

/// Headers that say a proxy forwarded the request: a request carrying any is never local.
pub const PROXY_HEADERS: [&str; 4] = [
    "forwarded",
    "x-forwarded-for",
    "x-forwarded-host",
    "x-real-ip",
];

/// Names of this machine itself, always accepted.
const LOOPBACK_NAMES: [&str; 3] = ["localhost", "127.0.0.1", "[::1]"];

/// The `[server] hosts` allow-list (lowercase names without ports).
#[derive(Debug, Clone, Default)]
pub struct Hosts {
    names: Vec<String>,
}

impl Hosts {
    /// The allow-list from configured names; each is a host name or address, without a port
    /// (an IPv6 address in brackets). `Err` names the first entry that is not one.
    pub fn new(configured: &[String]) -> Result<Self, String> {
        let mut names = Vec::with_capacity(configured.len());
        for entry in configured {
            let name = entry.trim().to_ascii_lowercase();
            let valid = !name.is_empty()
                && name_of(&name) == name
                && name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-.[]:".contains(&b));
            if !valid {
                return Err(format!("{entry:?} is not a host name (no port, no scheme)"));
            }
            names.push(name);
        }
        Ok(Self { names })
    }

    /// Whether an allow-list is configured (then every request must name a host it admits).
    pub(crate) fn is_set(&self) -> bool {
        !self.names.is_empty()
    }

    /// The listed names, for the start-up log.
    pub(crate) fn names(&self) -> &[String] {
        &self.names
    }

    /// Whether `host` (a `Host` value or an authority, with or without a port) names this
    /// machine or a listed name. A request without a host names nothing.
    pub(crate) fn admits(&self, host: Option<&str>) -> bool {
        let Some(name) = host.map(name_of) else {
            return false;
        };
        LOOPBACK_NAMES
            .iter()
            .copied()
            .chain(self.names.iter().map(String::as_str))
            .any(|n| n.eq_ignore_ascii_case(name))
    }

    /// Whether a request naming `host` may be answered at all: anything when no list is set.
    pub(crate) fn answers(&self, host: Option<&str>) -> bool {
        !self.is_set() || self.admits(host)
    }
}

/// The name part of a `Host` value: without its port; an IPv6 literal keeps its brackets.
fn name_of(host: &str) -> &str {
    if host.starts_with('[') {
        return host.find(']').map_or(host, |end| &host[..=end]);
    }
    host.split_once(':').map_or(host, |(name, _)| name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_names_are_admitted_with_any_port_and_case() {
        let hosts = Hosts::default();
        for host in [
            "localhost",
            "LOCALHOST:8080",
            "127.0.0.1:1",
            "[::1]:18080",
            "[::1]",
        ] {
            assert!(hosts.admits(Some(host)), "{host}");
        }
    }

    #[test]
    fn other_names_and_missing_hosts_are_not_admitted() {
        let hosts = Hosts::default();
        for host in [
            "attacker.example:18080",
            "localhost.attacker.example",
            "127.0.0.2",
            "[::2]:80",
            "",
        ] {
            assert!(!hosts.admits(Some(host)), "{host}");
        }
        assert!(!hosts.admits(None));
        assert!(
            hosts.answers(Some("anything")),
            "no list: every host is answered"
        );
    }

    #[test]
    fn listed_names_are_admitted_and_only_they_are_answered_when_a_list_is_set() {
        let hosts = Hosts::new(&["Media.Example.com".into(), "[fd00::1]".into()]).expect("list");
        assert!(hosts.admits(Some("media.example.com:443")));
        assert!(hosts.admits(Some("[FD00::1]:8080")));
        assert!(hosts.answers(Some("localhost:8080")));
        assert!(!hosts.answers(Some("other.example")));
        assert!(!hosts.answers(None));
    }

    #[test]
    fn list_entries_with_ports_or_schemes_are_refused() {
        for bad in [
            "media.example.com:443",
            "https://media.example.com",
            "",
            "a b",
            "x/y",
        ] {
            assert!(Hosts::new(&[bad.into()]).is_err(), "{bad:?}");
        }
    }
}
