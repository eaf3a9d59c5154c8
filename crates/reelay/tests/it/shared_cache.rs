//! The shared cache tier (Redis, memcached) under several nodes' chunk caches, in front of one
//! store whose bytes are counted outside reelay: s3s-fs behind a counting TCP proxy, or nginx
//! by its access log.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use reelay::cache::CacheSettings;
use reelay::cache::shared::{SharedChunks, Tier};
use reelay::http::Services;
use reelay::storage::origin::{OriginBucket, OriginSettings};
use reelay::storage::{Backend, Buckets, Origin};

use crate::common::cluster::{Engine, Namespace, TEST_CLUSTER_KEY, redis_url, test_keys};
use crate::common::nginx::Nginx;
use crate::common::s3::{S3Server, SECRET_KEY, StoreProxy};
use crate::common::{TestServer, get_text, pattern, poll_until, sha256, write_fixed};

const BIG: usize = 60 << 20;
pub(crate) const SMALL: usize = 16 << 20;
pub(crate) const MIB: u64 = 1 << 20;

/// The tier at `url` (redis:// or memcached://), keys under `ns`.
pub(crate) async fn engine(url: &str, ns: &str) -> Arc<dyn SharedChunks> {
    if url.starts_with("memcached://") {
        Arc::new(
            reelay::cluster::MemcachedChunks::connect(url, ns)
                .await
                .expect("memcached"),
        )
    } else {
        Arc::new(reelay::cluster::RedisChunks::connect(url, ns).expect("redis"))
    }
}

/// A node with the buckets `add` puts in and a chunk cache of `memory` bytes over the tier at
/// `url` (1 MiB chunks).
async fn node_with(
    add: impl FnOnce(&mut Buckets) + Send + 'static,
    url: &str,
    ns: &str,
    memory: u64,
) -> TestServer {
    let engine = engine(url, ns).await;
    TestServer::start_with_buckets_configured(add, move |services| {
        let cache = CacheSettings {
            memory,
            chunk_size: MIB,
            readahead: 2,
            shared: Some(tier(engine, services)),
        };
        services.enable_cache(cache);
    })
    .await
}

/// The tier on `engine` as a node of the test cluster has it (1 MiB chunks, entries sealed
/// under the test key), counting refused entries in `services`' metrics.
fn tier(engine: Arc<dyn SharedChunks>, services: &Services) -> Arc<Tier> {
    let rejected = services.metrics.live.tier_rejected();
    let settings = (Duration::from_secs(600), MIB);
    Arc::new(Tier::new(engine, settings, test_keys(), rejected))
}

/// A store: s3s-fs behind a TCP proxy that counts the bytes it sends.
pub(crate) struct Store {
    s3: S3Server,
    proxy: StoreProxy,
}

impl Store {
    pub(crate) async fn with(len: usize) -> (Self, Vec<u8>) {
        let s3 = S3Server::start(&["media"]);
        let file = pattern(len);
        write_fixed(&s3.object_path("media", "v.mp4"), &file);
        let proxy = StoreProxy::start(&s3.endpoint).await;
        (Self { s3, proxy }, file)
    }

    pub(crate) fn sent(&self) -> u64 {
        self.proxy.from_store.load(Ordering::SeqCst)
    }

    /// A node with bucket `s3` on this store, through the proxy.
    pub(crate) async fn node(&self, url: &str, ns: &str, memory: u64) -> TestServer {
        let mut profile = self.s3.profile(SECRET_KEY);
        profile.endpoint = self.proxy.endpoint.parse().expect("url");
        let bucket = self.s3.bucket(profile, "media");
        node_with(
            move |b| b.add_s3("s3", bucket).expect("add"),
            url,
            ns,
            memory,
        )
        .await
    }
}

