//! The bucket registry: every bucket by name, where it came from, the S3 profiles that API
//! calls may create buckets on, and the [`Reads`] policy (byte budget, chunk cache) every bucket
//! it hands out reads with. Buckets can be added and removed while serving; readers get a
//! [`Bucket`] handle and keep it for the whole request even if it is removed meanwhile.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::SystemTime;

use super::bucket::{Backend, Bucket};
use super::fs;
use super::key::validate_bucket_name;
use super::reads::Reads;
use super::s3::{S3Bucket, S3Profile};
use crate::cache::ChunkCache;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;

/// Where a bucket was defined (and so whether the API may delete it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// A folder under `DATA/buckets`.
    DataDir,
    /// The config file or a `DIR` argument: the operator's, never deleted through the API.
    Config,
    /// Created through the API on a remote backend (recorded in the metadata DB).
    Api,
}

#[derive(Debug, Clone)]
struct Entry {
    backend: Arc<Backend>,
    origin: Origin,
    created: Option<SystemTime>,
    read_bytes: Counter,
}

/// The label of per-bucket metrics.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct BucketLabel {
    pub(crate) bucket: String,
}

/// What the API shows of a bucket.
#[derive(Debug, Clone)]
pub struct BucketInfo {
    pub name: String,
    pub(crate) kind: &'static str,
    pub origin: Origin,
    pub(crate) created: Option<SystemTime>,
}

#[derive(Debug, Default)]
pub struct Buckets {
    by_name: RwLock<BTreeMap<String, Entry>>,
    profiles: HashMap<String, Arc<S3Profile>>,
    data_dir: Option<PathBuf>,
    reads: Reads,
    /// Bytes read from remote backends, by bucket (registered by the node's metrics).
    read_bytes: Family<BucketLabel, Counter>,
    /// The live recordings bucket, which does not count as a media bucket for
    /// [`Buckets::default_media`].
    recordings: RwLock<Option<String>>,
}

fn check_name(name: &str) -> anyhow::Result<()> {
    validate_bucket_name(name).map_err(|e| anyhow::anyhow!("bucket {name:?}: {e}"))
}

impl Buckets {
    /// A registry whose API-created fs buckets live under `data_dir`.
    pub fn with_data_dir(data_dir: PathBuf) -> Self {
        Self {
            data_dir: Some(data_dir),
            ..Self::default()
        }
    }

    /// Sets how this registry's buckets read (budget, cache); before serving.
    pub(crate) fn set_reads(&mut self, reads: Reads) {
        self.reads = reads;
    }

    /// Puts remote buckets' reads behind `cache`; before serving.
    pub(crate) fn set_cache(&mut self, cache: Arc<ChunkCache>) {
        self.reads = Reads::new(self.reads.budget().clone(), Some(cache));
    }

    pub fn reads(&self) -> &Reads {
        &self.reads
    }

    /// Shares every origin bucket's resolver answers through the shared tier.
    pub fn share_resolvers(&self, tier: &Arc<crate::cache::shared::Tier>) {
        let map = self.by_name.read().unwrap_or_else(|p| p.into_inner());
        for entry in map.values() {
            if let Backend::Origin(origin) = entry.backend.as_ref() {
                origin.share_resolver(tier.clone());
            }
        }
    }

    /// Bytes read from remote backends (S3, origins), by bucket.
    pub(crate) fn read_bytes(&self) -> &Family<BucketLabel, Counter> {
        &self.read_bytes
    }

    /// The folder API-created fs buckets go into.
    pub(crate) fn data_dir(&self) -> Option<&Path> {
        self.data_dir.as_deref()
    }

    pub fn add_profile(&mut self, profile: Arc<S3Profile>) {
        self.profiles.insert(profile.name.clone(), profile);
    }

