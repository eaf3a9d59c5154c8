//! The notification bus on NATS (core publish/subscribe, at most once): subjects
//! `<cluster>.live.<source id>` (a segment joined a live window) and `<cluster>.changes`
//! (sources or recordings changed: edges' long-polls wake). A lost message costs nothing
//! lasting — a node that sees a gap in sequence numbers reads the missing rows from the
//! database — so nothing here waits for acknowledgements. The client reconnects by itself;
//! publishing has a deadline so a node never blocks on a dead server.
//!
//! Every message is sealed (`seal.rs`): headers name the sending node and the time it was
//! sent, and carry a MAC under the cluster key over those, the subject and the body. A
//! message taken from NATS is handed on only when its seal verifies, its time is within
//! [`super::seal::AGE_MAX_MS`] of this node's clock and it was not seen before; otherwise the
//! reason is handed on instead, for the caller to count (the bus itself knows no metrics).

use bytes::Bytes;
use futures_util::StreamExt;

use std::sync::Arc;

use super::seal::{ClusterKeys, Seal, Seen, check_time};
use super::{ClusterError, DEADLINE, Health};

#[derive(Clone)]
pub struct Bus {
    client: async_nats::Client,
    prefix: String,
    node: String,
    pub(crate) health: Arc<Health>,
    keys: Arc<ClusterKeys>,
    seen: Arc<Seen>,
}

impl std::fmt::Debug for Bus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bus").field("prefix", &self.prefix).finish()
    }
}

/// A message from another node.
#[derive(Debug)]
pub struct Message {
    /// The subject after `<cluster>.`.
    pub(crate) topic: String,
    pub(crate) payload: Bytes,
}

/// A message from the bus that was refused, and why (`stale`, `unsealed`, `seal`, `replay`).
pub type Refused = &'static str;

/// The header naming the node that published a message (its own are skipped).
const NODE_HEADER: &str = "reelay-node";
/// When it was sent (ms since 1970, decimal).
const TIME_HEADER: &str = "reelay-time";
/// Its MAC (hex), over [`sealed_parts`].
const SEAL_HEADER: &str = "reelay-seal";

/// What a bus message's seal covers.
fn sealed_parts<'a>(
    subject: &'a str,
    node: &'a str,
    time: &'a str,
    body: &'a [u8],
) -> [&'a [u8]; 5] {
    [
        b"reelay-bus-v1",
        subject.as_bytes(),
        node.as_bytes(),
        time.as_bytes(),
        body,
    ]
}

/// The seal (hex) of a message on `subject` from `node` sent at `time` (ms, decimal) —
/// what a node puts in its `reelay-seal` header (public for tests that speak NATS raw).
pub fn seal_hex(keys: &ClusterKeys, subject: &str, node: &str, time: &str, body: &[u8]) -> String {
    crate::hex::encode(&keys.seal(&sealed_parts(subject, node, time, body)))
}

fn header<'a>(m: &'a async_nats::Message, name: &str) -> Option<&'a str> {
    m.headers.as_ref()?.get(name).map(|v| v.as_str())
}

/// A message from NATS as this node takes it: sealed by a node of the cluster, recent, new.
fn unseal(
    m: &async_nats::Message,
    keys: &ClusterKeys,
    seen: &Seen,
    now_ms: i64,
) -> Result<(), Refused> {
    let (Some(node), Some(time), Some(seal)) = (
        header(m, NODE_HEADER),
        header(m, TIME_HEADER),
        header(m, SEAL_HEADER),
    ) else {
        return Err("unsealed");
    };
    let sent: i64 = time.parse().map_err(|_| "unsealed")?;
    check_time(sent, now_ms)?;
    let seal: Seal = crate::hex::decode(seal)
        .and_then(|s| s.try_into().ok())
        .ok_or("unsealed")?;
    if !keys.verify(
        &sealed_parts(m.subject.as_str(), node, time, &m.payload),
        &seal,
    ) {
        return Err("seal");
    }
    if !seen.first_time(seal, now_ms) {
        return Err("replay");
    }
    Ok(())
}

impl Bus {
    /// A client for `url` that connects (and reconnects) in the background, sealing with and
    /// verifying against `keys`.
    pub async fn connect(
        url: &str,
        cluster: &str,
        node: &str,
        keys: Arc<ClusterKeys>,
    ) -> anyhow::Result<Self> {
        let health = std::sync::Arc::new(Health::new("nats", Some("connecting".into())));
        let events = health.clone();
        let client = async_nats::ConnectOptions::new()
            .retry_on_initial_connect()
            .connection_timeout(DEADLINE)
            .request_timeout(Some(DEADLINE))
            .max_reconnects(None)
            // Back within a second of the server's return, without spinning while it is away.
            .reconnect_delay_callback(|attempts| {
                std::time::Duration::from_millis((100 * attempts as u64).min(1_000))
            })
            .event_callback(move |event| {
                let events = events.clone();
                async move {
                    match event {
                        async_nats::Event::Connected => events.set(None),
                        async_nats::Event::Disconnected => events.set(Some("disconnected".into())),
                        async_nats::Event::Closed => events.set(Some("closed".into())),
                        _ => {}
                    }
                }
            })
            .connect(url)
            .await
            .map_err(|e| anyhow::anyhow!("[cluster] nats {url}: {e}"))?;
        Ok(Self {
            client,
            prefix: format!("{cluster}."),
            node: node.to_owned(),
            health,
            keys,
            seen: Arc::default(),
        })
    }

    /// Publishes `payload` on `<cluster>.<topic>`.
    pub(crate) async fn publish(&self, topic: &str, payload: Bytes) -> Result<(), ClusterError> {
        let subject = format!("{}{topic}", self.prefix);
        let time = crate::db::now_ms().to_string();
        let seal = seal_hex(&self.keys, &subject, &self.node, &time, &payload);
        let mut headers = async_nats::HeaderMap::new();
        headers.insert(NODE_HEADER, self.node.as_str());
        headers.insert(TIME_HEADER, time.as_str());
        headers.insert(SEAL_HEADER, seal.as_str());
        let send = self.client.publish_with_headers(subject, headers, payload);
        match tokio::time::timeout(DEADLINE, send).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(ClusterError::Nats(e.to_string())),
            Err(_) => Err(ClusterError::Timeout("nats")),
        }
    }

    /// Every message other nodes publish under `<cluster>.<pattern>` — or, for one that
    /// fails its seal, time or freshness, why it is refused — forever (the subscription is
    /// renewed by the client after a reconnect).
    pub(crate) async fn follow(
        &self,
        pattern: &str,
    ) -> Result<impl futures_util::Stream<Item = Result<Message, Refused>> + use<>, ClusterError>
    {
        let subject = format!("{}{pattern}", self.prefix);
        let subscriber = self
            .client
            .subscribe(subject)
            .await
            .map_err(|e| ClusterError::Nats(e.to_string()))?;
        let (prefix, node) = (self.prefix.clone(), self.node.clone());
        let (keys, seen) = (self.keys.clone(), self.seen.clone());
        Ok(subscriber.filter_map(move |m| {
            let mine = header(&m, NODE_HEADER) == Some(node.as_str());
            let taken = if mine {
                None
            } else {
                let topic = m.subject.as_str().strip_prefix(&prefix).map(str::to_owned);
                Some(
                    unseal(&m, &keys, &seen, crate::db::now_ms()).and_then(|()| {
                        let topic = topic.ok_or("topic")?;
                        Ok(Message {
                            topic,
                            payload: m.payload,
                        })
                    }),
                )
            };
            std::future::ready(taken)
        }))
    }
}
