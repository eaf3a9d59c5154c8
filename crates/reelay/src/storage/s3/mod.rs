//! The S3-compatible backend (AWS, Seagate Lyve Cloud, MinIO, Garage, s3s…).
//!
//! Media GETs behave exactly like fs buckets: `open` gives metadata (HEAD, cached for the
//! profile's `meta_ttl` and then revalidated with `If-None-Match`), the pure core decides, and
//! [`read::read_span`] streams the chosen bytes. The store's ETag is the validator, so a
//! replaced object can never splice two versions into one response.

pub mod client;
pub mod read;
pub mod write;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime};

use http::header;
use reelay_http::{EntityTag, content_type::DEFAULT_CONTENT_TYPE, content_type_for};
use reqwest::StatusCode;
use rusty_s3::S3Action;

pub use client::{ProfileSettings, S3Profile};

use super::{ByteStream, ListEntry, ListPage, ObjectMeta, StorageError};
use crate::storage::key::ObjectKey;
use client::SIGN_TTL;

/// Cached metadata entries kept per bucket before the cache is cleared.
const META_CACHE_MAX: usize = 10_000;

/// A bucket on an S3 profile.
#[derive(Debug, Clone)]
pub struct S3Bucket {
    inner: Arc<S3Inner>,
}

#[derive(Debug)]
pub struct S3Inner {
    pub profile: Arc<S3Profile>,
    pub bucket: rusty_s3::Bucket,
    meta: Mutex<HashMap<String, CachedMeta>>,
    /// One lock per key being (re)validated: concurrent requests for an object whose metadata
    /// is missing or stale wait for a single HEAD instead of each sending their own.
    refreshing: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

#[derive(Debug, Clone)]
struct CachedMeta {
    meta: ObjectMeta,
    raw_etag: Option<String>,
    checked: Instant,
}

/// An object opened on S3: its metadata and what is needed to read spans of that version.
#[derive(Debug, Clone)]
pub struct S3Object {
    inner: Arc<S3Inner>,
    key: String,
    raw_etag: Option<String>,
    pub meta: ObjectMeta,
}

impl S3Inner {
    /// Drops cached metadata for `key`.
    pub fn forget(&self, key: &str) {
        let mut cache = self.meta.lock().unwrap_or_else(|p| p.into_inner());
        cache.remove(key);
    }
}

impl S3Object {
    /// Which object, and which version of it, for the chunk cache.
    pub fn identity(&self) -> crate::cache::ObjectId {
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

    pub fn read(&self, start: u64, end: u64) -> ByteStream {
        Box::pin(read::read_span(
            self.inner.clone(),
            self.key.clone(),
            self.raw_etag.clone(),
            start,
            end,
        ))
    }
}

/// Parses the metadata headers of a HEAD (or GET) response.
fn parse_meta(key: &str, headers: &http::HeaderMap) -> Result<CachedMeta, StorageError> {
    let text = |name| headers.get(name).and_then(|v| v.to_str().ok());
    let size: u64 = text(header::CONTENT_LENGTH)
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| StorageError::Backend(format!("HEAD {key}: no Content-Length")))?;
    let raw_etag = text(header::ETAG).map(str::to_owned);
    let last_modified = text(header::LAST_MODIFIED).and_then(|v| httpdate::parse_http_date(v).ok());
    // A store without a strong ETag still gets a strong validator from what it does say.
    let etag = raw_etag
        .as_deref()
        .and_then(|e| EntityTag::parse(e.as_bytes()))
        .filter(|e| !e.weak)
        .unwrap_or_else(|| {
            let secs = last_modified
                .and_then(|t| t.duration_since(SystemTime::UNIX_EPOCH).ok())
                .map_or(0, |d| d.as_secs());
            EntityTag {
                weak: false,
                opaque: format!("s3-{size:x}-{secs:x}"),
            }
        });
    let by_extension = content_type_for(key);
    let content_type = match text(header::CONTENT_TYPE) {
        Some(stored) if by_extension == DEFAULT_CONTENT_TYPE => stored.to_owned().into(),
        _ => by_extension.into(),
    };
    Ok(CachedMeta {
        meta: ObjectMeta {
            size,
            etag,
            last_modified,
            content_type,
        },
        raw_etag,
        checked: Instant::now(),
    })
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
                profile,
                bucket,
                meta: Mutex::new(HashMap::new()),
                refreshing: Mutex::new(HashMap::new()),
            }),
        })
    }

    pub fn profile(&self) -> &S3Profile {
        &self.inner.profile
    }

    fn cached(&self, key: &str) -> Option<CachedMeta> {
        let cache = self.inner.meta.lock().unwrap_or_else(|p| p.into_inner());
        cache.get(key).cloned()
    }

    fn remember(&self, key: &str, entry: Option<CachedMeta>) {
        let mut cache = self.inner.meta.lock().unwrap_or_else(|p| p.into_inner());
        match entry {
            Some(entry) => {
                if cache.len() >= META_CACHE_MAX {
                    cache.clear();
                }
                cache.insert(key.to_owned(), entry);
            }
            None => {
                cache.remove(key);
            }
        }
    }

    fn fresh(&self, key: &str) -> Option<CachedMeta> {
        self.cached(key)
            .filter(|c| c.checked.elapsed() < self.inner.profile.meta_ttl)
    }

    /// The lock that single-flights revalidation of `key`.
    fn refresh_lock(&self, key: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut locks = self
            .inner
            .refreshing
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if locks.len() > META_CACHE_MAX {
            locks.retain(|_, lock| Arc::strong_count(lock) > 1);
        }
        locks.entry(key.to_owned()).or_default().clone()
    }

    /// Opens `key`: cached metadata while fresh, else one (conditional) HEAD shared by every
    /// request that needs it at the same time.
    pub async fn open_object(&self, key: &ObjectKey) -> Result<S3Object, StorageError> {
        let key = key.as_str();
        let entry = match self.fresh(key) {
            Some(hit) => hit,
            None => {
                let lock = self.refresh_lock(key);
                let _turn = lock.lock().await;
                match self.fresh(key) {
                    Some(hit) => hit,
                    None => {
                        let entry = self.head(key, self.cached(key)).await;
                        self.remember(key, entry.as_ref().ok().cloned());
                        entry?
                    }
                }
            }
        };
        Ok(S3Object {
            inner: self.inner.clone(),
            key: key.to_owned(),
            raw_etag: entry.raw_etag,
            meta: entry.meta,
        })
    }

    async fn head(&self, key: &str, stale: Option<CachedMeta>) -> Result<CachedMeta, StorageError> {
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
            (StatusCode::OK, _) => parse_meta(key, resp.headers()),
            (StatusCode::NOT_MODIFIED, Some(mut stale)) => {
                stale.checked = Instant::now();
                Ok(stale)
            }
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
