//! The edge's connection to the control nodes: every request is opened by the edge, carries the
//! edge's token and has a deadline. Errors say whether the control answered (and refused) or
//! could not be reached, because the forwarders react differently.
//!
//! An edge may be given several control URLs (the nodes of a cluster, or a load balancer
//! and a spare): every request goes to the current one, and a request that finds it
//! unreachable (or answering 502-504, a balancer with nothing behind it) moves every clone of
//! the link to the next URL, so the retry that follows — the long-poll's or the forwarder's —
//! goes there. Any control node of a cluster accepts any edge request.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http::StatusCode;

use super::protocol::{DesiredState, PartMeta, RENDITION_HEADER, Registered, SegmentMeta};
use crate::live::{SegmentRow, file_name};

#[derive(Debug, thiserror::Error)]
pub(crate) enum LinkError {
    /// No answer (connection refused, reset, timed out): retry later.
    #[error("control node unreachable: {0}")]
    Unreachable(String),
    /// The control answered with an error status.
    #[error("control node refused ({status}): {body}")]
    Refused { status: StatusCode, body: String },
    #[error("reading a buffered segment: {0}")]
    Local(#[from] std::io::Error),
}

#[derive(Debug, Clone)]
pub(crate) struct Link {
    client: reqwest::Client,
    bases: Arc<[url::Url]>,
    /// Index into `bases` of the control requests go to (shared by clones).
    current: Arc<AtomicUsize>,
    token: String,
    /// Longest a long-poll may be held by the control (its interval), plus slack.
    poll_timeout: Duration,
}

const UPLOAD_TIMEOUT: Duration = Duration::from_secs(60);
/// A part later than this is of no use to a live viewer: its segment follows whole.
const PART_TIMEOUT: Duration = Duration::from_secs(5);

impl Link {
    /// A link to the controls at `bases` (http or https), the first one first.
    pub fn new(bases: &[String], token: &str) -> anyhow::Result<Self> {
        anyhow::ensure!(!bases.is_empty(), "--control is required");
        anyhow::ensure!(
            token.starts_with("rle_"),
            "--token must be an edge token (rle_…), made with POST /api/v1/edges on the control node"
        );
        let bases = bases
            .iter()
            .map(|b| control_url(b))
            .collect::<anyhow::Result<Vec<_>>>()?;
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .redirect(reqwest::redirect::Policy::none())
            .tcp_nodelay(true)
            .build()?;
        Ok(Self {
            client,
            bases: bases.into(),
            current: Arc::new(AtomicUsize::new(0)),
            token: token.to_owned(),
            poll_timeout: Duration::from_secs(30),
        })
    }

    /// The control requests go to now.
    pub(crate) fn control(&self) -> &url::Url {
        let i = self.current.load(Ordering::Relaxed) % self.bases.len();
        &self.bases[i]
    }

    fn url(&self, path: &str) -> Result<url::Url, LinkError> {
        self.control()
            .join(path)
            .map_err(|e| LinkError::Unreachable(e.to_string()))
    }

    /// Moves to the next control, unless another request already did since `from` failed.
    fn fail_over(&self, from: usize) {
        if self.bases.len() < 2 {
            return;
        }
        let next = (from + 1) % self.bases.len();
        if self
            .current
            .compare_exchange(from, next, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
        {
            tracing::warn!(control = %self.bases[next], "moving to the next control node");
        }
    }

    async fn send(&self, req: reqwest::RequestBuilder) -> Result<reqwest::Response, LinkError> {
        let at = self.current.load(Ordering::Relaxed) % self.bases.len();
        let resp = match req.bearer_auth(&self.token).send().await {
            Ok(resp) => resp,
            Err(e) => {
                self.fail_over(at);
                return Err(LinkError::Unreachable(e.to_string()));
            }
        };
        if resp.status().is_success() {
            return Ok(resp);
        }
        let status = resp.status();
        if matches!(status.as_u16(), 502..=504) {
            self.fail_over(at);
        }
        let body = resp.text().await.unwrap_or_default();
        Err(LinkError::Refused {
            status,
            body: body.chars().take(300).collect(),
        })
    }

    pub(crate) async fn register(&mut self) -> Result<Registered, LinkError> {
        let url = self.url("api/v1/edge/register")?;
        let resp = self
            .send(self.client.post(url).timeout(Duration::from_secs(15)))
            .await?;
        let registered: Registered = json(resp).await?;
        self.poll_timeout =
            Duration::from_millis(registered.interval_ms).saturating_add(Duration::from_secs(15));
        Ok(registered)
    }

    /// Long-polls the desired state.
    pub(crate) async fn poll(&self, version: Option<&str>) -> Result<DesiredState, LinkError> {
        let mut url = self.url("api/v1/edge/state")?;
        if let Some(v) = version {
            url.query_pairs_mut().append_pair("version", v);
        }
        let resp = self
            .send(self.client.get(url).timeout(self.poll_timeout))
            .await?;
        json(resp).await
    }

    /// Uploads an fMP4 init section of `rendition`.
    pub(crate) async fn put_init(
        &self,
        source_id: &str,
        rendition: &str,
        file: &str,
        body: Bytes,
    ) -> Result<(), LinkError> {
        let url = self.url(&format!("api/v1/edge/sources/{source_id}/init/{file}"))?;
        let req = self
            .client
            .put(url)
            .timeout(UPLOAD_TIMEOUT)
            .header(RENDITION_HEADER, rendition)
            .body(body);
        self.send(req).await.map(|_| ())
    }

    /// Uploads the multivariant playlist the encoder pushed.
    pub(crate) async fn put_multivariant(
        &self,
        source_id: &str,
        text: String,
    ) -> Result<(), LinkError> {
        let url = self.url(&format!("api/v1/edge/sources/{source_id}/multivariant"))?;
        self.send(self.client.put(url).timeout(UPLOAD_TIMEOUT).body(text))
            .await
            .map(|_| ())
    }

    /// Uploads a segment (idempotent: the control keeps one copy per `(source, rendition, msn)`).
    pub(crate) async fn put_segment(
        &self,
        segment: &SegmentRow,
        live: bool,
        body: Bytes,
    ) -> Result<(), LinkError> {
        let url = self.url(&format!(
            "api/v1/edge/sources/{}/segments/{}",
            segment.source_id,
            file_name(&segment.file)
        ))?;
        let meta = SegmentMeta {
            duration_ms: u64::try_from(segment.duration_ms).unwrap_or(1).max(1),
            pdt_ms: segment.pdt_ms.max(0),
            discontinuity: segment.discontinuity != 0,
            map_file: segment.map_file.as_deref().map(|m| file_name(m).to_owned()),
            live,
            rendition: segment.rendition.clone(),
        };
        let mut req = self.client.put(url).timeout(UPLOAD_TIMEOUT).body(body);
        for (name, value) in meta.to_headers() {
            req = req.header(name, value);
        }
        self.send(req).await.map(|_| ())
    }
}

impl Link {
    /// Uploads part `index` of segment `msn` (in order: the control refuses one out of step).
    pub(crate) async fn put_part(
        &self,
        source_id: &str,
        (msn, index): (u64, u64),
        meta: &PartMeta,
        body: Bytes,
    ) -> Result<(), LinkError> {
        let url = self.url(&format!(
            "api/v1/edge/sources/{source_id}/parts/p{msn}-{index}.m4s"
        ))?;
        let mut req = self.client.put(url).timeout(PART_TIMEOUT).body(body);
        for (name, value) in meta.to_headers() {
            req = req.header(name, value);
        }
        self.send(req).await.map(|_| ())
    }

