//! The shared cache tier (Redis) under several nodes' chunk caches, in front of one nginx
//! origin whose access log counts what the backend sent.

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

/// A node with the origin bucket `o` (nginx) and a chunk cache over the tier at `redis`.
async fn node(nginx: &Nginx, redis: &str, ns: &str) -> TestServer {
    let engine: Arc<dyn SharedChunks> =
        Arc::new(reelay::cluster::RedisChunks::connect(redis, ns).expect("redis"));
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
    let client = reqwest::Client::new();
    let gets: Vec<_> = (0..viewers)
        .map(|i| {
            let url = nodes[i % nodes.len()].url("/media/o/v.mp4");
            let (client, want) = (client.clone(), want.to_owned());
            tokio::spawn(async move {
                let body = client
                    .get(url)
                    .send()
                    .await
                    .expect("get")
                    .bytes()
                    .await
                    .expect("body");
                assert_eq!(sha256(&body), want, "a viewer got the wrong bytes");
            })
        })
        .collect();
    for get in gets {
        get.await.expect("viewer");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cold_viewers_on_three_nodes_cost_the_origin_one_read_and_a_fourth_node_starts_warm() {
    let file = pattern(SIZE);
    let nginx = Nginx::start("");
    write_fixed(&nginx.file("v.mp4"), &file);
    let ns = Namespace::new();
    let mut nodes = Vec::new();
    for _ in 0..3 {
        nodes.push(node(&nginx, &redis_url(), &ns.name).await);
    }
    let want = sha256(&file);
    watch(&nodes.iter().collect::<Vec<_>>(), 30, &want).await;
    let sent = nginx.body_bytes_sent();
    assert!(
        sent as f64 <= SIZE as f64 * 1.05,
        "the origin sent {sent} bytes for {SIZE}"
    );
    let fourth = node(&nginx, &redis_url(), &ns.name).await;
    watch(&[&fourth], 3, &want).await;
    assert_eq!(
        nginx.body_bytes_sent(),
        sent,
        "the fourth node read nothing from the origin"
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
    let sent = nginx.body_bytes_sent();
    assert!(
        sent as f64 <= 3.0 * SIZE as f64 * 1.05,
        "the origin sent {sent} bytes: more than a copy per node"
    );
}
