//! The HTTP origin backend: `[[bucket]] origin = "https://host/base/"` maps
//! `/media/{bucket}/{key}` to `base + key` (or, with a `resolver`, to the URL the resolver
//! answers for the id `key`), through the same range/conditional engine and chunk cache as S3.
//!
//! Every range read is pinned to the version whose validators were sent to the client with
//! `If-Range`: a 206 must carry the asked `Content-Range` and the same ETag; a 200 means either
//! the object changed (different validators: the response is aborted) or the origin ignores
//! `Range` (same validators: reelay skips to the asked offset and stops at its end, so the
//! client still gets exactly its range). Security: see [`guard`].

pub(crate) mod guard;
pub mod resolver;

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use futures_util::stream::BoxStream;
use http::header;
use reqwest::StatusCode;
use url::Url;

use super::error::StorageError;
use super::http_meta::{self, RemoteMeta};
use super::key::ObjectKey;
use super::meta_cache::MetaCache;
use super::object::ObjectMeta;
use crate::stream::ByteStream;
use guard::Allowed;
use resolver::Resolver;

/// Settings of an origin bucket.
#[derive(Debug, Clone)]
pub struct OriginSettings {
    /// The bucket's name (identifies its objects in the cache).
    pub name: String,
    /// Base URL, ending in `/`; `None` for resolver-only buckets.
    pub base: Option<Url>,
    /// Extra origins a resolver's answers may point to.
    pub allow: Vec<String>,
    /// Permit internal addresses behind host names (and in resolver answers).
    pub allow_internal: bool,
    /// Resolver command, its timeout and answer TTL.
    pub resolver: Option<(Vec<String>, Duration, Duration)>,
    pub connect_timeout: Duration,
    pub request_timeout: Duration,
    pub meta_ttl: Duration,
    /// An explicit proxy for this bucket's fetches; none from the environment is ever used.
    pub proxy: Option<Url>,
    /// The node's resolver slots, shared by its buckets (`[origin] resolver_concurrency`).
    pub resolver_slots: Arc<resolver::ResolverSlots>,
}

#[derive(Debug, Clone)]
pub struct OriginBucket {
    inner: Arc<OriginInner>,
}

#[derive(Debug)]
struct OriginInner {
    source: String,
    base: Option<Url>,
    client: reqwest::Client,
    request_timeout: Duration,
    meta: MetaCache<(Url, RemoteMeta)>,
    resolver: Option<Resolver>,
}

/// An object opened on an origin.
#[derive(Debug, Clone)]
pub(crate) struct OriginObject {
    inner: Arc<OriginInner>,
    key: String,
    url: Url,
    remote: RemoteMeta,
    pub(crate) meta: ObjectMeta,
}

fn host_label(url: &Url) -> String {
    url.host_str().unwrap_or("?").to_owned()
}

impl OriginBucket {
    pub fn new(s: OriginSettings) -> anyhow::Result<Self> {
        let mut allowed = Allowed::parse(&s.allow)?;
        if let Some(base) = &s.base {
            anyhow::ensure!(
                matches!(base.scheme(), "http" | "https") && base.host_str().is_some(),
                "origin {base} must be an http(s) URL with a host"
            );
            anyhow::ensure!(base.path().ends_with('/'), "origin {base} must end with /");
            anyhow::ensure!(
                base.query().is_none() && base.fragment().is_none(),
                "origin {base} has a query"
            );
            allowed.add(base);
        }
        let resolver = s.resolver.map(|(argv, timeout, ttl)| {
            Resolver::new(
                &s.name,
                argv,
                timeout,
                ttl,
                allowed.clone(),
                s.allow_internal,
                s.resolver_slots.clone(),
            )
        });
        anyhow::ensure!(
            s.base.is_some() || resolver.is_some(),
            "an origin bucket needs origin or resolver"
        );
        Ok(Self {
            inner: Arc::new(OriginInner {
                source: format!("origin:{}", s.name),
                client: guard::client(s.allow_internal, s.connect_timeout, s.proxy.as_ref())?,
                base: s.base,
                request_timeout: s.request_timeout,
                meta: MetaCache::new(s.meta_ttl),
                resolver,
            }),
        })
    }

    /// Shares the resolver's answers (if it has one) through the shared tier.
    pub(crate) fn share_resolver(&self, tier: Arc<crate::cache::shared::Tier>) {
        if let Some(resolver) = &self.inner.resolver {
            resolver.share(tier);
        }
    }

