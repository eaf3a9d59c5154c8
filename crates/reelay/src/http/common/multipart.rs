//! `multipart/form-data` uploads — `curl -F`, an HTML `<form>` — for the Lyve seed's
//! `POST /files_upload` and the native `POST /api/v1/buckets/{bucket}/objects`.
//!
//! The form is parsed as it arrives (`multer`), and the file field streams to storage through
//! the same `Bucket::put` as a raw upload: the per-chunk body timeout, `max_upload`, a temp
//! object renamed (or an S3 multipart upload completed) only once the whole file is in. Where
//! the file goes may be named by text fields that a client sends *after* the file (a form's
//! field order is the client's), so a file that arrives before its target is known is spooled
//! to a temporary file in the data directory (never to memory) and streamed from there once the
//! form has ended; the spool is removed whatever happens. Text fields are small (4 KiB each) and
//! few (16 fields in all).

use std::path::{Path, PathBuf};

use bytes::Bytes;
use futures_util::{StreamExt, TryStreamExt};
use http::{HeaderMap, header};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::http::common::error::ApiError;
use crate::random;
use crate::storage::{Bucket, ObjectKey};
use crate::stream::{BodyError, BodyStream};

/// Largest text field.
const MAX_TEXT_FIELD: usize = 4096;
/// Most fields in one form.
const MAX_FIELDS: usize = 16;

/// Where a form's file goes, from its text fields (or the caller's path).
#[derive(Debug, Default, Clone)]
pub(crate) struct Target {
    pub(crate) bucket: Option<String>,
    pub(crate) key: Option<String>,
}

/// How a form names its parts: the file field and the text fields naming bucket and key.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Form {
    pub(crate) file_field: &'static str,
    pub(crate) bucket_field: Option<&'static str>,
    pub(crate) key_fields: &'static [&'static str],
}

/// What a form upload stored.
#[derive(Debug)]
pub(crate) struct Stored {
    pub(crate) bucket: Bucket,
    pub(crate) key: ObjectKey,
}

/// Finds the bucket an upload goes to (the caller's lookup: 404 for an unknown one).
pub(crate) type Resolve<'a> = &'a (dyn Fn(&str) -> Result<Bucket, ApiError> + Sync);

/// The boundary of a `multipart/form-data` request, or a 415.
pub(crate) fn boundary(headers: &HeaderMap) -> Result<String, ApiError> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if !content_type
        .to_ascii_lowercase()
        .starts_with("multipart/form-data")
    {
        return Err(ApiError::unsupported_media_type(
            "the body must be multipart/form-data",
        ));
    }
    multer::parse_boundary(content_type)
        .map_err(|_| ApiError::bad_request("the multipart/form-data boundary is missing"))
}

/// A multer failure as the body error it is: the sender's stream (stalled, too large, broken)
/// or a malformed form.
fn body_error(e: multer::Error) -> BodyError {
    match e {
        multer::Error::StreamReadFailed(inner) => match inner.downcast::<BodyError>() {
            Ok(body) => *body,
            Err(other) => BodyError::Broken(other.to_string()),
        },
        other => BodyError::Broken(format!("malformed multipart/form-data: {other}")),
    }
}

