//! Late-resolved media: a configured command turns an id into a short-lived media URL (an
//! extractor such as `yt-dlp -g`).
//!
//! The command is an argument vector run directly — never through a shell — with `{id}`
//! replaced by an id of `[A-Za-z0-9_-]{1,128}` (so it cannot become an option, a path or a
//! second argument), no stdin, a timeout after which it is killed, and a cap on what it may
//! print. Its answer must be an http(s) URL on the bucket's allow list and not an internal
//! address; it is cached for `ttl` and forgotten when the upstream answers 403 or 410.
//! Resolving is single-flight per id: concurrent cold requests for one id run the command once
//! and share its answer (or its failure, which is not cached). With a shared tier (`[cache]
//! shared`) answers are kept there too, sealed under the cluster key, so one node's answer serves
//! every node; an answer read from the tier is believed only when its seal holds, and is then
//! checked again as if the command had printed it (a tier is not trusted to bypass the allow
//! list), and a refused URL is forgotten there as well. A tier that fails only
//! costs running the command here (the chunk cache logs the outage once; `/readyz` names it).
//!
//! Caps, since ids come from unauthenticated requests on a public bucket: at most
//! `[origin] resolver_concurrency` commands run at once on a node, for every bucket together
//! ([`ResolverSlots`]); a request waits [`QUEUE_WAIT`] at most for a slot, then is refused
//! with 503 and `Retry-After` (counted). A failure — no answer, a refused answer, a timeout —
//! is remembered for [`FAILURE_TTL`], so an id that fails is not run again at once.

use std::process::Stdio;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use sha2::{Digest, Sha256};

use tokio::io::AsyncReadExt;
use url::Url;

use super::guard::{Allowed, ip_literal, is_internal};
use crate::cache::shared::Tier;
use crate::storage::error::StorageError;

/// Most bytes read from the command's output.
const MAX_OUTPUT: u64 = 16 << 10;

/// Longest wait for a slot to run the command in.
pub(crate) const QUEUE_WAIT: Duration = Duration::from_secs(5);

/// How long a failed id's failure is answered without running the command again.
pub(crate) const FAILURE_TTL: Duration = Duration::from_secs(10);

/// The node's slots for resolver commands, shared by all its buckets, and what they count.
#[derive(Debug)]
pub struct ResolverSlots {
    slots: tokio::sync::Semaphore,
    /// Commands running now.
    pub running: prometheus_client::metrics::gauge::Gauge,
    /// Requests refused (503) because no slot came free within [`QUEUE_WAIT`].
    pub refused: prometheus_client::metrics::counter::Counter,
}

impl ResolverSlots {
    pub fn new(concurrency: usize) -> Self {
        Self {
            slots: tokio::sync::Semaphore::new(concurrency),
            running: Default::default(),
            refused: Default::default(),
        }
    }
}

impl Default for ResolverSlots {
    fn default() -> Self {
        Self::new(crate::defaults::origin::RESOLVER_CONCURRENCY)
    }
}

#[derive(Debug)]
pub(crate) struct Resolver {
    pub(crate) argv: Vec<String>,
    pub(crate) timeout: Duration,
    pub(crate) ttl: Duration,
    pub(crate) allowed: Allowed,
    pub allow_internal: bool,
    cache: moka::future::Cache<String, Url>,
    /// Ids whose resolving failed lately, and how.
    failures: moka::sync::Cache<String, Arc<StorageError>>,
    slots: Arc<ResolverSlots>,
    /// The tier answers are shared through, when there is one.
    shared: OnceLock<Arc<Tier>>,
    /// What tier keys are scoped by: the bucket and the command.
    scope: [u8; 32],
}

