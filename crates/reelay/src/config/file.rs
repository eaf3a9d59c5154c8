//! The configuration file as the operator writes it: TOML, every key optional, unknown keys
//! refused (`deny_unknown_fields`). Values stay text here; `sections.rs`, `s3.rs` and `mod.rs`
//! validate them into typed settings.

use std::path::PathBuf;

use serde::Deserialize;

/// The file as written by the operator.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub(crate) listen: Option<String>,
    pub(crate) data_dir: Option<PathBuf>,
    /// How long in-flight responses may run after SIGINT/SIGTERM (default `10s`).
    pub(crate) shutdown_grace: Option<String>,
    #[serde(default)]
    pub(crate) server: ServerSection,
    #[serde(default)]
    pub(crate) origin: OriginSection,
    #[serde(default)]
    pub(crate) cache: CacheSection,
    #[serde(default)]
    pub(crate) live: LiveSection,
    #[serde(default)]
    pub(crate) edges: EdgesSection,
    #[serde(default)]
    pub(crate) metadata: MetadataSection,
    #[serde(default)]
    pub(crate) cluster: ClusterSection,
    #[serde(default)]
    pub(crate) auth: AuthSection,
    #[serde(default)]
    pub(crate) log: LogSection,
    #[serde(default, rename = "token")]
    pub(crate) tokens: Vec<TokenEntry>,
    #[serde(default, rename = "s3")]
    pub(crate) s3_profiles: Vec<S3Entry>,
    #[serde(default, rename = "bucket")]
    pub(crate) buckets: Vec<BucketEntry>,
}

/// `[log]`: how log lines are written (to stderr).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct LogSection {
    /// `text` (default) or `json`, one object a line with the request's span fields
    /// (`REELAY_LOG_FORMAT` wins).
    pub(crate) format: Option<String>,
}

/// `[[s3]]`: a connection profile for an S3-compatible store.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct S3Entry {
    pub name: String,
    /// `https://s3.eu-west-1.amazonaws.com`, `http://127.0.0.1:9000`, …
    pub endpoint: String,
    /// Default `us-east-1`.
    pub(crate) region: Option<String>,
    /// `path` (default; MinIO, Garage, most S3-compatible stores) or `virtual-host`.
    pub(crate) addressing: Option<String>,
    /// Names of environment variables holding the keys (preferred over keys in the file).
    pub(crate) access_key_env: Option<String>,
    pub(crate) secret_key_env: Option<String>,
    pub(crate) access_key: Option<String>,
    pub(crate) secret_key: Option<String>,
    /// Default `5s`.
    pub(crate) connect_timeout: Option<String>,
    /// Time allowed for response headers and between body chunks; default `30s`.
    pub(crate) request_timeout: Option<String>,
    /// Largest ranged GET and upload part; default `8MiB`.
    pub part_size: Option<String>,
    /// How long object metadata is trusted before revalidation; default `5s`.
    pub(crate) meta_ttl: Option<String>,
}

/// `[cache]`: the chunk cache for remote buckets (S3, origins).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CacheSection {
    /// Bytes of chunks kept in memory (default `256MiB`; `0` turns the cache off).
    pub(crate) memory: Option<String>,
    /// Chunk size (default `1MiB`).
    pub(crate) chunk: Option<String>,
    /// Chunks fetched ahead of a sequential reader (default 2).
    pub(crate) readahead: Option<u64>,
    /// A tier shared by the nodes under the per-node one: `redis://host:port/db`.
    pub(crate) shared: Option<String>,
    /// How long chunks stay in the shared tier (default `1h`).
    pub(crate) shared_ttl: Option<String>,
}

