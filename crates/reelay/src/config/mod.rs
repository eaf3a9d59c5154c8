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

use crate::auth::store::ConfigToken;
use crate::cache::CacheSettings;
use crate::live::LiveSettings;
use crate::storage::origin::{OriginBucket, OriginSettings};
use crate::storage::s3::{ProfileSettings, S3Bucket, S3Profile};
use crate::storage::{Buckets, Origin};

mod buckets;
mod cluster;
mod file;
mod s3;
mod sections;
mod server;
mod units;

use cluster::cluster_settings;
pub use file::FileConfig;
use s3::s3_profile;
use sections::{
    bucket_cache_control, cache_settings, config_token, live_settings, liveness, shared_cache,
    signing_key_from_env,
};
pub(crate) use server::ServerSettings;
use server::server_settings;
pub(crate) use units::parse_duration;

use crate::defaults::server as defaults;

/// A non-empty `REELAY_*` environment variable, which wins over the file's key.
fn env_override(var: &str) -> Option<String> {
    std::env::var(var).ok().filter(|v| !v.trim().is_empty())
}

/// Values given on the command line or in the environment (they win over the file).
#[derive(Debug, Default, Clone)]
pub(crate) struct Overrides {
    pub(crate) listen: Option<String>,
    pub(crate) data_dir: Option<PathBuf>,
    pub(crate) config: Option<PathBuf>,
    pub(crate) dirs: Vec<PathBuf>,
    /// `--reopen`: open a loopback node again whose tokens were all revoked.
    pub reopen: bool,
}

/// The validated configuration the server runs with.
#[derive(Debug)]
pub struct Config {
    pub(crate) listen: SocketAddr,
    pub(crate) data_dir: PathBuf,
    /// `[server]` and `shutdown_grace`.
    pub(crate) server: ServerSettings,
    /// `[origin] resolver_concurrency`, as the slots every origin bucket shares.
    pub resolver_slots: std::sync::Arc<crate::storage::origin::resolver::ResolverSlots>,
    /// Buckets as (name, root folder), in definition order.
    pub(crate) fs_buckets: Vec<(String, PathBuf)>,
    pub(crate) s3_profiles: Vec<ProfileSettings>,
    /// Buckets as (name, profile, bucket in the store).
    pub(crate) s3_buckets: Vec<(String, String, String)>,
    pub(crate) origin_buckets: Vec<OriginSettings>,
    pub(crate) public_buckets: Vec<String>,
    /// `Cache-Control` of media responses, per bucket that sets one.
    pub(crate) cache_control: std::collections::HashMap<String, http::HeaderValue>,
    /// `None`: the cache is off.
    pub(crate) cache: Option<CacheSettings>,
    /// `[cache] shared` (a Redis URL) and `shared_ttl`.
    pub(crate) shared_cache: Option<(String, Duration)>,
    pub(crate) live: LiveSettings,
    /// When edges count as offline (`[edges]`, on a control node).
    pub(crate) liveness: crate::relay::edges::Liveness,
    pub(crate) recordings_bucket: String,
    /// `[live] recordings_shared`: a folder recordings bucket is declared mounted on every node.
    pub(crate) recordings_shared: bool,
    pub(crate) metadata_url: String,
    /// `[cluster]`, with `REELAY_NODE_ID`, `REELAY_CLUSTER_REDIS`, `REELAY_CLUSTER_NATS`.
    pub(crate) cluster: crate::cluster::ClusterSettings,
    /// From `[auth] signing_key_env`; `None`: the key file in the data directory.
    pub(crate) signing_key: Option<Vec<u8>>,
    /// From `[auth] previous_signing_key_env`: verifies, never signs.
    pub(crate) previous_signing_key: Option<Vec<u8>>,
    pub(crate) tokens: Vec<ConfigToken>,
    /// `--reopen` was given.
    pub reopen: bool,
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

/// The log format: `REELAY_LOG_FORMAT`, else the config file's `[log] format`, else text.
/// Read before the rest of the configuration, since logging starts first.
pub fn log_format(config_file: Option<&Path>) -> anyhow::Result<LogFormat> {
    let configured = match config_file {
        Some(path) => read_file_config(path)?.log.format,
        None => None,
    };
    match env_override("REELAY_LOG_FORMAT").or(configured).as_deref() {
        None | Some("text") => Ok(LogFormat::Text),
        Some("json") => Ok(LogFormat::Json),
        Some(other) => bail!("config key log.format: {other:?} is not \"text\" or \"json\""),
    }
}

/// `[origin] resolver_concurrency`, as the slots every origin bucket shares.
fn resolver_slots(
    configured: Option<usize>,
) -> anyhow::Result<std::sync::Arc<crate::storage::origin::resolver::ResolverSlots>> {
    let n = match configured {
        None => crate::defaults::origin::RESOLVER_CONCURRENCY,
        Some(n) if (1..=1024).contains(&n) => n,
        Some(_) => bail!("config key origin.resolver_concurrency: must be 1-1024"),
    };
    Ok(std::sync::Arc::new(
        crate::storage::origin::resolver::ResolverSlots::new(n),
    ))
}

fn read_file_config(path: &Path) -> anyhow::Result<FileConfig> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read config file {}", path.display()))?;
    toml::from_str(&text).with_context(|| format!("invalid config file {}", path.display()))
}

