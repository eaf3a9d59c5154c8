//! Configuration: one TOML file, `REELAY_*` environment variables and command-line flags,
//! merged into one validated [`Config`] (flags > environment > file > defaults).
//!
//! The file is parsed with `deny_unknown_fields`, so a misspelt key is a startup error naming
//! the key, never a silently ignored setting. Sizes take units (`64MiB`), durations take
//! suffixes (`500ms`, `10s`, `2m`).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use serde::Deserialize;

use crate::storage::Buckets;
use crate::storage::s3::{ProfileSettings, S3Bucket, S3Profile};

/// The address used when nothing else is configured.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
/// The data directory used when nothing else is configured.
pub const DEFAULT_DATA_DIR: &str = "./reelay-data";

/// The file as written by the operator.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub listen: Option<String>,
    pub data_dir: Option<PathBuf>,
    /// How long in-flight responses may run after SIGINT/SIGTERM (default `10s`).
    pub shutdown_grace: Option<String>,
    #[serde(default)]
    pub server: ServerSection,
    #[serde(default, rename = "s3")]
    pub s3_profiles: Vec<S3Entry>,
    #[serde(default, rename = "bucket")]
    pub buckets: Vec<BucketEntry>,
}

/// `[[s3]]`: a connection profile for an S3-compatible store.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct S3Entry {
    pub name: String,
    /// `https://s3.eu-west-1.amazonaws.com`, `http://127.0.0.1:9000`, …
    pub endpoint: String,
    /// Default `us-east-1`.
    pub region: Option<String>,
    /// `path` (default; MinIO, Garage, most S3-compatible stores) or `virtual-host`.
    pub addressing: Option<String>,
    /// Names of environment variables holding the keys (preferred over keys in the file).
    pub access_key_env: Option<String>,
    pub secret_key_env: Option<String>,
    pub access_key: Option<String>,
    pub secret_key: Option<String>,
    /// Default `5s`.
    pub connect_timeout: Option<String>,
    /// Time allowed for response headers and between body chunks; default `30s`.
    pub request_timeout: Option<String>,
    /// Largest ranged GET and upload part; default `8MiB`.
    pub part_size: Option<String>,
    /// How long object metadata is trusted before revalidation; default `5s`.
    pub meta_ttl: Option<String>,
}

/// `[server]`: connection limits.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerSection {
    /// Time allowed for a client to send request headers (default `10s`).
    pub header_timeout: Option<String>,
    /// A write that makes no progress this long ends the connection (default `60s`).
    pub write_timeout: Option<String>,
    /// Largest request head, bytes (default `64KiB`).
    pub max_header_bytes: Option<String>,
    /// Bytes of file data held in flight for all responses together (default `32MiB`).
    pub read_budget: Option<String>,
}

/// `[[bucket]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BucketEntry {
    pub name: String,
    pub fs: Option<PathBuf>,
    /// Name of an `[[s3]]` profile.
    pub s3: Option<String>,
    /// The bucket's name in the store (default: `name`).
    pub s3_bucket: Option<String>,
}

/// Values given on the command line or in the environment (they win over the file).
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    pub listen: Option<String>,
    pub data_dir: Option<PathBuf>,
    pub config: Option<PathBuf>,
    pub dirs: Vec<PathBuf>,
}

/// The validated configuration the server runs with.
#[derive(Debug)]
pub struct Config {
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    pub shutdown_grace: Duration,
    pub header_timeout: Duration,
    pub write_timeout: Duration,
    pub max_header_bytes: usize,
    pub read_budget: usize,
    /// Buckets as (name, root folder), in definition order.
    pub fs_buckets: Vec<(String, PathBuf)>,
    pub s3_profiles: Vec<ProfileSettings>,
    /// Buckets as (name, profile, bucket in the store).
    pub s3_buckets: Vec<(String, String, String)>,
}

/// Parses a duration such as `250ms`, `10s`, `2m`, `1h`.
pub fn parse_duration(s: &str) -> anyhow::Result<Duration> {
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
        other => bail!("unknown duration unit {other:?} in {s:?} (use ms, s, m or h)"),
    };
    d.with_context(|| format!("duration {s:?} is too large"))
}