/// `[live]`: the live relay.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct LiveSection {
    /// Segments in a live playlist (default 6).
    pub(crate) window_segments: Option<usize>,
    /// How long received segments are kept (default `10m`).
    pub(crate) buffer: Option<String>,
    /// Most bytes of segments kept per source, shared by its renditions (default `4GiB`); on
    /// an edge this bounds what an outage of the control node can hold back for recordings.
    pub(crate) buffer_bytes: Option<String>,
    /// Largest segment upload (default `64MiB`).
    pub(crate) max_segment: Option<String>,
    /// Folder LiveMix-style `POST /v1/playlist` may read segments from (default: off).
    pub(crate) ingest_root: Option<PathBuf>,
    /// The source a `POST /v1/playlist` without `Video-Source-Name` is for (default: none,
    /// the header is required).
    pub(crate) livemix_source: Option<String>,
    /// The segment folder (`file:///dir`, inside `ingest_root`) of a `POST /v1/playlist`
    /// without `MPEG-TS-URI-Prefix` (default: none, the header is required).
    pub(crate) livemix_prefix: Option<String>,
    /// Low-Latency HLS part target (e.g. `300ms`); every fragment an encoder streams must fit
    /// in it. Default: learned per rendition from its first fragment (its duration and a tenth).
    pub(crate) part_target: Option<String>,
    /// Every source plays (live and recorded) without a token (default `false`; a source can
    /// be made public on its own with `"public": true`).
    #[serde(default)]
    pub(crate) public: bool,
    /// The bucket recordings are written to (default `recordings`, a data-dir folder created
    /// when missing; name an S3 bucket to record to object storage).
    pub(crate) recordings_bucket: Option<String>,
    /// The recordings bucket is a folder every node of the cluster mounts (default `false`:
    /// in cluster mode a folder bucket there refuses to start, since each node would keep
    /// its own part of every recording).
    #[serde(default)]
    pub(crate) recordings_shared: bool,
    /// Most LL-HLS blocking reloads (and parts asked for ahead) held at once on this node;
    /// beyond, 503 with `Retry-After` (default 10000).
    pub(crate) max_held_reloads: Option<i64>,
}

/// `[metadata]`: the metadata database.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct MetadataSection {
    /// `sqlite://…` (default: `DATA/reelay.db`) or `postgres://…`.
    pub(crate) url: Option<String>,
}

/// `[cluster]`: what makes several control nodes one deployment.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ClusterSection {
    /// This node's name among the others (leases, logs); default: host name and listen port.
    pub(crate) node_id: Option<String>,
    /// Namespace of the cluster's keys and subjects (default `reelay`), so several clusters
    /// can share one Redis and one NATS.
    pub name: Option<String>,
    /// `redis://…`: the shared live tier (segment and init bytes).
    pub(crate) redis: Option<String>,
    /// `nats://…`: notifications between nodes.
    pub(crate) nats: Option<String>,
    /// Environment variable holding the cluster key (hex, at least 32 bytes; the same on every
    /// node): required with `redis` or `nats`. `key` gives it in the file instead.
    pub(crate) key_env: Option<String>,
    pub(crate) key: Option<String>,
    /// The key being rotated out: still accepted, never used to seal.
    pub(crate) previous_key_env: Option<String>,
    pub(crate) previous_key: Option<String>,
}

/// `[auth]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AuthSection {
    /// Environment variable holding the hex key for signed URLs (at least 32 bytes). Give every
    /// node of a deployment the same key; default: `DATA/signing.key`, created at first start.
    pub(crate) signing_key_env: Option<String>,
    /// Environment variable holding the key signed URLs were signed with before a rotation:
    /// it still verifies them (until they expire, at most 7 days) but signs nothing.
    pub(crate) previous_signing_key_env: Option<String>,
}

/// `[[token]]`: a token given by hash (create one with `reelay token`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TokenEntry {
    pub id: String,
    pub name: String,
    pub(crate) role: String,
    /// SHA-256 (hex) of the token's secret part.
    pub(crate) sha256: String,
}