/// Reads the form from `body`; streams its file field to the bucket and key `target` and the
/// text fields name.
pub(crate) async fn upload(
    body: BodyStream,
    boundary: String,
    form: Form,
    mut target: Target,
    resolve: Resolve<'_>,
    max: u64,
    spool_dir: &Path,
) -> Result<Stored, ApiError> {
    let mut parts = multer::Multipart::new(body, boundary);
    let mut stored: Option<Stored> = None;
    let mut spool: Option<Spool> = None;
    let mut fields = 0;
    while let Some(field) = parts.next_field().await.map_err(body_error)? {
        fields += 1;
        if fields > MAX_FIELDS {
            return Err(ApiError::bad_request(format!(
                "a form has at most {MAX_FIELDS} fields"
            )));
        }
        let name = field.name().unwrap_or_default().to_owned();
        if name == form.file_field {
            if stored.is_some() || spool.is_some() {
                return Err(ApiError::bad_request("one file per upload"));
            }
            let file_name = field.file_name().map(str::to_owned);
            let chunks = Box::pin(field.map_err(body_error)) as BodyStream;
            match (target.bucket.as_deref(), target.key.as_deref()) {
                (Some(bucket), Some(key)) => {
                    stored = Some(put(resolve(bucket)?, key, chunks, max).await?);
                }
                _ => spool = Some(Spool::fill(spool_dir, chunks, max, file_name).await?),
            }
        } else if Some(name.as_str()) == form.bucket_field {
            target.bucket = Some(text(field).await?);
        } else if form.key_fields.contains(&name.as_str()) {
            target.key = Some(text(field).await?);
        } else {
            // Unknown fields (a form's submit button, say) are read and ignored.
            text(field).await?;
        }
    }
    if let Some(done) = stored {
        return Ok(done);
    }
    let spool = spool.ok_or_else(|| {
        ApiError::bad_request(format!("the form has no {:?} field", form.file_field))
    })?;
    let key = target.key.clone().or_else(|| spool.file_name.clone());
    let (Some(bucket), Some(key)) = (target.bucket.as_deref(), key) else {
        return Err(ApiError::bad_request(
            "the form names no bucket or no file name",
        ));
    };
    let chunks = spool.stream().await?;
    put(resolve(bucket)?, &key, chunks, max).await
}

async fn put(bucket: Bucket, key: &str, chunks: BodyStream, max: u64) -> Result<Stored, ApiError> {
    let key = ObjectKey::parse(key)?;
    bucket.put(&key, chunks, max).await?;
    Ok(Stored { bucket, key })
}

/// A text field's value, at most [`MAX_TEXT_FIELD`] bytes of UTF-8.
async fn text(mut field: multer::Field<'static>) -> Result<String, ApiError> {
    let mut value = Vec::new();
    while let Some(chunk) = field.chunk().await.map_err(body_error)? {
        if value.len() + chunk.len() > MAX_TEXT_FIELD {
            return Err(ApiError::bad_request(format!(
                "a text field is longer than {MAX_TEXT_FIELD} bytes"
            )));
        }
        value.extend_from_slice(&chunk);
    }
    String::from_utf8(value).map_err(|_| ApiError::bad_request("a text field is not UTF-8"))
}

/// A file field written to disk while its target is unknown; removed when dropped.
struct Spool {
    path: PathBuf,
    file_name: Option<String>,
}

impl Spool {
    async fn fill(
        dir: &Path,
        mut chunks: BodyStream,
        max: u64,
        file_name: Option<String>,
    ) -> Result<Self, ApiError> {
        let io = |e: std::io::Error| ApiError::from(crate::storage::StorageError::Io(e));
        tokio::fs::create_dir_all(dir).await.map_err(io)?;
        let path = dir.join(format!(".upload-{:016x}", random::u64()));
        let spool = Self { path, file_name };
        let mut file = tokio::fs::File::create(&spool.path).await.map_err(io)?;
        let mut taken = 0u64;
        while let Some(chunk) = chunks.next().await {
            let chunk = chunk?;
            taken = taken.saturating_add(chunk.len() as u64);
            if taken > max {
                return Err(BodyError::TooLarge { limit: max }.into());
            }
            file.write_all(&chunk).await.map_err(io)?;
        }
        file.flush().await.map_err(io)?;
        Ok(spool)
    }

    /// The spooled bytes as a body; the file is unlinked once open, so it goes when read.
    async fn stream(self) -> Result<BodyStream, ApiError> {
        let io = |e: std::io::Error| ApiError::from(crate::storage::StorageError::Io(e));
        let file = tokio::fs::File::open(&self.path).await.map_err(io)?;
        drop(self);
        let chunks = futures_util::stream::try_unfold(file, |mut file| async move {
            let mut buf = vec![0u8; 256 * 1024];
            let n = file
                .read(&mut buf)
                .await
                .map_err(|e| BodyError::Broken(e.to_string()))?;
            buf.truncate(n);
            Ok((n > 0).then(|| (Bytes::from(buf), file)))
        });
        Ok(Box::pin(chunks))
    }
}

impl Drop for Spool {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}