/// Whether `id` may be passed to the command.
pub(crate) fn valid_id(id: &str) -> bool {
    (1..=128).contains(&id.len())
        && !id.starts_with('-')
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

impl Resolver {
    pub fn new(
        bucket: &str,
        argv: Vec<String>,
        timeout: Duration,
        ttl: Duration,
        allowed: Allowed,
        allow_internal: bool,
        slots: Arc<ResolverSlots>,
    ) -> Self {
        let mut scope = Sha256::new();
        for part in std::iter::once(bucket).chain(argv.iter().map(String::as_str)) {
            scope.update((part.len() as u64).to_be_bytes());
            scope.update(part.as_bytes());
        }
        Self {
            scope: scope.finalize().into(),
            shared: OnceLock::new(),
            argv,
            timeout,
            ttl,
            allowed,
            allow_internal,
            cache: moka::future::Cache::builder()
                .max_capacity(10_000)
                .time_to_live(ttl)
                .build(),
            failures: moka::sync::Cache::builder()
                .max_capacity(10_000)
                .time_to_live(FAILURE_TTL)
                .build(),
            slots,
        }
    }

    /// Shares answers through `engine` from now on.
    pub(crate) fn share(&self, tier: Arc<Tier>) {
        let _ = self.shared.set(tier);
    }

    fn tier_key(&self, id: &str) -> String {
        format!("resolve:{}:{id}", crate::hex::encode(&self.scope[..16]))
    }

    pub(crate) async fn forget(&self, id: &str) {
        self.cache.invalidate(id).await;
        if let Some(engine) = self.shared.get()
            && let Err(e) = engine.delete(&self.tier_key(id)).await
        {
            tracing::debug!(error = e, "the shared tier could not forget a resolved URL");
        }
    }

    /// The answer another node put in the tier, checked again; `None` to run the command.
    async fn shared_answer(&self, id: &str) -> Option<Url> {
        let engine = self.shared.get()?;
        match engine.get_sealed(&self.tier_key(id)).await {
            Ok(Some(value)) => std::str::from_utf8(&value)
                .ok()
                .and_then(|s| self.check(s).ok()),
            Ok(None) => None,
            Err(e) => {
                tracing::debug!(error = e, "shared tier unavailable: resolving locally");
                None
            }
        }
    }

    async fn share_answer(&self, id: &str, url: &Url) {
        if let Some(engine) = self.shared.get() {
            let value = url.as_str().as_bytes();
            if let Err(e) = engine.put_sealed(&self.tier_key(id), value, self.ttl).await {
                tracing::debug!(error = e, "the shared tier could not keep a resolved URL");
            }
        }
    }

    /// The media URL for `id`.
    pub(crate) async fn resolve(&self, id: &str) -> Result<Url, StorageError> {
        if !valid_id(id) {
            return Err(StorageError::InvalidKey(
                "an id is 1-128 characters of A-Z a-z 0-9 _ - and does not start with -".into(),
            ));
        }
        if let Some(failure) = self.failures.get(id) {
            return Err(failure.duplicate());
        }
        let resolve = async {
            if let Some(url) = self.shared_answer(id).await {
                return Ok(url);
            }
            let output = self.run_in_slot(id).await?;
            let url = self.check(&output)?;
            self.share_answer(id, &url).await;
            Ok::<_, StorageError>(url)
        };
        let resolved = self
            .cache
            .try_get_with_by_ref(id, resolve)
            .await
            .map_err(|e| e.duplicate());
        if let Err(e) = &resolved
            && !matches!(e, StorageError::Busy(_))
        {
            self.failures.insert(id.to_owned(), Arc::new(e.duplicate()));
        }
        resolved
    }

    /// Runs the command in one of the node's slots, waiting [`QUEUE_WAIT`] at most for one.
    async fn run_in_slot(&self, id: &str) -> Result<String, StorageError> {
        let slots = &self.slots;
        let Ok(Ok(_permit)) = tokio::time::timeout(QUEUE_WAIT, slots.slots.acquire()).await else {
            slots.refused.inc();
            return Err(StorageError::Busy(
                "every resolver slot is busy; retry shortly".into(),
            ));
        };
        slots.running.inc();
        let ran = self.run(id).await;
        slots.running.dec();
        ran
    }

    async fn run(&self, id: &str) -> Result<String, StorageError> {
        let Some((program, args)) = self.argv.split_first() else {
            return Err(StorageError::Backend("the resolver has no command".into()));
        };
        let mut child = tokio::process::Command::new(program)
            .args(args.iter().map(|a| a.replace("{id}", id)))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| {
                StorageError::Backend(format!("cannot run the resolver {program}: {e}"))
            })?;
        let mut stdout = child
            .stdout
            .take()
            .ok_or_else(|| StorageError::Backend("the resolver has no output".into()))?;
        let work = async {
            let mut out = String::new();
            (&mut stdout)
                .take(MAX_OUTPUT)
                .read_to_string(&mut out)
                .await?;
            let status = child.wait().await?;
            Ok::<_, std::io::Error>((status, out))
        };
        match tokio::time::timeout(self.timeout, work).await {
            Err(_) => Err(StorageError::BackendTimeout(format!(
                "the resolver did not answer within {:?}",
                self.timeout
            ))),
            Ok(Err(e)) => Err(StorageError::Backend(format!("the resolver failed: {e}"))),
            Ok(Ok((status, _))) if !status.success() => Err(StorageError::NotFound),
            Ok(Ok((_, out))) => Ok(out),
        }
    }

    /// Checks the command's answer: first non-empty line, an allowed http(s) URL.
    fn check(&self, output: &str) -> Result<Url, StorageError> {
        let refused = |why: &'static str| {
            StorageError::denied(format!("the resolver's answer was refused: {why}"), why)
        };
        let line = output
            .lines()
            .map(str::trim)
            .find(|l| !l.is_empty())
            .ok_or_else(|| refused("empty"))?;
        let url: Url = line.parse().map_err(|_| refused("not a URL"))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(refused("not http or https"));
        }
        if !self.allowed.permits(&url) {
            return Err(refused("its origin is not on the allow list"));
        }
        if ip_literal(&url).is_some_and(is_internal) && !self.allow_internal {
            return Err(refused("it points at an internal address"));
        }
        Ok(url)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_cannot_smuggle_options_paths_or_arguments() {
        for ok in ["dQw4w9WgXcQ", "abc_DEF-123", "a"] {
            assert!(valid_id(ok), "{ok}");
        }
        for bad in [
            "",
            "-o",
            "--exec=x",
            "a b",
            "../x",
            "a/b",
            "a.b",
            "$(id)",
            "a;b",
            &"x".repeat(129),
        ] {
            assert!(!valid_id(bad), "{bad}");
        }
    }
}
