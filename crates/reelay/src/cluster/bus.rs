//! The notification bus on NATS (core publish/subscribe, at most once): subjects
//! `<cluster>.live.<source id>` (a segment joined a live window) and `<cluster>.changes`
//! (sources or recordings changed: edges' long-polls wake). A lost message costs nothing
//! lasting — a node that sees a gap in sequence numbers reads the missing rows from the
//! database — so nothing here waits for acknowledgements. The client reconnects by itself;
//! publishing has a deadline so a node never blocks on a dead server.

use bytes::Bytes;
use futures_util::StreamExt;

use super::{ClusterError, DEADLINE, Health};

#[derive(Clone)]
pub struct Bus {
    client: async_nats::Client,
    prefix: String,
    node: String,
    pub health: std::sync::Arc<Health>,
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
    pub topic: String,
    pub payload: Bytes,
}

/// The header naming the node that published a message (its own are skipped).
const NODE_HEADER: &str = "reelay-node";

impl Bus {
    /// A client for `url` that connects (and reconnects) in the background.
    pub async fn connect(url: &str, cluster: &str, node: &str) -> anyhow::Result<Self> {
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
        })
    }

    /// Publishes `payload` on `<cluster>.<topic>`.
    pub async fn publish(&self, topic: &str, payload: Bytes) -> Result<(), ClusterError> {
        let mut headers = async_nats::HeaderMap::new();
        headers.insert(NODE_HEADER, self.node.as_str());
        let subject = format!("{}{topic}", self.prefix);
        let send = self.client.publish_with_headers(subject, headers, payload);
        match tokio::time::timeout(DEADLINE, send).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(ClusterError::Nats(e.to_string())),
            Err(_) => Err(ClusterError::Timeout("nats")),
        }
    }

    /// Every message other nodes publish under `<cluster>.<pattern>`, forever (the
    /// subscription is renewed by the client after a reconnect).
    pub async fn follow(
        &self,
        pattern: &str,
    ) -> Result<impl futures_util::Stream<Item = Message> + use<>, ClusterError> {
        let subject = format!("{}{pattern}", self.prefix);
        let subscriber = self
            .client
            .subscribe(subject)
            .await
            .map_err(|e| ClusterError::Nats(e.to_string()))?;
        let (prefix, node) = (self.prefix.clone(), self.node.clone());
        Ok(subscriber.filter_map(move |m| {
            let from = m
                .headers
                .as_ref()
                .and_then(|h| h.get(NODE_HEADER))
                .map(|v| v.as_str().to_owned());
            let topic = m.subject.as_str().strip_prefix(&prefix).map(str::to_owned);
            let mine = from.as_deref() == Some(node.as_str());
            std::future::ready(match topic {
                Some(topic) if !mine => Some(Message {
                    topic,
                    payload: m.payload,
                }),
                _ => None,
            })
        }))
    }
}
