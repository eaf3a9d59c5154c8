//! Randomness, in one place: secrets and ids from the operating system's CSPRNG, and cheap
//! unpredictable-looking numbers for request ids, multipart boundaries, temporary file names and
//! jitter (never for secrets).

use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};

/// `N` bytes from the operating system's CSPRNG.
pub(crate) fn bytes<const N: usize>() -> std::io::Result<[u8; N]> {
    let mut buf = [0u8; N];
    getrandom::fill(&mut buf).map_err(|e| std::io::Error::other(e.to_string()))?;
    Ok(buf)
}

/// An id: `prefix` and 12 hex digits from the CSPRNG (`src_…`, `rec_…`, `edg_…`).
pub fn id(prefix: &str) -> std::io::Result<String> {
    Ok(format!("{prefix}{}", crate::hex::encode(&bytes::<6>()?)))
}

/// A random-looking 64-bit value: SipHash with per-process random keys over a counter.
pub(crate) fn u64() -> u64 {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    static STATE: std::sync::OnceLock<std::hash::RandomState> = std::sync::OnceLock::new();
    let mut hasher = STATE
        .get_or_init(std::hash::RandomState::new)
        .build_hasher();
    hasher.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    hasher.finish()
}