/// A node with the origin bucket `s3` (named so for the URLs) on `nginx`.
async fn origin_node(nginx: &Nginx, url: &str, ns: &str) -> TestServer {
    let origin = OriginSettings {
        name: "s3".into(),
        base: Some(nginx.base("/").parse().expect("url")),
        allow: Vec::new(),
        allow_internal: false,
        resolver: None,
        connect_timeout: Duration::from_secs(2),
        request_timeout: Duration::from_secs(10),
        meta_ttl: Duration::from_secs(5),
        proxy: None,
        resolver_slots: Default::default(),
    };
    let add = move |b: &mut Buckets| {
        let bucket = OriginBucket::new(origin).expect("origin bucket");
        b.insert("s3", Backend::Origin(bucket), Origin::Config, None)
            .expect("insert");
    };
    node_with(add, url, ns, 64 << 20).await
}

pub(crate) fn urls(nodes: &[TestServer]) -> Vec<String> {
    nodes.iter().map(|n| n.url("/media/s3/v.mp4")).collect()
}

/// The sum over `nodes` of the counter `name` (a whole line of `/metrics`, label set included).
pub(crate) async fn metric_sum(nodes: &[&TestServer], name: &str) -> u64 {
    let mut sum = 0;
    for node in nodes {
        let (_, text) = get_text(node.url("/metrics")).await;
        sum += text
            .lines()
            .find_map(|l| {
                l.strip_prefix(name)
                    .and_then(|v| v.trim().parse::<u64>().ok())
            })
            .unwrap_or_else(|| panic!("metric {name} in {text}"));
    }
    sum
}

/// Only the object's metadata (a HEAD answer) crossed the proxy since `sent`, and `node`
/// counted no byte from the backend.
async fn assert_nothing_read(store: &Store, sent: u64, node: &TestServer) {
    let more = store.sent() - sent;
    assert!(more < 2048, "{more} bytes came from the store");
    let counted = r#"reelay_backend_read_bytes_total{bucket="s3"}"#;
    assert_eq!(
        metric_sum(&[node], counted).await,
        0,
        "backend bytes counted"
    );
}

