//! The S3-compatible backend (AWS, Seagate Lyve Cloud, MinIO, Garage, s3s…).
//!
//! Media GETs behave exactly like fs buckets: `open` gives metadata (HEAD, cached for the
//! profile's `meta_ttl` and then revalidated with `If-None-Match`), the pure core decides, and
//! [`read::read_span`] streams the chosen bytes. The store's ETag is the validator, so a
//! replaced object can never splice two versions into one response.

pub(crate) mod client;
pub(crate) mod read;
pub(crate) mod write;

use std::sync::Arc;
use std::time::SystemTime;

use http::header;
use reelay_http::content_type_for;
use reqwest::StatusCode;
use rusty_s3::S3Action;

pub use client::{ProfileSettings, S3Profile};

use super::error::StorageError;
use super::http_meta::{self, RemoteMeta};
use super::key::ObjectKey;
use super::meta_cache::MetaCache;
use super::object::{ListEntry, ListPage, ObjectMeta};
use crate::stream::ByteStream;
use client::SIGN_TTL;

/// A bucket on an S3 profile.
#[derive(Debug, Clone)]
pub struct S3Bucket {
    inner: Arc<S3Inner>,
}

#[derive(Debug)]
pub(crate) struct S3Inner {
    pub(crate) profile: Arc<S3Profile>,
    pub(crate) bucket: rusty_s3::Bucket,
    /// Object metadata, revalidated single-flight.
    meta: MetaCache<RemoteMeta>,
}

/// An object opened on S3: its metadata and what is needed to read spans of that version.
#[derive(Debug, Clone)]
pub(crate) struct S3Object {
    inner: Arc<S3Inner>,
    key: String,
    raw_etag: Option<String>,
    pub(crate) meta: ObjectMeta,
}

impl S3Inner {
    /// Drops cached metadata for `key`.
    pub(crate) fn forget(&self, key: &str) {
        self.meta.forget(key);
    }
}

impl S3Object {
    /// Which object, and which version of it, for the chunk cache.
    pub(crate) fn identity(&self) -> crate::cache::ObjectId {
        crate::cache::ObjectId {
            source: format!(
                "s3:{}/{}",
                self.inner.profile.name,
                self.inner.bucket.name()
            ),
            key: self.key.clone(),
            etag: self.meta.etag.to_string(),
        }
    }

    pub(crate) fn read(&self, start: u64, end: u64) -> ByteStream {
        Box::pin(read::read_span(
            self.inner.clone(),
            self.key.clone(),
            self.raw_etag.clone(),
            start,
            end,
        ))
    }
}

impl S3Bucket {
    pub fn new(profile: Arc<S3Profile>, bucket_name: &str) -> anyhow::Result<Self> {
        let bucket = profile.bucket(bucket_name).map_err(|e| {
            anyhow::anyhow!(
                "S3 bucket {bucket_name:?} on profile {:?}: {e}",
                profile.name
            )
        })?;
        Ok(Self {
            inner: Arc::new(S3Inner {
                meta: MetaCache::new(profile.meta_ttl),
                profile,
                bucket,
            }),
        })
    }

    pub(crate) fn profile(&self) -> &S3Profile {
        &self.inner.profile
    }

    /// Opens `key`: cached metadata while fresh, else one (conditional) HEAD shared by every
    /// request that needs it at the same time.
    pub(crate) async fn open_object(&self, key: &ObjectKey) -> Result<S3Object, StorageError> {
        let key = key.as_str();
        let entry = self
            .inner
            .meta
            .get(key, |stale| self.head(key, stale))
            .await?;
        Ok(S3Object {
            inner: self.inner.clone(),
            key: key.to_owned(),
            raw_etag: entry.raw_etag,
            meta: entry.meta,
        })
    }

    async fn head(&self, key: &str, stale: Option<RemoteMeta>) -> Result<RemoteMeta, StorageError> {
        let profile = &self.inner.profile;
        let what = format!("HEAD {key}");
        let revalidate = stale.as_ref().and_then(|s| s.raw_etag.clone());
        let resp = profile
            .send(&what, || {
                let url = self
                    .inner
                    .bucket
                    .head_object(profile.credentials.as_ref(), key)
                    .sign(SIGN_TTL);
                let req = profile.http.head(url);
                match &revalidate {
                    Some(etag) => req.header(header::IF_NONE_MATCH, etag),
                    None => req,
                }
            })
            .await?;
        match (resp.status(), stale) {
            (StatusCode::OK, _) => http_meta::parse(key, resp.headers(), None),
            (StatusCode::NOT_MODIFIED, Some(stale)) => Ok(stale),
            (status, _) => Err(profile.status_error(&what, status)),
        }
    }

    /// Lists keys under `prefix` after `cursor`, grouped by `delimiter`, at most `limit`.
    pub async fn list(
        &self,
        prefix: &str,
        delimiter: Option<&str>,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<ListPage, StorageError> {
        let profile = &self.inner.profile;
        let resp = profile
            .send("LIST", || {
                let mut action = self
                    .inner
                    .bucket
                    .list_objects_v2(profile.credentials.as_ref());
                action.with_prefix(prefix);
                if let Some(d) = delimiter {
                    action.with_delimiter(d);
                }
                if let Some(c) = cursor {
                    action.with_start_after(c);
                }
                action.with_max_keys(limit);
                profile.http.get(action.sign(SIGN_TTL))
            })
            .await?;
        if resp.status() != StatusCode::OK {
            return Err(profile.status_error("LIST", resp.status()));
        }
        let body = resp
            .text()
            .await
            .map_err(|e| profile.transport_error("LIST", &e))?;
        let parsed = rusty_s3::actions::ListObjectsV2::parse_response(&body)
            .map_err(|_| StorageError::Backend("LIST: unreadable listing".into()))?;
        let objects: Vec<ListEntry> = parsed
            .contents
            .into_iter()
            .map(|c| ListEntry {
                content_type: content_type_for(&c.key).into(),
                size: c.size.unwrap_or(0),
                last_modified: c
                    .last_modified
                    .and_then(|t| t.parse::<jiff::Timestamp>().ok())
                    .map(SystemTime::from),
                key: c.key,
            })
            .collect();
        let prefixes: Vec<String> = parsed
            .common_prefixes
            .into_iter()
            .map(|p| p.prefix)
            .collect();
        let next_cursor = parsed.next_continuation_token.and_then(|_| {
            let last_object = objects.last().map(|o| o.key.as_str());
            let last_prefix = prefixes.last().map(String::as_str);
            last_object.max(last_prefix).map(str::to_owned)
        });
        Ok(ListPage {
            objects,
            prefixes,
            next_cursor,
        })
    }
}