    /// Tells the control that segment `msn` of `rendition` will not come (its parts go).
    pub(crate) async fn delete_part(
        &self,
        source_id: &str,
        rendition: &str,
        msn: u64,
    ) -> Result<(), LinkError> {
        let url = self.url(&format!("api/v1/edge/sources/{source_id}/parts/{msn}"))?;
        let req = self
            .client
            .delete(url)
            .timeout(PART_TIMEOUT)
            .header(RENDITION_HEADER, rendition);
        self.send(req).await.map(|_| ())
    }
}

/// A control URL given on the command line, as a base to join API paths to.
fn control_url(text: &str) -> anyhow::Result<url::Url> {
    let mut base = url::Url::parse(text)?;
    anyhow::ensure!(
        matches!(base.scheme(), "http" | "https"),
        "--control must be an http:// or https:// URL"
    );
    if !base.path().ends_with('/') {
        let path = format!("{}/", base.path());
        base.set_path(&path);
    }
    Ok(base)
}

/// Reads a JSON answer (bounded: answers come from the control, but a proxy may be between).
async fn json<T: serde::de::DeserializeOwned>(resp: reqwest::Response) -> Result<T, LinkError> {
    let body = resp
        .bytes()
        .await
        .map_err(|e| LinkError::Unreachable(e.to_string()))?;
    serde_json::from_slice(&body).map_err(|e| LinkError::Refused {
        status: StatusCode::BAD_GATEWAY,
        body: format!("not the expected JSON: {e}"),
    })
}

/// Backoff before reconnect attempt `attempt` (0-based): doubling from 200 ms to 10 s, with
/// ±50 % jitter so a fleet of edges does not reconnect in step.
pub(crate) fn backoff(attempt: u32, random: u64) -> Duration {
    let base = 200u64.saturating_mul(1 << attempt.min(6)).min(10_000);
    let jitter = random % (base + 1);
    Duration::from_millis(base / 2 + jitter)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_to_a_cap_with_jitter() {
        assert!(backoff(0, 0) >= Duration::from_millis(100));
        assert!(backoff(0, u64::MAX) <= Duration::from_millis(300));
        assert!(backoff(30, u64::MAX) <= Duration::from_millis(15_000));
        assert!(backoff(30, 0) >= Duration::from_millis(5_000));
        assert_ne!(backoff(3, 1), backoff(3, 999));
    }

    fn urls(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn a_link_needs_an_http_url_and_an_edge_token() {
        assert!(Link::new(&urls(&["ftp://x"]), "rle_a").is_err());
        assert!(Link::new(&urls(&["http://x"]), "rly_a").is_err());
        assert!(Link::new(&urls(&[]), "rle_a").is_err());
        assert!(Link::new(&urls(&["http://x", "ftp://y"]), "rle_a").is_err());
        assert!(Link::new(&urls(&["http://127.0.0.1:1/base"]), "rle_a").is_ok());
    }

    #[tokio::test]
    async fn an_unreachable_control_moves_every_clone_to_the_next_and_round_again() {
        // Port 1 on loopback refuses at once.
        let list = urls(&["http://127.0.0.1:1/a", "http://127.0.0.1:1/b"]);
        let link = Link::new(&list, "rle_a").expect("link");
        let clone = link.clone();
        assert_eq!(link.control().path(), "/a/");
        assert!(matches!(
            link.poll(None).await,
            Err(LinkError::Unreachable(_))
        ));
        assert_eq!(clone.control().path(), "/b/", "the clone moved too");
        assert!(clone.poll(None).await.is_err());
        assert_eq!(link.control().path(), "/a/", "and round to the first");
    }
}
