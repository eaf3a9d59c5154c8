//! Durations (`500ms`, `10s`, `2m`, `1h`) and sizes (`64KiB`, `512MiB`, `2GB`) in config values.

use std::time::Duration;

use anyhow::{Context, bail};

/// Parses a duration such as `250ms`, `10s`, `2m`, `1h`.
pub(crate) fn parse_duration(s: &str) -> anyhow::Result<Duration> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (digits, unit) = s.split_at(split);
    let n: u64 = digits
        .parse()
        .with_context(|| format!("{s:?} is not a duration"))?;
    let secs = |k: u64| n.checked_mul(k).map(Duration::from_secs);
    let d = match unit.trim() {
        "ms" => Some(Duration::from_millis(n)),
        "s" | "" => secs(1),
        "m" => secs(60),
        "h" => secs(3600),
        "d" => secs(86_400),
        other => bail!("unknown duration unit {other:?} in {s:?} (use ms, s, m, h or d)"),
    };
    d.with_context(|| format!("duration {s:?} is too large"))
}

/// Parses a size such as `65536`, `64KiB`, `512MiB`, `2GiB` (also `KB`/`MB`/`GB` = powers of 10).
pub(crate) fn parse_size(s: &str) -> anyhow::Result<usize> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (digits, unit) = s.split_at(split);
    let n: usize = digits
        .parse()
        .with_context(|| format!("{s:?} is not a size"))?;
    let k: usize = match unit.trim() {
        "" | "B" => 1,
        "KiB" => 1 << 10,
        "MiB" => 1 << 20,
        "GiB" => 1 << 30,
        "KB" => 1_000,
        "MB" => 1_000_000,
        "GB" => 1_000_000_000,
        other => bail!("unknown size unit {other:?} in {s:?} (use B, KiB, MiB, GiB)"),
    };
    n.checked_mul(k)
        .with_context(|| format!("size {s:?} is too large"))
}

/// `value` parsed by `parse`, or `default` when absent; errors name the config `key`.
pub(crate) fn opt<T>(
    value: &Option<String>,
    default: T,
    key: &str,
    parse: fn(&str) -> anyhow::Result<T>,
) -> anyhow::Result<T> {
    value
        .as_deref()
        .map_or(Ok(default), parse)
        .with_context(|| format!("config key {key}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_and_sizes() {
        assert_eq!(
            parse_duration("250ms").ok(),
            Some(Duration::from_millis(250))
        );
        assert_eq!(parse_duration("2m").ok(), Some(Duration::from_secs(120)));
        assert!(parse_duration("5 fortnights").is_err());
        assert!(parse_duration("99999999999999999999h").is_err());
        assert_eq!(parse_size("64KiB").ok(), Some(65536));
        assert_eq!(parse_size("3").ok(), Some(3));
        assert!(parse_size("1PiB").is_err());
    }
}
