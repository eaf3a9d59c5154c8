//! Request limits enforced per request, in the router.
//!
//! hyper's `max_buf_size` bounds the read buffer, but one socket read can bring in a head
//! somewhat larger than the buffer's nominal maximum and still parse. It stays as the memory
//! backstop (and answers 431 for heads far over it); [`check_head`] makes the
//! configured `max_header_bytes` exact.

use http::Request;

use crate::http::common::error::ApiError;

/// Size of a request head as sent: target plus `name: value\r\n` per header.
pub(crate) fn request_head_bytes<B>(req: &Request<B>) -> usize {
    let target = req.uri().path_and_query().map_or(1, |pq| pq.as_str().len());
    req.headers()
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len() + 4)
        .fold(target, usize::saturating_add)
}

/// A 431 when the request head is larger than the configured limit (the authorization
/// middleware asks first thing, so the check costs no layer of its own).
pub(crate) fn check_head<B>(req: &Request<B>, max: usize) -> Result<(), ApiError> {
    if request_head_bytes(req) > max {
        return Err(ApiError::head_too_large(max));
    }
    Ok(())
}
