//! Writing to S3: uploads, deletes, bucket creation and removal.
//!
//! An upload is read from the client in parts of `part_size` bytes (never the whole object in
//! memory): one that fits in a single part is a plain PUT with a known length; anything larger
//! is a multipart upload. If anything fails — the store, the size limit, or the client going
//! away mid-body — the multipart upload is aborted, so no partial object ever becomes visible.

use bytes::{Bytes, BytesMut};
use http::header;
use reqwest::StatusCode;
use rusty_s3::S3Action;
use rusty_s3::actions::CreateMultipartUpload;

use super::client::SIGN_TTL;
use super::{S3Bucket, S3Inner};
use crate::storage::error::{PutError, StorageError};
use crate::storage::key::ObjectKey;
use crate::stream::{BodyError, Limited};

/// Reads the next part (up to `part_size` bytes) of `body`.
async fn next_part(body: &mut Limited, part_size: usize) -> Result<Bytes, BodyError> {
    let mut part = BytesMut::with_capacity(part_size.min(1 << 20));
    while part.len() < part_size {
        let Some(chunk) = body.next().await else {
            break;
        };
        part.extend_from_slice(&chunk?);
    }
    Ok(part.freeze())
}

/// Aborts a multipart upload if dropped before completion (client gone, error, limit).
struct PendingUpload {
    inner: std::sync::Arc<S3Inner>,
    key: String,
    upload_id: String,
    done: bool,
}

impl PendingUpload {
    async fn abort(inner: &S3Inner, key: &str, upload_id: &str) {
        let profile = &inner.profile;
        let result = profile
            .send("ABORT", || {
                let url = inner
                    .bucket
                    .abort_multipart_upload(profile.credentials.as_ref(), key, upload_id)
                    .sign(SIGN_TTL);
                profile.http.delete(url)
            })
            .await;
        if let Err(e) = result {
            tracing::warn!(error = %e, key, "could not abort a multipart upload");
        }
    }
}

impl Drop for PendingUpload {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        let (inner, key, id) = (self.inner.clone(), self.key.clone(), self.upload_id.clone());
        tokio::spawn(async move { Self::abort(&inner, &key, &id).await });
    }
}

impl S3Bucket {
    async fn simple_put(
        &self,
        key: &str,
        data: Bytes,
        content_type: &str,
    ) -> Result<(), StorageError> {
        let inner = &self.inner;
        let profile = &inner.profile;
        let resp = profile
            .send(&format!("PUT {key}"), || {
                let url = inner
                    .bucket
                    .put_object(profile.credentials.as_ref(), key)
                    .sign(SIGN_TTL);
                profile
                    .http
                    .put(url)
                    .header(header::CONTENT_TYPE, content_type)
                    .body(data.clone())
            })
            .await?;
        match resp.status() {
            s if s.is_success() => Ok(()),
            s => Err(profile.status_error(&format!("PUT {key}"), s)),
        }
    }

    async fn create_upload(
        &self,
        key: &str,
        content_type: &str,
    ) -> Result<PendingUpload, StorageError> {
        let inner = &self.inner;
        let profile = &inner.profile;
        let what = format!("CREATE UPLOAD {key}");
        let resp = profile
            .send(&what, || {
                let url = inner
                    .bucket
                    .create_multipart_upload(profile.credentials.as_ref(), key)
                    .sign(SIGN_TTL);
                profile
                    .http
                    .post(url)
                    .header(header::CONTENT_TYPE, content_type)
            })
            .await?;
        if !resp.status().is_success() {
            return Err(profile.status_error(&what, resp.status()));
        }
        let text = resp
            .text()
            .await
            .map_err(|e| profile.transport_error(&what, &e))?;
        let parsed = CreateMultipartUpload::parse_response(&text)
            .map_err(|_| StorageError::Backend(format!("{what}: unreadable answer")))?;
        Ok(PendingUpload {
            inner: inner.clone(),
            key: key.to_owned(),
            upload_id: parsed.upload_id().to_owned(),
            done: false,
        })
    }

    async fn upload_part(
        &self,
        up: &PendingUpload,
        number: u16,
        data: Bytes,
    ) -> Result<String, StorageError> {
        let inner = &self.inner;
        let profile = &inner.profile;
        let what = format!("UPLOAD PART {number} of {}", up.key);
        let resp = profile
            .send(&what, || {
                let url = inner
                    .bucket
                    .upload_part(profile.credentials.as_ref(), &up.key, number, &up.upload_id)
                    .sign(SIGN_TTL);
                profile.http.put(url).body(data.clone())
            })
            .await?;
        if !resp.status().is_success() {
            return Err(profile.status_error(&what, resp.status()));
        }
        resp.headers()
            .get(header::ETAG)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
            .ok_or_else(|| StorageError::Backend(format!("{what}: no ETag")))
    }

