//! Object metadata cached for a short TTL, revalidated single-flight: when an entry is missing or
//! stale, one request fetches (or conditionally revalidates) it while concurrent requests for the
//! same key wait for that answer instead of each asking the backend.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::error::StorageError;

/// Entries kept before the cache is cleared.
const MAX_ENTRIES: usize = 10_000;

#[derive(Debug)]
pub(crate) struct MetaCache<V> {
    ttl: Duration,
    entries: Mutex<HashMap<String, (V, Instant)>>,
    locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

impl<V: Clone> MetaCache<V> {
    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            entries: Mutex::new(HashMap::new()),
            locks: Mutex::new(HashMap::new()),
        }
    }

    fn entry(&self, key: &str) -> Option<(V, Instant)> {
        self.entries
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(key)
            .cloned()
    }

    fn fresh(&self, key: &str) -> Option<V> {
        self.entry(key)
            .filter(|(_, at)| at.elapsed() < self.ttl)
            .map(|(v, _)| v)
    }

    /// The cached value while fresh; otherwise `fetch(stale)` — once for all concurrent callers.
    pub async fn get<F, Fut>(&self, key: &str, fetch: F) -> Result<V, StorageError>
    where
        F: FnOnce(Option<V>) -> Fut,
        Fut: Future<Output = Result<V, StorageError>>,
    {
        if let Some(hit) = self.fresh(key) {
            return Ok(hit);
        }
        let lock = {
            let mut locks = self.locks.lock().unwrap_or_else(|p| p.into_inner());
            if locks.len() > MAX_ENTRIES {
                locks.retain(|_, l| Arc::strong_count(l) > 1);
            }
            locks.entry(key.to_owned()).or_default().clone()
        };
        let _turn = lock.lock().await;
        if let Some(hit) = self.fresh(key) {
            return Ok(hit);
        }
        let result = fetch(self.entry(key).map(|(v, _)| v)).await;
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        match &result {
            Ok(v) => {
                if entries.len() >= MAX_ENTRIES {
                    entries.clear();
                }
                entries.insert(key.to_owned(), (v.clone(), Instant::now()));
            }
            Err(_) => {
                entries.remove(key);
            }
        }
        result
    }

    /// Drops `key` (its object changed).
    pub(crate) fn forget(&self, key: &str) {
        self.entries
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[tokio::test]
    async fn concurrent_misses_fetch_once() {
        let cache = Arc::new(MetaCache::<u32>::new(Duration::from_secs(60)));
        let calls = Arc::new(AtomicUsize::new(0));
        let tasks: Vec<_> = (0..20)
            .map(|_| {
                let (cache, calls) = (cache.clone(), calls.clone());
                tokio::spawn(async move {
                    cache
                        .get("k", |_| async {
                            calls.fetch_add(1, Ordering::SeqCst);
                            tokio::time::sleep(Duration::from_millis(20)).await;
                            Ok(7)
                        })
                        .await
                })
            })
            .collect();
        for t in tasks {
            assert_eq!(t.await.expect("join").expect("value"), 7);
        }
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn stale_entries_are_passed_for_revalidation_and_errors_are_not_cached() {
        let cache = MetaCache::<u32>::new(Duration::ZERO);
        assert_eq!(
            cache
                .get("k", |stale| async move { Ok(stale.unwrap_or(1)) })
                .await
                .ok(),
            Some(1)
        );
        assert_eq!(
            cache
                .get("k", |stale| async move { Ok(stale.unwrap_or(0) + 1) })
                .await
                .ok(),
            Some(2)
        );
        assert!(
            cache
                .get("k", |_| async { Err(StorageError::NotFound) })
                .await
                .is_err()
        );
        assert_eq!(
            cache
                .get("k", |stale| async move { Ok(stale.unwrap_or(10)) })
                .await
                .ok(),
            Some(10)
        );
    }
}