/// Parses a size such as `65536`, `64KiB`, `512MiB`, `2GiB` (also `KB`/`MB`/`GB` = powers of 10).
pub fn parse_size(s: &str) -> anyhow::Result<usize> {
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

fn opt<T>(
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

/// Reads one key of a profile: from the named environment variable, else from the file.
fn s3_key(
    name: &str,
    env: &Option<String>,
    inline: &Option<String>,
    what: &str,
) -> anyhow::Result<Option<String>> {
    match (env, inline) {
        (Some(var), _) => std::env::var(var).map(Some).map_err(|_| {
            anyhow::anyhow!(
                "S3 profile {name:?}: environment variable {var} ({what}_env) is not set"
            )
        }),
        (None, inline) => Ok(inline.clone()),
    }
}

fn s3_profile(e: &S3Entry) -> anyhow::Result<ProfileSettings> {
    let ctx = |key: &str| format!("s3.{}.{key}", e.name);
    let endpoint: url::Url = e.endpoint.parse().with_context(|| {
        format!(
            "S3 profile {:?}: endpoint {:?} is not a URL",
            e.name, e.endpoint
        )
    })?;
    if !matches!(endpoint.scheme(), "http" | "https") || endpoint.host_str().is_none() {
        bail!(
            "S3 profile {:?}: endpoint must be an http(s) URL with a host",
            e.name
        );
    }
    let path_style = match e.addressing.as_deref() {
        None | Some("path") => true,
        Some("virtual-host") => false,
        Some(other) => bail!(
            "S3 profile {:?}: addressing {other:?} is not path or virtual-host",
            e.name
        ),
    };
    let access = s3_key(&e.name, &e.access_key_env, &e.access_key, "access_key")?;
    let secret = s3_key(&e.name, &e.secret_key_env, &e.secret_key, "secret_key")?;
    let credentials = match (access, secret) {
        (Some(a), Some(s)) => Some((a, s)),
        (None, None) => None,
        _ => bail!(
            "S3 profile {:?}: give both an access key and a secret key, or neither",
            e.name
        ),
    };
    let part_size = opt(&e.part_size, 8 << 20, &ctx("part_size"), parse_size)?;
    if part_size < 64 << 10 {
        bail!("config key {}: must be at least 64KiB", ctx("part_size"));
    }
    Ok(ProfileSettings {
        name: e.name.clone(),
        endpoint,
        region: e.region.clone().unwrap_or_else(|| "us-east-1".into()),
        path_style,
        credentials,
        connect_timeout: opt(
            &e.connect_timeout,
            Duration::from_secs(5),
            &ctx("connect_timeout"),
            parse_duration,
        )?,
        request_timeout: opt(
            &e.request_timeout,
            Duration::from_secs(30),
            &ctx("request_timeout"),
            parse_duration,
        )?,
        part_size: part_size as u64,
        meta_ttl: opt(
            &e.meta_ttl,
            Duration::from_secs(5),
            &ctx("meta_ttl"),
            parse_duration,
        )?,
    })
}

fn read_file_config(path: &Path) -> anyhow::Result<FileConfig> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read config file {}", path.display()))?;
    toml::from_str(&text).with_context(|| format!("invalid config file {}", path.display()))
}

/// The bucket name a `DIR` argument gets: its folder name.
fn dir_bucket_name(dir: &Path) -> anyhow::Result<String> {
    let canonical = dir
        .canonicalize()
        .with_context(|| format!("cannot serve {}: no such folder", dir.display()))?;
    canonical
        .file_name()
        .and_then(|n| n.to_str())
        .map(str::to_owned)
        .with_context(|| format!("cannot name a bucket after {}", dir.display()))
}

impl Config {
    /// Builds the configuration from the optional file and the overrides.
    pub fn load(over: &Overrides) -> anyhow::Result<Self> {
        let file = match &over.config {
            Some(path) => read_file_config(path)?,
            None => FileConfig::default(),
        };
        let listen_text = over
            .listen
            .clone()
            .or(file.listen)
            .unwrap_or_else(|| DEFAULT_LISTEN.to_owned());
        let listen: SocketAddr = listen_text
            .parse()
            .with_context(|| format!("listen address {listen_text:?} is not IP:PORT"))?;
        let data_dir = over
            .data_dir
            .clone()
            .or(file.data_dir)
            .unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR));
        let opt_duration = |v: &Option<String>, default: u64, key: &str| {
            v.as_deref()
                .map_or(Ok(Duration::from_secs(default)), parse_duration)
                .with_context(|| format!("config key {key}"))
        };
        let opt_size = |v: &Option<String>, default: usize, key: &str| {
            v.as_deref()
                .map_or(Ok(default), parse_size)
                .with_context(|| format!("config key {key}"))
        };
        let s3_profiles = file
            .s3_profiles
            .iter()
            .map(s3_profile)
            .collect::<anyhow::Result<Vec<_>>>()?;
        let mut fs_buckets = Vec::new();
        let mut s3_buckets = Vec::new();
        for entry in file.buckets {
            match (entry.fs, entry.s3) {
                (Some(root), None) => fs_buckets.push((entry.name, root)),
                (None, Some(profile)) => {
                    if !s3_profiles.iter().any(|p| p.name == profile) {
                        bail!(
                            "[[bucket]] {:?}: no [[s3]] profile named {profile:?}",
                            entry.name
                        );
                    }
                    let remote = entry.s3_bucket.unwrap_or_else(|| entry.name.clone());
                    s3_buckets.push((entry.name, profile, remote));
                }
                _ => bail!(
                    "[[bucket]] {:?} needs exactly one backend: fs = \"/path\" or s3 = \"profile\"",
                    entry.name
                ),
            }
        }
        for dir in &over.dirs {
            fs_buckets.push((dir_bucket_name(dir)?, dir.clone()));
        }
        let max_header_bytes = opt_size(
            &file.server.max_header_bytes,
            64 << 10,
            "server.max_header_bytes",
        )?;
        if max_header_bytes < 8192 {
            bail!("config key server.max_header_bytes: must be at least 8KiB");
        }
        Ok(Self {
            listen,
            data_dir,
            shutdown_grace: opt_duration(&file.shutdown_grace, 10, "shutdown_grace")?,
            header_timeout: opt_duration(&file.server.header_timeout, 10, "server.header_timeout")?,
            write_timeout: opt_duration(&file.server.write_timeout, 60, "server.write_timeout")?,
            max_header_bytes,
            read_budget: opt_size(&file.server.read_budget, 32 << 20, "server.read_budget")?,
            fs_buckets,
            s3_profiles,
            s3_buckets,
        })
    }

    /// The folder holding the default backend's buckets (one sub-folder per bucket).
    pub fn buckets_dir(&self) -> PathBuf {
        self.data_dir.join("buckets")
    }

    /// Creates the data directory if needed and opens every bucket: the sub-folders of
    /// `DATA/buckets`, then configured and command-line buckets. Names must be unique.
    pub fn open_buckets(&self) -> anyhow::Result<Buckets> {
        let dir = self.buckets_dir();
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("cannot create data directory {}", dir.display()))?;
        let mut buckets = Buckets::default();
        let mut found: Vec<_> = std::fs::read_dir(&dir)?
            .filter_map(Result::ok)
            .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
            .filter_map(|e| e.file_name().into_string().ok())
            .filter(|n| !n.starts_with('.'))
            .collect();
        found.sort();
        for name in found {
            buckets.add_fs(&name, &dir.join(&name))?;
        }
        for (name, root) in &self.fs_buckets {
            buckets.add_fs(name, root)?;
        }
        let mut profiles = std::collections::HashMap::new();
        for settings in &self.s3_profiles {
            let profile = S3Profile::new(settings.clone())
                .with_context(|| format!("S3 profile {:?}", settings.name))?;
            profiles.insert(settings.name.clone(), std::sync::Arc::new(profile));
        }
        for (name, profile, remote) in &self.s3_buckets {
            let profile = profiles
                .get(profile)
                .with_context(|| format!("no S3 profile {profile:?}"))?;
            buckets.add_s3(name, S3Bucket::new(profile.clone(), remote)?)?;
        }
        Ok(buckets)
    }
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

    #[test]
    fn unknown_keys_are_errors() {
        let err = toml::from_str::<FileConfig>("listn = \"x\"").expect_err("unknown key");
        assert!(err.to_string().contains("listn"), "{err}");
    }

    #[test]
    fn bucket_entries_parse() {
        let cfg: FileConfig =
            toml::from_str("[[bucket]]\nname = \"movies\"\nfs = \"/srv/movies\"\n").expect("toml");
        assert_eq!(cfg.buckets.len(), 1);
        assert_eq!(cfg.buckets[0].name, "movies");
    }
}