/// Three nodes, 50 cold viewers of 60 MiB on S3: one copy from the store; a fourth node then
/// reads nothing from it.
async fn one_read_for_three_nodes_and_a_warm_fourth(url: &str) {
    let (store, file) = Store::with(BIG).await;
    let ns = Namespace::new();
    let mut nodes = Vec::new();
    for _ in 0..3 {
        nodes.push(store.node(url, &ns.name, 256 << 20).await);
    }
    let want = sha256(&file);
    crate::common::concurrent_viewers(&urls(&nodes), 50, &want).await;
    let sent = store.sent();
    let ratio = sent as f64 / BIG as f64;
    assert!(ratio <= 1.05, "the store sent {ratio:.3}x the object");
    let counted = r#"reelay_backend_read_bytes_total{bucket="s3"}"#;
    let by_nodes = metric_sum(&nodes.iter().collect::<Vec<_>>(), counted).await;
    assert!(
        by_nodes >= BIG as u64 && by_nodes <= sent,
        "the nodes counted {by_nodes} backend bytes, the proxy {sent}"
    );
    let fourth = [store.node(url, &ns.name, 256 << 20).await];
    crate::common::concurrent_viewers(&urls(&fourth), 3, &want).await;
    assert_nothing_read(&store, sent, &fourth[0]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_redis_fifty_cold_viewers_on_three_nodes_cost_one_s3_read_and_a_fourth_node_starts_warm()
{
    one_read_for_three_nodes_and_a_warm_fourth(&redis_url()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_memcached_fifty_cold_viewers_on_three_nodes_cost_one_s3_read_and_a_fourth_node_starts_warm()
 {
    let memcached = Engine::memcached("4m");
    one_read_for_three_nodes_and_a_warm_fourth(&memcached.url()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_http_origin_behind_the_tier_is_read_once_for_three_nodes() {
    let file = pattern(SMALL);
    let nginx = Nginx::start("");
    write_fixed(&nginx.file("v.mp4"), &file);
    let ns = Namespace::new();
    let mut nodes = Vec::new();
    for _ in 0..3 {
        nodes.push(origin_node(&nginx, &redis_url(), &ns.name).await);
    }
    crate::common::concurrent_viewers(&urls(&nodes), 30, &sha256(&file)).await;
    // Once: the whole object came from the origin (at least), and not twice (at most).
    let sent = nginx.body_bytes_sent_at_least(SMALL as u64).await;
    assert!(
        sent as f64 <= SMALL as f64 * 1.05,
        "the origin sent {sent} bytes for {SMALL}"
    );
}

#[test]
fn a_chunk_larger_than_memcacheds_item_limit_is_refused_at_startup() {
    let memcached = Engine::memcached("1m");
    let dir = tempfile::tempdir().expect("tempdir");
    let config = format!(
        "[cache]\nchunk = \"1MiB\"\nshared = \"{}\"\n[cluster]\nkey = \"{TEST_CLUSTER_KEY}\"\n",
        memcached.url()
    );
    std::fs::write(dir.path().join("r.toml"), config).expect("config");
    let args = [
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--data",
        "d",
        "--config",
        "r.toml",
    ];
    let (ok, stderr) = crate::common::run_binary(&args, dir.path());
    assert!(!ok, "started with a chunk memcached cannot hold");
    assert!(
        stderr.contains("-I") && stderr.contains("[cache] chunk"),
        "{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_tier_killed_mid_run_viewers_get_the_right_bytes_at_one_copy_per_node() {
    let (store, file) = Store::with(BIG).await;
    let mut redis = Engine::redis();
    let ns = Namespace::new();
    let mut nodes = Vec::new();
    for _ in 0..3 {
        nodes.push(store.node(&redis.url(), &ns.name, 256 << 20).await);
    }
    let viewers = tokio::spawn({
        let (urls, want) = (urls(&nodes), sha256(&file));
        async move { crate::common::concurrent_viewers(&urls, 30, &want).await }
    });
    poll_until(
        "the first bytes from the store",
        Duration::from_secs(20),
        || {
            let sent = store.sent();
            async move { (sent >= 8 * MIB).then_some(()) }
        },
    )
    .await;
    redis.kill();
    viewers.await.expect("every viewer got the right bytes");
    for node in &nodes {
        let (status, text) = get_text(node.url("/readyz")).await;
        assert_eq!(status, 503, "{text}");
        assert!(text.contains("shared cache"), "{text}");
    }
    let ratio = store.sent() as f64 / BIG as f64;
    assert!(
        ratio <= 3.0 * 1.05,
        "the store sent {ratio:.3}x: more than a copy per node"
    );
}

/// Bytes `start..=end` of `v.mp4` from `node` are those of `file`.
pub(crate) async fn assert_range(node: &TestServer, file: &[u8], start: usize, end: usize) {
    let response = reqwest::Client::new()
        .get(node.url("/media/s3/v.mp4"))
        .header("range", format!("bytes={start}-{end}"))
        .send()
        .await
        .expect("get");
    assert_eq!(response.status(), 206);
    let body = response.bytes().await.expect("body");
    assert_eq!(&body[..], &file[start..=end], "bytes {start}-{end}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_without_room_serves_ranges_from_the_tier_span_and_reads_nothing_from_the_store() {
    let (store, file) = Store::with(SMALL).await;
    let ns = Namespace::new();
    let warm = store.node(&redis_url(), &ns.name, 64 << 20).await;
    crate::common::concurrent_viewers(&urls(&[warm]), 1, &sha256(&file)).await;
    let sent = store.sent();
    let cold = store.node(&redis_url(), &ns.name, 0).await;
    let mut n = 0u64;
    for start in (0..SMALL - 70_000).step_by(977_777) {
        assert_range(&cold, &file, start, start + 65_535).await;
        n += 1;
    }
    assert_nothing_read(&store, sent, &cold).await;
    let hits = metric_sum(&[&cold], "reelay_cache_shared_hits_total").await;
    assert!(hits >= n, "{hits} shared-tier hits for {n} ranges");
}

/// A node whose bucket `r` resolves ids with a Python script, its answers shared through the
/// Redis tier at `url`, keys under `ns`.
async fn resolver_node(nginx: &Nginx, script: &str, url: &str, ns: &str) -> TestServer {
    let settings = OriginSettings {
        name: "r".into(),
        base: None,
        allow: vec![nginx.base("").trim_end_matches('/').to_owned()],
        allow_internal: true,
        resolver: Some((
            vec![
                "python3".into(),
                "-c".into(),
                script.to_owned(),
                "{id}".into(),
            ],
            Duration::from_secs(5),
            Duration::from_secs(600),
        )),
        connect_timeout: Duration::from_secs(2),
        request_timeout: Duration::from_secs(10),
        meta_ttl: Duration::from_secs(5),
        proxy: None,
        resolver_slots: Default::default(),
    };
    let engine = engine(url, ns).await;
    TestServer::start_with_buckets_configured(
        move |b| {
            let bucket = OriginBucket::new(settings).expect("origin bucket");
            b.insert("r", Backend::Origin(bucket), Origin::Config, None)
                .expect("insert");
        },
        move |services| {
            let tier = tier(engine, services);
            services.buckets.share_resolvers(&tier);
        },
    )
    .await
}

const TIER_REJECTED: &str = r#"reelay_cluster_rejected_total{reason="tier"}"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resolved_url_serves_every_node_and_a_forged_foreign_or_swapped_one_is_resolved_again() {
    let nginx = Nginx::start("");
    write_fixed(&nginx.file("abc"), b"resolved media");
    write_fixed(&nginx.file("xyz"), b"other media");
    let state = tempfile::tempdir().expect("tempdir");
    let calls = state.path().join("calls");
    let script = format!(
        "import sys\nopen({calls:?}, 'a').write('call\\n')\nprint('{base}/' + sys.argv[1])",
        base = nginx.base("").trim_end_matches('/')
    );
    let ns = Namespace::new();
    let ran = || std::fs::read_to_string(&calls).map_or(0, |s| s.lines().count());
    // A new node asks for `id`: it plays; `refused` entries of the tier were not believed.
    let play = |id: &'static str, body: &'static str, refused: u64| {
        let (nginx, script, ns) = (&nginx, &script, &ns);
        async move {
            let node = resolver_node(nginx, script, &redis_url(), &ns.name).await;
            let (status, text) = get_text(node.url(&format!("/media/r/{id}"))).await;
            assert_eq!((status, text.as_str()), (200, body));
            assert_eq!(metric_sum(&[&node], TIER_REJECTED).await, refused);
        }
    };
    play("abc", "resolved media", 0).await;
    play("abc", "resolved media", 0).await;
    assert_eq!(ran(), 1, "the second node used the first one's answer");
    let key = ns
        .keys()
        .into_iter()
        .find(|k| k.contains(":resolve:"))
        .expect("shared answer");
    let name = key
        .strip_prefix(&format!("{}:cache:", ns.name))
        .expect("prefixed");
    // Written by whoever reaches Redis: no seal.
    ns.raw_set(&key, b"http://198.51.100.7/abc");
    play("abc", "resolved media", 1).await;
    assert_eq!(ran(), 2, "the unsealed answer was resolved again");
    // Sealed (a node's bug, a leaked key) but not on the bucket's allow list.
    let foreign =
        reelay::keyed::seal_entry(&test_keys(), name.as_bytes(), b"http://198.51.100.7/abc");
    ns.raw_set(&key, &foreign);
    play("abc", "resolved media", 0).await;
    assert_eq!(ran(), 3, "the foreign answer was resolved again");
    // A node's own answer for `abc`, moved to where `xyz`'s would be.
    let xyz = format!(
        "{}:xyz",
        key.strip_suffix(":abc").expect("the id ends the key")
    );
    ns.raw_set(&xyz, &ns.raw_get(&key));
    play("xyz", "other media", 1).await;
    assert_eq!(ran(), 4, "the swapped answer was resolved again");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_tier_down_the_resolver_runs_here_and_media_still_plays() {
    let nginx = Nginx::start("");
    write_fixed(&nginx.file("abc"), b"resolved media");
    let script = format!(
        "import sys\nprint('{base}/' + sys.argv[1])",
        base = nginx.base("").trim_end_matches('/')
    );
    let mut redis = Engine::redis();
    let ns = Namespace::new();
    let node = resolver_node(&nginx, &script, &redis.url(), &ns.name).await;
    redis.kill();
    let (status, body) = get_text(node.url("/media/r/abc")).await;
    assert_eq!((status, body.as_str()), (200, "resolved media"));
}
