//! `[[bucket]]` entries and the folders given on the command line, sorted by backend: each
//! entry names exactly one (a folder, an S3 profile that exists, or an origin/resolver).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, bail};

use super::file::BucketEntry;
use super::sections::origin_settings;
use crate::storage::origin::OriginSettings;
use crate::storage::origin::resolver::ResolverSlots;
use crate::storage::s3::ProfileSettings;

/// Folder buckets as (name, root), S3 buckets as (name, profile, bucket in the store).
type Sorted = (
    Vec<(String, PathBuf)>,
    Vec<(String, String, String)>,
    Vec<OriginSettings>,
);

/// The buckets of `entries` then one per folder of `dirs`, by backend, in definition order.
pub(super) fn sort(
    entries: Vec<BucketEntry>,
    profiles: &[ProfileSettings],
    dirs: &[PathBuf],
    resolver_slots: &Arc<ResolverSlots>,
) -> anyhow::Result<Sorted> {
    let (mut fs, mut s3, mut origin) = (Vec::new(), Vec::new(), Vec::new());
    for entry in entries {
        if entry.origin.is_some() || entry.resolver.is_some() {
            anyhow::ensure!(
                entry.fs.is_none() && entry.s3.is_none(),
                "[[bucket]] {:?} needs exactly one backend: fs, s3 or origin",
                entry.name
            );
            origin.push(origin_settings(&entry, resolver_slots)?);
            continue;
        }
        match (entry.fs, entry.s3) {
            (Some(root), None) => fs.push((entry.name, root)),
            (None, Some(profile)) => {
                if !profiles.iter().any(|p| p.name == profile) {
                    bail!(
                        "[[bucket]] {:?}: no [[s3]] profile named {profile:?}",
                        entry.name
                    );
                }
                let remote = entry.s3_bucket.unwrap_or_else(|| entry.name.clone());
                s3.push((entry.name, profile, remote));
            }
            _ => bail!(
                "[[bucket]] {:?} needs exactly one backend: fs = \"/path\" or s3 = \"profile\"",
                entry.name
            ),
        }
    }
    for dir in dirs {
        fs.push((dir_bucket_name(dir)?, dir.clone()));
    }
    Ok((fs, s3, origin))
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
