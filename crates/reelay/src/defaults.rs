//! Every default a node runs with when nothing says otherwise, each written once. The config
//! layer falls back to these when a key is absent, and each settings type's `Default` (a
//! server or a test built without a config file) returns the same ones, so the two can never
//! disagree. It sits below every layer because both the config layer and the settings types
//! of the domains (and of the HTTP layer) read it; it holds numbers and names, nothing else.
//! Grouped as the configuration file is: one module per section.

/// `[server]` and the top-level keys.
pub(crate) mod server {
    use std::time::Duration;

    /// `listen`.
    pub(crate) const LISTEN: &str = "127.0.0.1:8080";
    /// `data_dir`.
    pub(crate) const DATA_DIR: &str = "./reelay-data";
    /// `shutdown_grace`: how long in-flight requests may finish after a stop.
    pub(crate) const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);
    /// `header_timeout`: for a request head, and the idle time of a kept-alive connection.
    pub(crate) const HEADER_TIMEOUT: Duration = Duration::from_secs(10);
    /// `write_timeout`: a write that makes no progress for this long ends the connection.
    pub(crate) const WRITE_TIMEOUT: Duration = Duration::from_secs(60);
    /// `max_header_bytes`: the largest request head.
    pub(crate) const MAX_HEADER_BYTES: usize = 64 << 10;
    /// The smallest `max_header_bytes` may be set to.
    pub(crate) const MIN_HEADER_BYTES: usize = 8 << 10;
    /// `max_connections`.
    pub(crate) const MAX_CONNECTIONS: usize = 10_000;
    /// `read_budget`: file bytes in flight for all responses together.
    pub(crate) const READ_BUDGET: usize = 32 << 20;
    /// `max_upload`.
    pub(crate) const MAX_UPLOAD: u64 = 10 << 30;
    /// `body_timeout`: the longest wait for the next piece of a request body.
    pub(crate) const BODY_TIMEOUT: Duration = Duration::from_secs(30);
    /// `sendfile`.
    pub(crate) const SENDFILE: bool = true;
}

/// `[origin]` and origin `[[bucket]]`s.
pub(crate) mod origin {
    use std::time::Duration;

    /// `resolver_concurrency`: resolver commands running at once on a node.
    pub(crate) const RESOLVER_CONCURRENCY: usize = 8;
    /// A bucket's `connect_timeout`.
    pub(crate) const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
    /// A bucket's `request_timeout`: for response headers and any pause inside a body.
    pub(crate) const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
    /// A bucket's `meta_ttl`: how long object metadata is believed before revalidation.
    pub(crate) const META_TTL: Duration = Duration::from_secs(5);
    /// A resolver's timeout.
    pub(crate) const RESOLVER_TIMEOUT: Duration = Duration::from_secs(20);
    /// How long a resolved URL is kept.
    pub(crate) const RESOLVER_TTL: Duration = Duration::from_secs(600);
}

/// `[[s3]]` profiles.
pub(crate) mod s3 {
    use std::time::Duration;

    /// `region`.
    pub(crate) const REGION: &str = "us-east-1";
    /// `part_size`: multipart upload parts.
    pub(crate) const PART_SIZE: usize = 8 << 20;
    /// The smallest `part_size` may be set to.
    pub(crate) const MIN_PART_SIZE: usize = 64 << 10;
    /// `connect_timeout`.
    pub(crate) const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
    /// `request_timeout`.
    pub(crate) const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
    /// `meta_ttl`.
    pub(crate) const META_TTL: Duration = Duration::from_secs(5);
}

/// `[cache]`.
pub(crate) mod cache {
    use std::time::Duration;

    /// `memory`.
    pub(crate) const MEMORY: usize = 256 << 20;
    /// `chunk`.
    pub(crate) const CHUNK: usize = 1 << 20;
    /// `readahead`, in chunks.
    pub(crate) const READAHEAD: u64 = 2;
    /// `shared_ttl`.
    pub(crate) const SHARED_TTL: Duration = Duration::from_secs(3600);
}

/// `[live]`.
pub(crate) mod live {
    use std::time::Duration;

    /// `window_segments`.
    pub(crate) const WINDOW: usize = 6;
    /// `buffer`: how long segments are kept after they leave the window.
    pub(crate) const BUFFER: Duration = Duration::from_secs(600);
    /// `buffer_bytes`.
    pub(crate) const BUFFER_BYTES: usize = 4 << 30;
    /// `max_segment`.
    pub(crate) const MAX_SEGMENT: usize = 64 << 20;
    /// `max_held_reloads`.
    pub(crate) const MAX_HELD: i64 = 10_000;
    /// `recordings_bucket`.
    pub(crate) const RECORDINGS_BUCKET: &str = "recordings";
}

/// `[edges]`.
pub(crate) mod edges {
    use std::time::Duration;

    /// `interval`: how often an edge is expected to poll.
    pub(crate) const INTERVAL: Duration = Duration::from_secs(5);
    /// `missed_intervals`: polls missed before an edge is offline.
    pub(crate) const MISSED_INTERVALS: u32 = 3;
    /// `margin`: slack on top, for slow networks.
    pub(crate) const MARGIN: Duration = Duration::from_secs(2);
}