    async fn url_for(&self, key: &str) -> Result<Url, StorageError> {
        if let Some(resolver) = &self.inner.resolver {
            return resolver.resolve(key).await;
        }
        let base = self.inner.base.as_ref().ok_or(StorageError::NotFound)?;
        let encoded: Vec<String> = key
            .split('/')
            .map(|seg| {
                percent_encoding::utf8_percent_encode(seg, percent_encoding::NON_ALPHANUMERIC)
                    .to_string()
            })
            .collect();
        base.join(&encoded.join("/"))
            .map_err(|_| StorageError::NotFound)
    }

    /// Opens `key`: metadata cached single-flight; a resolved URL that the origin now refuses
    /// (403/410) is resolved again once.
    pub(crate) async fn open_object(&self, key: &ObjectKey) -> Result<OriginObject, StorageError> {
        let key = key.as_str();
        let first = self
            .inner
            .meta
            .get(key, |stale| self.head(key, stale))
            .await;
        let (url, remote) = match (first, &self.inner.resolver) {
            (Err(StorageError::BackendDenied { .. } | StorageError::NotFound), Some(resolver)) => {
                resolver.forget(key).await;
                self.inner.meta.get(key, |_| self.head(key, None)).await?
            }
            (result, _) => result?,
        };
        Ok(OriginObject {
            inner: self.inner.clone(),
            key: key.to_owned(),
            url,
            meta: remote.meta.clone(),
            remote,
        })
    }

    async fn head(
        &self,
        key: &str,
        stale: Option<(Url, RemoteMeta)>,
    ) -> Result<(Url, RemoteMeta), StorageError> {
        let url = self.url_for(key).await?;
        let revalidate = stale
            .as_ref()
            .filter(|(u, _)| *u == url)
            .and_then(|(_, m)| m.raw_etag.clone());
        let what = format!("HEAD {key}");
        let resp = self
            .inner
            .send(&what, &url, || {
                let req = self.inner.client.head(url.clone());
                match &revalidate {
                    Some(etag) => req.header(header::IF_NONE_MATCH, etag),
                    None => req,
                }
            })
            .await?;
        match resp.status() {
            StatusCode::OK if resp.headers().contains_key(header::CONTENT_LENGTH) => {
                Ok((url, http_meta::parse(key, resp.headers(), None)?))
            }
            StatusCode::OK => self.probe_length(key, url).await,
            StatusCode::NOT_MODIFIED if revalidate.is_some() => stale.ok_or(StorageError::NotFound),
            status => Err(status_error(&what, status)),
        }
    }

    /// For origins whose HEAD gives no length: `Range: bytes=0-0` and the Content-Range total.
    async fn probe_length(&self, key: &str, url: Url) -> Result<(Url, RemoteMeta), StorageError> {
        let what = format!("GET {key} (length)");
        let resp = self
            .inner
            .send(&what, &url, || {
                self.inner
                    .client
                    .get(url.clone())
                    .header(header::RANGE, "bytes=0-0")
            })
            .await?;
        let total = resp
            .headers()
            .get(header::CONTENT_RANGE)
            .and_then(|v| v.to_str().ok())
            .and_then(http_meta::content_range_total);
        match (resp.status(), total) {
            (StatusCode::PARTIAL_CONTENT, Some(total)) => {
                Ok((url, http_meta::parse(key, resp.headers(), Some(total))?))
            }
            (status, _) => Err(StorageError::Backend(format!(
                "{what}: the origin gave no length ({status})"
            ))),
        }
    }
}

fn status_error(what: &str, status: StatusCode) -> StorageError {
    match status.as_u16() {
        404 | 410 => StorageError::NotFound,
        401 | 403 => StorageError::denied("the origin refused access", format!("{what}: {status}")),
        412 => StorageError::Changed,
        300..=399 => StorageError::denied(
            "the origin redirected elsewhere; not followed",
            format!("{what}: {status}"),
        ),
        _ => StorageError::Backend(format!("{what}: the origin answered {}", status.as_u16())),
    }
}

impl OriginInner {
    async fn send(
        &self,
        what: &str,
        url: &Url,
        build: impl Fn() -> reqwest::RequestBuilder,
    ) -> Result<reqwest::Response, StorageError> {
        super::retry::send(what, &host_label(url), self.request_timeout, build).await
    }
}

