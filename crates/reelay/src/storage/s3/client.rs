//! Talking to an S3-compatible store: presigned requests (SigV4 by `rusty-s3`, never by hand),
//! sent with reqwest, with retries for transient failures and errors that say who failed.
//!
//! Every request is signed afresh for each attempt, with a short expiry. Errors never carry the
//! request URL (it holds a signature) nor the store's raw response body.

use std::time::Duration;

use reqwest::{Response, StatusCode};
use rusty_s3::{Bucket, Credentials, UrlStyle};
use url::Url;

use crate::storage::error::StorageError;
use crate::storage::retry;

/// How long a presigned request stays valid; each attempt signs anew.
pub(crate) const SIGN_TTL: Duration = Duration::from_secs(300);

/// A connection profile: endpoint, addressing, credentials and limits.
#[derive(Debug)]
pub struct S3Profile {
    pub name: String,
    pub endpoint: Url,
    pub(crate) region: String,
    pub(crate) url_style: UrlStyle,
    pub(crate) credentials: Option<Credentials>,
    /// Time allowed for response headers, and between two body chunks.
    pub(crate) request_timeout: Duration,
    /// Largest ranged GET and upload part.
    pub part_size: u64,
    /// How long object metadata is trusted before it is revalidated.
    pub(crate) meta_ttl: Duration,
    pub(crate) http: reqwest::Client,
}

/// Settings for [`S3Profile::new`].
#[derive(Debug, Clone)]
pub struct ProfileSettings {
    pub name: String,
    pub endpoint: Url,
    pub region: String,
    pub path_style: bool,
    pub credentials: Option<(String, String)>,
    pub connect_timeout: Duration,
    pub request_timeout: Duration,
    pub part_size: u64,
    pub meta_ttl: Duration,
}

impl S3Profile {
    pub fn new(s: ProfileSettings) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .connect_timeout(s.connect_timeout)
            .pool_idle_timeout(Duration::from_secs(30))
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        Ok(Self {
            name: s.name,
            endpoint: s.endpoint,
            region: s.region,
            url_style: if s.path_style {
                UrlStyle::Path
            } else {
                UrlStyle::VirtualHost
            },
            credentials: s.credentials.map(|(k, v)| Credentials::new(k, v)),
            request_timeout: s.request_timeout,
            part_size: s.part_size,
            meta_ttl: s.meta_ttl,
            http,
        })
    }

    /// The rusty-s3 bucket for `name` on this profile.
    pub(crate) fn bucket(&self, name: &str) -> Result<Bucket, rusty_s3::BucketError> {
        Bucket::new(
            self.endpoint.clone(),
            self.url_style,
            name.to_owned(),
            self.region.clone(),
        )
    }

    /// Sends the request `build` makes (called again for each attempt), retrying transient
    /// failures with backoff (see [`crate::storage::retry`]).
    pub(crate) async fn send(
        &self,
        what: &str,
        build: impl Fn() -> reqwest::RequestBuilder,
    ) -> Result<Response, StorageError> {
        retry::send(what, self.host(), self.request_timeout, build).await
    }

    fn host(&self) -> &str {
        self.endpoint.host_str().unwrap_or("?")
    }

    /// Maps a transport failure, without its URL (which holds a signature).
    pub(crate) fn transport_error(&self, what: &str, e: &reqwest::Error) -> StorageError {
        retry::transport_error(what, self.host(), e)
    }

    /// Maps a final non-success status to an error (404, 403, 412, others).
    pub(crate) fn status_error(&self, what: &str, status: StatusCode) -> StorageError {
        match status {
            StatusCode::NOT_FOUND => StorageError::NotFound,
            StatusCode::FORBIDDEN | StatusCode::UNAUTHORIZED => StorageError::denied(
                "the store refused the credentials",
                format!("{what}: S3 profile {:?}", self.name),
            ),
            StatusCode::PRECONDITION_FAILED => StorageError::Changed,
            other => {
                StorageError::Backend(format!("{what}: the store answered {}", other.as_u16()))
            }
        }
    }
}