    /// The names of the `[[s3]]` profiles, sorted.
    pub(crate) fn profile_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.profiles.keys().cloned().collect();
        names.sort();
        names
    }

    pub(crate) fn profile(&self, name: &str) -> Option<Arc<S3Profile>> {
        self.profiles.get(name).cloned()
    }

    /// Adds a bucket; fails on an invalid or duplicate name.
    pub fn insert(
        &self,
        name: &str,
        backend: Backend,
        origin: Origin,
        created: Option<SystemTime>,
    ) -> anyhow::Result<()> {
        check_name(name)?;
        let mut map = self.by_name.write().unwrap_or_else(|p| p.into_inner());
        if map.contains_key(name) {
            anyhow::bail!("bucket {name:?} is defined twice");
        }
        let label = BucketLabel {
            bucket: name.to_owned(),
        };
        let entry = Entry {
            backend: Arc::new(backend),
            origin,
            created,
            read_bytes: self.read_bytes.get_or_create(&label).clone(),
        };
        map.insert(name.to_owned(), entry);
        Ok(())
    }

    /// Adds an fs bucket over `root` (defined by the operator).
    pub fn add_fs(&mut self, name: &str, root: &Path) -> anyhow::Result<()> {
        self.add_fs_from(name, root, Origin::Config)
    }

    pub fn add_fs_from(&self, name: &str, root: &Path, origin: Origin) -> anyhow::Result<()> {
        check_name(name)?;
        let bucket = fs::FsBucket::open(root)
            .map_err(|e| anyhow::anyhow!("bucket {name:?}: cannot open {}: {e}", root.display()))?;
        let created = std::fs::metadata(root).and_then(|m| m.created()).ok();
        self.insert(name, Backend::Fs(bucket), origin, created)
    }

    /// Adds an S3 bucket (defined by the operator).
    pub fn add_s3(&mut self, name: &str, bucket: S3Bucket) -> anyhow::Result<()> {
        self.insert(name, Backend::S3(bucket), Origin::Config, None)
    }

    /// Removes a bucket from the registry.
    pub fn remove(&self, name: &str) -> bool {
        let mut map = self.by_name.write().unwrap_or_else(|p| p.into_inner());
        map.remove(name).is_some()
    }

    pub fn get(&self, name: &str) -> Option<Bucket> {
        let map = self.by_name.read().unwrap_or_else(|p| p.into_inner());
        map.get(name)
            .map(|e| Bucket::shared(e.backend.clone(), self.reads.clone(), e.read_bytes.clone()))
    }

    pub fn origin(&self, name: &str) -> Option<Origin> {
        let map = self.by_name.read().unwrap_or_else(|p| p.into_inner());
        map.get(name).map(|e| e.origin)
    }

    /// Every bucket, in name order.
    pub fn list(&self) -> Vec<BucketInfo> {
        let map = self.by_name.read().unwrap_or_else(|p| p.into_inner());
        map.iter()
            .map(|(name, e)| BucketInfo {
                name: name.clone(),
                kind: e.backend.kind(),
                origin: e.origin,
                created: e.created,
            })
            .collect()
    }

    /// One bucket on each S3 profile that has any, with the profile's name: what a readiness
    /// probe lists to learn whether the profile's endpoint answers.
    pub(crate) fn s3_probes(&self) -> Vec<(String, Bucket)> {
        let names: Vec<(String, String)> = {
            let map = self.by_name.read().unwrap_or_else(|p| p.into_inner());
            map.iter()
                .filter_map(|(name, e)| match e.backend.as_ref() {
                    Backend::S3(b) => Some((b.profile().name.clone(), name.clone())),
                    _ => None,
                })
                .collect()
        };
        let mut seen = std::collections::HashSet::new();
        names
            .into_iter()
            .filter(|(profile, _)| seen.insert(profile.clone()))
            .filter_map(|(profile, name)| Some((profile, self.get(&name)?)))
            .collect()
    }

    /// Marks `name` as the live recordings bucket.
    pub(crate) fn mark_recordings(&self, name: &str) {
        *self.recordings.write().unwrap_or_else(|p| p.into_inner()) = Some(name.to_owned());
    }

    /// Whether `name` is the live recordings bucket.
    pub(crate) fn is_recordings(&self, name: &str) -> bool {
        let recordings = self.recordings.read().unwrap_or_else(|p| p.into_inner());
        recordings.as_deref() == Some(name)
    }

    /// The bucket a request that names none means (`/watch?v=KEY`): the only media bucket —
    /// the recordings bucket does not count unless it is the only bucket. `None` when there are
    /// several (or none).
    pub(crate) fn default_media(&self) -> Option<String> {
        let recordings = self.recordings.read().unwrap_or_else(|p| p.into_inner());
        let map = self.by_name.read().unwrap_or_else(|p| p.into_inner());
        let mut media = map
            .keys()
            .filter(|name| Some(name.as_str()) != recordings.as_deref());
        match (media.next(), media.next()) {
            (Some(only), None) => Some(only.clone()),
            (None, None) => recordings.clone().filter(|r| map.contains_key(r)),
            _ => None,
        }
    }
}