impl Config {
    /// Builds the configuration from the optional file and the overrides.
    pub(crate) fn load(over: &Overrides) -> anyhow::Result<Self> {
        let file = match &over.config {
            Some(path) => read_file_config(path)?,
            None => FileConfig::default(),
        };
        let listen_text = over
            .listen
            .clone()
            .or(file.listen)
            .unwrap_or_else(|| defaults::LISTEN.to_owned());
        let listen: SocketAddr = listen_text
            .parse()
            .with_context(|| format!("listen address {listen_text:?} is not IP:PORT"))?;
        let data_dir = over
            .data_dir
            .clone()
            .or(file.data_dir)
            .unwrap_or_else(|| PathBuf::from(defaults::DATA_DIR));
        let s3_profiles = file
            .s3_profiles
            .iter()
            .map(s3_profile)
            .collect::<anyhow::Result<Vec<_>>>()?;
        let resolver_slots = resolver_slots(file.origin.resolver_concurrency)?;
        let public_buckets = file
            .buckets
            .iter()
            .filter(|b| b.public)
            .map(|b| b.name.clone())
            .collect();
        let cache_control = bucket_cache_control(&file.buckets)?;
        let (fs_buckets, s3_buckets, origin_buckets) =
            buckets::sort(file.buckets, &s3_profiles, &over.dirs, &resolver_slots)?;
        let signing = signing_key_from_env(&file.auth)?;
        Ok(Self {
            listen,
            server: server_settings(&file.server, &file.shutdown_grace)?,
            resolver_slots,
            fs_buckets,
            s3_profiles,
            s3_buckets,
            origin_buckets,
            public_buckets,
            cache_control,
            cache: cache_settings(&file.cache)?,
            shared_cache: shared_cache(&file.cache)?,
            live: live_settings(&file.live)?,
            liveness: liveness(&file.edges)?,
            recordings_bucket: file
                .live
                .recordings_bucket
                .clone()
                .unwrap_or_else(|| crate::defaults::live::RECORDINGS_BUCKET.into()),
            recordings_shared: file.live.recordings_shared,
            metadata_url: env_override("REELAY_METADATA_URL")
                .or(file.metadata.url)
                .unwrap_or_else(|| {
                    format!("sqlite://{}?mode=rwc", data_dir.join("reelay.db").display())
                }),
            cluster: cluster_settings(file.cluster, listen, file.cache.shared.is_some())?,
            signing_key: signing.0,
            previous_signing_key: signing.1,
            tokens: file
                .tokens
                .iter()
                .map(config_token)
                .collect::<anyhow::Result<_>>()?,
            reopen: over.reopen,
            data_dir,
        })
    }

    /// The folder holding the default backend's buckets (one sub-folder per bucket).
    pub(crate) fn buckets_dir(&self) -> PathBuf {
        self.data_dir.join("buckets")
    }

