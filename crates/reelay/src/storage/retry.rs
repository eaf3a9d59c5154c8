//! Sending a request to a remote backend: a timeout for the response headers, and retries with
//! backoff for failures where trying again is safe (transport errors, 5xx, 429) — all before
//! any byte of a response has been used. Error messages name the host, never the URL (which
//! may carry a signature).

use std::time::Duration;

use reqwest::{Response, StatusCode};

use super::error::StorageError;

/// Attempts for one request.
pub(crate) const ATTEMPTS: u32 = 3;

/// Maps a transport failure to who failed, without the URL.
pub(crate) fn transport_error(what: &str, host: &str, e: &reqwest::Error) -> StorageError {
    if e.is_timeout() {
        StorageError::BackendTimeout(format!("{what}: {host} timed out"))
    } else if e.is_connect() {
        StorageError::BackendUnavailable(format!("{what}: cannot connect to {host}"))
    } else if e.is_redirect() {
        StorageError::denied("too many redirects", format!("{what}: {host}"))
    } else {
        StorageError::Backend(format!("{what}: transport error talking to {host}"))
    }
}

/// Sends the request `build` makes (again for each attempt).
pub(crate) async fn send(
    what: &str,
    host: &str,
    timeout: Duration,
    build: impl Fn() -> reqwest::RequestBuilder,
) -> Result<Response, StorageError> {
    let mut delay = Duration::from_millis(100);
    let mut attempt = 1;
    loop {
        let error = match tokio::time::timeout(timeout, build().send()).await {
            Err(_) => StorageError::BackendTimeout(format!(
                "{what}: no response from {host} within {timeout:?}"
            )),
            Ok(Err(e)) => transport_error(what, host, &e),
            Ok(Ok(resp))
                if resp.status().is_server_error()
                    || resp.status() == StatusCode::TOO_MANY_REQUESTS =>
            {
                StorageError::Backend(format!(
                    "{what}: {host} answered {}",
                    resp.status().as_u16()
                ))
            }
            Ok(Ok(resp)) => return Ok(resp),
        };
        if !error.is_retryable() || attempt >= ATTEMPTS {
            return Err(error);
        }
        tracing::debug!(%error, attempt, "retrying a backend request");
        tokio::time::sleep(delay).await;
        delay *= 4;
        attempt += 1;
    }
}
