//! `[cluster]`: the cluster's name, its engines, its key (required with any engine or a shared
//! chunk tier: what the bus and the tier carry is believed only under it) and the node's id.

use std::net::SocketAddr;

use anyhow::bail;

use super::sections::secret_hex;
use super::{env_override, file};

/// `[cluster]` with its environment overrides; `tier`: `[cache] shared` is set (its entries
/// are sealed with the cluster key too).
pub(super) fn cluster_settings(
    section: file::ClusterSection,
    listen: SocketAddr,
    tier: bool,
) -> anyhow::Result<crate::cluster::ClusterSettings> {
    let name = section.name.unwrap_or_else(|| "reelay".to_owned());
    anyhow::ensure!(
        (1..=64).contains(&name.len())
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
        "cluster.name must be 1-64 of A-Z a-z 0-9 - _"
    );
    let redis = env_override("REELAY_CLUSTER_REDIS").or(section.redis);
    let nats = env_override("REELAY_CLUSTER_NATS").or(section.nats);
    let key = secret_hex("cluster", "key", section.key_env, section.key)?;
    let previous = secret_hex(
        "cluster",
        "previous_key",
        section.previous_key_env,
        section.previous_key,
    )?;
    if key.is_none() && (redis.is_some() || nats.is_some()) {
        bail!(
            "[cluster] redis or nats is set but the cluster key is not: set [cluster] key_env to \
             an environment variable holding the same key on every node (at least 32 bytes as \
             hex, e.g. from `openssl rand -hex 32`)"
        );
    }
    if key.is_none() && tier {
        bail!(
            "[cache] shared is set but the cluster key is not: its entries are sealed with it, \
             so set [cluster] key_env to an environment variable holding the same key on every \
             node (at least 32 bytes as hex, e.g. from `openssl rand -hex 32`)"
        );
    }
    anyhow::ensure!(
        key.is_some() || previous.is_none(),
        "[cluster] previous_key needs a key to go with it"
    );
    let keys = key.map(|k| std::sync::Arc::new(crate::cluster::ClusterKeys::new(k, previous)));
    Ok(crate::cluster::ClusterSettings {
        name,
        node_id: node_id(section.node_id, listen)?,
        redis,
        nats,
        keys,
    })
}

/// The node's id: given (1-64 printable ASCII characters), or the host name and listen port.
fn node_id(configured: Option<String>, listen: SocketAddr) -> anyhow::Result<String> {
    match env_override("REELAY_NODE_ID").or(configured) {
        Some(id) => {
            anyhow::ensure!(
                (1..=64).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_graphic()),
                "cluster.node_id must be 1-64 printable ASCII characters without spaces"
            );
            Ok(id)
        }
        None => {
            let host = rustix::system::uname()
                .nodename()
                .to_string_lossy()
                .into_owned();
            // Port 0 is picked at bind time: several such nodes on one host stay distinct.
            Ok(match listen.port() {
                0 => format!("{host}:0-{}", crate::random::u64() % 0x100_0000),
                port => format!("{host}:{port}"),
            })
        }
    }
}
