//! The shared cache tier (Redis, memcached) under several nodes' chunk caches, in front of one
//! nginx origin whose access log counts what the backend sent.

use std::sync::Arc;
use std::time::Duration;

use reelay::cache::CacheSettings;
use reelay::cache::shared::{SharedChunks, Tier};
use reelay::storage::origin::{OriginBucket, OriginSettings};
use reelay::storage::{Backend, Origin};

use crate::common::cluster::{Engine, Namespace, redis_url};
use crate::common::nginx::Nginx;
use crate::common::{TestServer, pattern, sha256, write_fixed};

const SIZE: usize = 16 << 20;

/// The tier at `url` (redis:// or memcached://), keys under `ns`.
async fn engine(url: &str, ns: &str) -> Arc<dyn SharedChunks> {
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

/// A node with the origin bucket `o` (nginx) and a chunk cache over the tier at `url`.
async fn node(nginx: &Nginx, url: &str, ns: &str) -> TestServer {
    let engine = engine(url, ns).await;
    let cache = CacheSettings {
        memory: 64 << 20,
        chunk_size: 1 << 20,
        readahead: 2,
        shared: Some(Arc::new(Tier::new(
            engine,
            Duration::from_secs(600),
            1 << 20,
        ))),
    };
    let origin = OriginSettings {
        name: "o".into(),
        base: Some(nginx.base("/").parse().expect("url")),
        allow: Vec::new(),
        allow_internal: false,
        resolver: None,
        connect_timeout: Duration::from_secs(2),
        request_timeout: Duration::from_secs(10),
        meta_ttl: Duration::from_secs(5),
    };
    TestServer::start_with_buckets_configured(
        move |b| {
            let bucket = OriginBucket::new(origin).expect("origin bucket");
            b.insert("o", Backend::Origin(bucket), Origin::Config, None)
                .expect("insert");
        },
        move |services| services.enable_cache(cache),
    )
    .await
}

/// `viewers` concurrent whole-object GETs spread over `nodes`; each must be the file.
async fn watch(nodes: &[&TestServer], viewers: usize, want: &str) {
    let urls: Vec<String> = nodes.iter().map(|n| n.url("/media/o/v.mp4")).collect();
    crate::common::concurrent_viewers(&urls, viewers, want).await;
}

/// Three nodes, 30 cold viewers: one copy from the origin; then a fourth node reads nothing.
async fn one_read_for_three_nodes_and_a_warm_fourth(url: &str) {
    let file = pattern(SIZE);
    let nginx = Nginx::start("");
    write_fixed(&nginx.file("v.mp4"), &file);
    let ns = Namespace::new();
    let mut nodes = Vec::new();
    for _ in 0..3 {
        nodes.push(node(&nginx, url, &ns.name).await);
    }
    let want = sha256(&file);
    watch(&nodes.iter().collect::<Vec<_>>(), 30, &want).await;
    let sent = nginx.body_bytes_sent();
    assert!(
        sent as f64 <= SIZE as f64 * 1.05,
        "the origin sent {sent} bytes for {SIZE}"
    );
    let fourth = node(&nginx, url, &ns.name).await;
    watch(&[&fourth], 3, &want).await;
    assert_eq!(
        nginx.body_bytes_sent(),
        sent,
        "the fourth node read nothing from the origin"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_redis_cold_viewers_on_three_nodes_cost_one_read_and_a_fourth_node_starts_warm() {
    one_read_for_three_nodes_and_a_warm_fourth(&redis_url()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_memcached_cold_viewers_on_three_nodes_cost_one_read_and_a_fourth_node_starts_warm() {
    let memcached = Engine::memcached("4m");
    one_read_for_three_nodes_and_a_warm_fourth(&memcached.url()).await;
}

#[test]
fn a_chunk_larger_than_memcacheds_item_limit_is_refused_at_startup() {
    let memcached = Engine::memcached("1m");
    let dir = tempfile::tempdir().expect("tempdir");
    let config = format!(
        "[cache]\nchunk = \"1MiB\"\nshared = \"{}\"\n",
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
async fn with_the_tier_killed_viewers_get_the_right_bytes_at_one_copy_per_node() {
    let file = pattern(SIZE);
    let nginx = Nginx::start("");
    write_fixed(&nginx.file("v.mp4"), &file);
    let mut redis = Engine::redis();
    let ns = Namespace::new();
    let mut nodes = Vec::new();
    for _ in 0..3 {
        nodes.push(node(&nginx, &redis.url(), &ns.name).await);
    }
    redis.kill();
    watch(&nodes.iter().collect::<Vec<_>>(), 12, &sha256(&file)).await;
    for node in &nodes {
        let (status, text) = crate::common::get_text(node.url("/readyz")).await;
        assert_eq!(status, 503, "{text}");
        assert!(text.contains("shared cache"), "{text}");
    }
    let sent = nginx.body_bytes_sent();
    assert!(
        sent as f64 <= 3.0 * SIZE as f64 * 1.05,
        "the origin sent {sent} bytes: more than a copy per node"
    );
}