    async fn complete(&self, up: &mut PendingUpload, etags: &[String]) -> Result<(), StorageError> {
        let inner = &self.inner;
        let profile = &inner.profile;
        let what = format!("COMPLETE UPLOAD {}", up.key);
        let resp = profile
            .send(&what, || {
                let action = inner.bucket.complete_multipart_upload(
                    profile.credentials.as_ref(),
                    &up.key,
                    &up.upload_id,
                    etags.iter().map(String::as_str),
                );
                let url = action.sign(SIGN_TTL);
                profile.http.post(url).body(action.body())
            })
            .await?;
        // Some stores report a failed completion as a 200 carrying an <Error> document.
        let status = resp.status();
        let text = resp
            .text()
            .await
            .map_err(|e| profile.transport_error(&what, &e))?;
        if !status.is_success() || text.contains("<Error>") {
            return Err(StorageError::Backend(format!(
                "{what}: the store refused to complete it"
            )));
        }
        up.done = true;
        Ok(())
    }

    /// Uploads `body` to `key`; see the module docs.
    pub(crate) async fn put(
        &self,
        key: &ObjectKey,
        mut body: Limited,
        content_type: &str,
    ) -> Result<(), PutError> {
        let key = key.as_str();
        let part_size = usize::try_from(self.inner.profile.part_size).unwrap_or(8 << 20);
        let first = next_part(&mut body, part_size).await?;
        if first.len() < part_size {
            self.simple_put(key, first, content_type).await?;
        } else {
            let mut upload = self.create_upload(key, content_type).await?;
            let mut etags = Vec::new();
            let mut part = first;
            while !part.is_empty() {
                // S3 allows 10,000 parts: the body is larger than this store can take.
                let number = u16::try_from(etags.len() + 1).map_err(|_| BodyError::TooLarge {
                    limit: body.taken(),
                })?;
                etags.push(self.upload_part(&upload, number, part).await?);
                part = next_part(&mut body, part_size).await?;
            }
            self.complete(&mut upload, &etags).await?;
        }
        self.inner.forget(key);
        Ok(())
    }

    /// Deletes `key`; `NotFound` if it does not exist.
    pub(crate) async fn delete(&self, key: &ObjectKey) -> Result<(), StorageError> {
        self.open_object(key).await?;
        let inner = &self.inner;
        let profile = &inner.profile;
        let what = format!("DELETE {key}");
        let resp = profile
            .send(&what, || {
                let url = inner
                    .bucket
                    .delete_object(profile.credentials.as_ref(), key.as_str())
                    .sign(SIGN_TTL);
                profile.http.delete(url)
            })
            .await?;
        inner.forget(key.as_str());
        match resp.status() {
            s if s.is_success() => Ok(()),
            s => Err(profile.status_error(&what, s)),
        }
    }

    /// Creates the bucket on the store; an existing bucket we own is fine.
    pub(crate) async fn create_remote(&self) -> Result<(), StorageError> {
        let inner = &self.inner;
        let profile = &inner.profile;
        let Some(credentials) = profile.credentials.as_ref() else {
            return Err(StorageError::denied(
                "creating a bucket needs credentials",
                "S3 profile without credentials",
            ));
        };
        let resp = profile
            .send("CREATE BUCKET", || {
                profile
                    .http
                    .put(inner.bucket.create_bucket(credentials).sign(SIGN_TTL))
            })
            .await?;
        let status = resp.status();
        let text = resp.text().await.unwrap_or_default();
        match status {
            s if s.is_success() => Ok(()),
            StatusCode::CONFLICT if text.contains("BucketAlreadyOwnedByYou") => Ok(()),
            StatusCode::CONFLICT => Err(StorageError::Conflict(
                "the store already has a bucket with that name".into(),
            )),
            s => Err(profile.status_error("CREATE BUCKET", s)),
        }
    }

    /// Deletes the (empty) bucket on the store.
    pub(crate) async fn delete_remote(&self) -> Result<(), StorageError> {
        let inner = &self.inner;
        let profile = &inner.profile;
        let Some(credentials) = profile.credentials.as_ref() else {
            return Err(StorageError::denied(
                "deleting a bucket needs credentials",
                "S3 profile without credentials",
            ));
        };
        let resp = profile
            .send("DELETE BUCKET", || {
                profile
                    .http
                    .delete(inner.bucket.delete_bucket(credentials).sign(SIGN_TTL))
            })
            .await?;
        match resp.status() {
            s if s.is_success() || s == StatusCode::NOT_FOUND => Ok(()),
            StatusCode::CONFLICT => Err(StorageError::Conflict("the bucket is not empty".into())),
            s => Err(profile.status_error("DELETE BUCKET", s)),
        }
    }
}