    /// Creates the data directory if needed and opens every bucket: the sub-folders of
    /// `DATA/buckets`, then configured and command-line buckets. Names must be unique.
    pub(crate) fn open_buckets(&self) -> anyhow::Result<Buckets> {
        let dir = self.buckets_dir();
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("cannot create data directory {}", dir.display()))?;
        let mut buckets = Buckets::with_data_dir(dir.clone());
        let mut found: Vec<_> = std::fs::read_dir(&dir)?
            .filter_map(Result::ok)
            .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
            .filter_map(|e| e.file_name().into_string().ok())
            .filter(|n| !n.starts_with('.'))
            .collect();
        found.sort();
        for name in found {
            buckets.add_fs_from(&name, &dir.join(&name), Origin::DataDir)?;
        }
        for (name, root) in &self.fs_buckets {
            buckets.add_fs(name, root)?;
        }
        let mut profiles = std::collections::HashMap::new();
        for settings in &self.s3_profiles {
            let profile = S3Profile::new(settings.clone())
                .with_context(|| format!("S3 profile {:?}", settings.name))?;
            let profile = std::sync::Arc::new(profile);
            buckets.add_profile(profile.clone());
            profiles.insert(settings.name.clone(), profile);
        }
        for (name, profile, remote) in &self.s3_buckets {
            let profile = profiles
                .get(profile)
                .with_context(|| format!("no S3 profile {profile:?}"))?;
            buckets.add_s3(name, S3Bucket::new(profile.clone(), remote)?)?;
        }
        for settings in &self.origin_buckets {
            let bucket = OriginBucket::new(settings.clone())?;
            buckets.insert(
                &settings.name,
                crate::storage::Backend::Origin(bucket),
                Origin::Config,
                None,
            )?;
        }
        Ok(buckets)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_keys_are_errors() {
        let err = toml::from_str::<FileConfig>("listn = \"x\"").expect_err("unknown key");
        assert!(err.to_string().contains("listn"), "{err}");
    }

    #[test]
    fn a_livemix_prefix_must_be_a_file_uri_and_needs_an_ingest_root() {
        let live = |text: &str| {
            let cfg: FileConfig = toml::from_str(text).expect("toml");
            live_settings(&cfg.live)
        };
        let err = live("[live]\nlivemix_prefix = \"file:///tmp\"\n").expect_err("no root");
        assert!(err.to_string().contains("ingest_root"), "{err}");
        let http = "[live]\ningest_root = \"/tmp\"\nlivemix_prefix = \"http://x/\"\n";
        assert!(live(http).is_err());
        let ok = "[live]\ningest_root = \"/tmp\"\nlivemix_prefix = \"file:///tmp/cam\"\n\
                  livemix_source = \"cam\"\n";
        let settings = live(ok).expect("valid");
        assert_eq!(settings.livemix_source.as_deref(), Some("cam"));
        assert_eq!(settings.livemix_prefix.as_deref(), Some("file:///tmp/cam"));
    }

    #[test]
    fn a_part_target_is_between_100ms_and_5s_and_learned_when_absent() {
        let live = |text: &str| {
            let cfg: FileConfig = toml::from_str(text).expect("toml");
            live_settings(&cfg.live)
        };
        assert_eq!(live("[live]\n").expect("default").part_target_ms, 0);
        let set = live("[live]\npart_target = \"300ms\"\n").expect("valid");
        assert_eq!(set.part_target_ms, 300);
        for bad in ["50ms", "10s", "soon"] {
            let err = live(&format!("[live]\npart_target = \"{bad}\"\n")).expect_err(bad);
            assert!(err.to_string().contains("live.part_target"), "{err}");
        }
    }

    #[test]
    fn an_empty_file_gives_what_each_settings_type_gives_by_default() {
        let cfg = FileConfig::default();
        let live = live_settings(&cfg.live).expect("live");
        let by_default = LiveSettings::default();
        assert_eq!(
            (live.window, live.buffer, live.buffer_bytes),
            (
                by_default.window,
                by_default.buffer,
                by_default.buffer_bytes
            )
        );
        assert_eq!(
            (live.max_segment_bytes, live.max_held, live.part_target_ms),
            (
                by_default.max_segment_bytes,
                by_default.max_held,
                by_default.part_target_ms
            )
        );
        let edges = liveness(&cfg.edges).expect("edges");
        let by_default = crate::relay::edges::Liveness::default();
        assert_eq!(
            (
                edges.interval,
                edges.missed,
                edges.margin,
                edges.stop_recordings
            ),
            (
                by_default.interval,
                by_default.missed,
                by_default.margin,
                false
            )
        );
        let server = server_settings(&cfg.server, &None).expect("server");
        assert_eq!(server.read_budget, crate::defaults::server::READ_BUDGET);
        assert_eq!(
            server.max_header_bytes,
            crate::defaults::server::MAX_HEADER_BYTES
        );
        assert_eq!(server.body_timeout, crate::defaults::server::BODY_TIMEOUT);
    }

    #[test]
    fn bucket_entries_parse() {
        let cfg: FileConfig =
            toml::from_str("[[bucket]]\nname = \"movies\"\nfs = \"/srv/movies\"\n").expect("toml");
        assert_eq!(cfg.buckets.len(), 1);
        assert_eq!(cfg.buckets[0].name, "movies");
    }
}