impl OriginObject {
    /// Which object and version, for the chunk cache.
    pub(crate) fn identity(&self) -> crate::cache::ObjectId {
        crate::cache::ObjectId {
            source: self.inner.source.clone(),
            key: self.key.clone(),
            etag: self.meta.etag.to_string(),
        }
    }

    /// Whether a full (200) response carries the validators this object was opened with.
    fn same_version(&self, headers: &http::HeaderMap) -> bool {
        let get = |name| headers.get(name).and_then(|v| v.to_str().ok());
        match (&self.remote.raw_etag, &self.remote.raw_last_modified) {
            (Some(etag), _) => get(header::ETAG) == Some(etag.as_str()),
            (None, Some(lm)) => get(header::LAST_MODIFIED) == Some(lm.as_str()),
            (None, None) => false,
        }
    }

    /// Requests `start..end` pinned with `If-Range`; returns the body and bytes to skip.
    async fn open_range(
        &self,
        start: u64,
        end: u64,
    ) -> Result<(BoxStream<'static, reqwest::Result<Bytes>>, u64), StorageError> {
        let what = format!("GET {}", self.key);
        let range = format!("bytes={start}-{}", end - 1);
        let validator = self
            .remote
            .raw_etag
            .clone()
            .filter(|e| !e.starts_with("W/"))
            .or_else(|| self.remote.raw_last_modified.clone());
        let resp = self
            .inner
            .send(&what, &self.url, || {
                let req = self
                    .inner
                    .client
                    .get(self.url.clone())
                    .header(header::RANGE, &range);
                match &validator {
                    Some(v) => req.header(header::IF_RANGE, v),
                    None => req,
                }
            })
            .await?;
        let headers = resp.headers().clone();
        let text = |name| headers.get(name).and_then(|v| v.to_str().ok());
        let skip = match resp.status() {
            StatusCode::PARTIAL_CONTENT => {
                let expected = format!("bytes {start}-{}/", end - 1);
                let etag_ok = match (&self.remote.raw_etag, text(header::ETAG)) {
                    (Some(want), Some(got)) => want == got,
                    _ => true,
                };
                if !etag_ok
                    || !text(header::CONTENT_RANGE).is_some_and(|r| r.starts_with(&expected))
                {
                    return Err(StorageError::Changed);
                }
                0
            }
            StatusCode::OK if self.same_version(&headers) => start,
            StatusCode::OK => return Err(StorageError::Changed),
            status => return Err(status_error(&what, status)),
        };
        Ok((resp.bytes_stream().boxed(), skip))
    }

    /// Streams bytes `start..end` of this version of the object.
    pub(crate) fn read(&self, start: u64, end: u64) -> ByteStream {
        struct State {
            object: OriginObject,
            body: Option<BoxStream<'static, reqwest::Result<Bytes>>>,
            skip: u64,
            remaining: u64,
        }
        let state = State {
            object: self.clone(),
            body: None,
            skip: 0,
            remaining: end - start,
        };
        Box::pin(futures_util::stream::try_unfold(
            state,
            move |mut st| async move {
                let timeout = st.object.inner.request_timeout;
                loop {
                    if st.remaining == 0 {
                        return Ok(None);
                    }
                    if st.body.is_none() {
                        let (body, skip) = st
                            .object
                            .open_range(start, end)
                            .await
                            .map_err(std::io::Error::other)?;
                        st.body = Some(body);
                        st.skip = skip;
                    }
                    let Some(body) = st.body.as_mut() else {
                        continue;
                    };
                    let mut chunk = match tokio::time::timeout(timeout, body.next()).await {
                        Ok(Some(Ok(chunk))) => chunk,
                        Ok(Some(Err(_))) => {
                            return Err(std::io::Error::other(
                                "the origin connection failed mid-body",
                            ));
                        }
                        Ok(None) => {
                            return Err(std::io::Error::other("the origin's body ended early"));
                        }
                        Err(_) => return Err(std::io::Error::other("the origin stalled mid-body")),
                    };
                    let skipped = st.skip.min(chunk.len() as u64);
                    st.skip -= skipped;
                    let chunk_len = chunk.len() as u64 - skipped;
                    let take = chunk_len.min(st.remaining);
                    chunk = chunk.slice(skipped as usize..(skipped + take) as usize);
                    st.remaining -= take;
                    if !chunk.is_empty() {
                        return Ok(Some((chunk, st)));
                    }
                }
            },
        ))
    }
}