/// `[server]`: connection limits.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ServerSection {
    /// Time allowed for a client to send request headers (default `10s`).
    pub(crate) header_timeout: Option<String>,
    /// A write that makes no progress this long ends the connection (default `60s`).
    pub(crate) write_timeout: Option<String>,
    /// Largest request head, bytes (default `64KiB`).
    pub(crate) max_header_bytes: Option<String>,
    /// Send cached local-file bytes with `sendfile` instead of copying them (default `true`).
    pub(crate) sendfile: Option<bool>,
    /// Threads that accept and serve connections, each with its own single-threaded runtime
    /// (default: one per CPU; `0`: serve on the shared runtime).
    pub(crate) workers: Option<usize>,
    /// Bytes of file data held in flight for all responses together (default `32MiB`).
    pub(crate) read_budget: Option<String>,
    /// Largest upload (default `10GiB`).
    pub(crate) max_upload: Option<String>,
    /// Longest wait for the next chunk of an upload (default `30s`).
    pub(crate) body_timeout: Option<String>,
    /// Origins (`https://app.example.com`) whose pages may call this node; default: none.
    #[serde(default)]
    pub(crate) cors_origins: Vec<String>,
    /// Most connections open at once on this node; beyond, a new one is answered 503 with
    /// `Retry-After` and closed (default 10000).
    pub(crate) max_connections: Option<usize>,
    /// Host names this node answers for besides `localhost`, `127.0.0.1` and `[::1]`; when
    /// set, a request naming any other is answered 421. Default: none (any host answered).
    #[serde(default)]
    pub(crate) hosts: Vec<String>,
}

/// `[origin]`: what origin buckets share on a node.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct OriginSection {
    /// Resolver commands running at once, for every bucket together (default 8); a request
    /// that finds none free within 5 s is answered 503 with `Retry-After`.
    pub(crate) resolver_concurrency: Option<usize>,
}

/// `[[bucket]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct BucketEntry {
    pub name: String,
    pub fs: Option<PathBuf>,
    /// Name of an `[[s3]]` profile.
    pub(crate) s3: Option<String>,
    /// The bucket's name in the store (default: `name`).
    pub(crate) s3_bucket: Option<String>,
    /// Anyone may play and list this bucket without a token.
    #[serde(default)]
    pub(crate) public: bool,
    /// `Cache-Control` of its media responses (default `no-cache`), e.g. for a CDN in front:
    /// `"public, max-age=86400"`.
    pub(crate) cache_control: Option<String>,
    /// An HTTP origin base URL ending in `/` (read-only bucket).
    pub(crate) origin: Option<String>,
    /// With an origin: a command turning an id into a media URL, `{id}` replaced; no shell.
    pub resolver: Option<Vec<String>>,
    /// Origins (`https://cdn.example`, `https://*.example`) resolver answers may point to.
    #[serde(default)]
    pub allow: Vec<String>,
    /// Permit host names (and resolver answers) that lead to internal addresses.
    #[serde(default)]
    pub allow_internal: bool,
    /// A proxy for this origin's fetches (`http://host:port`); proxies in the environment
    /// (`HTTPS_PROXY`…) are never used.
    pub(crate) proxy: Option<String>,
    /// Origin timeouts and caches: defaults `5s`, `30s`, `20s`, `10m`, `5s`.
    pub(crate) connect_timeout: Option<String>,
    pub(crate) request_timeout: Option<String>,
    pub(crate) resolver_timeout: Option<String>,
    pub(crate) resolver_ttl: Option<String>,
    pub(crate) meta_ttl: Option<String>,
}

/// `[edges]`: on a control node, when an edge counts as offline.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct EdgesSection {
    /// How often edges must be heard from (default `5s`; their long-poll lasts this long).
    pub(crate) interval: Option<String>,
    /// Intervals without a word before an edge is offline (default 3, at least 2).
    pub(crate) missed_intervals: Option<u32>,
    /// Extra slack before offline (default `2s`).
    pub(crate) margin: Option<String>,
    /// Stop an offline edge's open recordings at its last contact (default false: they stay
    /// open until the edge returns or an operator stops them).
    #[serde(default)]
    pub(crate) offline_stops_recordings: bool,
}
