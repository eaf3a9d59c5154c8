//! The chunk cache in front of a real S3 server: exact bytes across chunk boundaries, one
//! backend read for many concurrent cold viewers, correctness under eviction, and a changed
//! object never mixed into a response.

use crate::common;

use std::sync::atomic::Ordering;

use common::matrix::{LEN, run_matrix};
use common::s3::{S3Server, SECRET_KEY, StoreProxy};
use common::{TestServer, pattern, sha256, write_fixed};
use futures_util::StreamExt;
use reelay::cache::CacheSettings;

async fn cached_reelay(s3: &S3Server, endpoint: &str, settings: CacheSettings) -> TestServer {
    let mut profile = s3.profile(SECRET_KEY);
    profile.endpoint = endpoint.parse().expect("url");
    let bucket = s3.bucket(profile, "media");
    TestServer::start_with_buckets_configured(
        move |b| b.add_s3("s3", bucket).expect("add"),
        move |services| services.enable_cache(settings),
    )
    .await
}

fn metric(text: &str, name: &str) -> u64 {
    text.lines()
        .find_map(|l| l.strip_prefix(name).and_then(|v| v.trim().parse().ok()))
        .unwrap_or_else(|| panic!("metric {name} in {text}"))
}

#[tokio::test]
async fn ranges_across_chunk_boundaries_are_exact() {
    let s3 = S3Server::start(&["media"]);
    let file = pattern(LEN);
    write_fixed(&s3.object_path("media", "v.mp4"), &file);
    let small_chunks = CacheSettings {
        memory: 1 << 20,
        chunk_size: 16 << 10,
        readahead: 2,
        shared: None,
    };
    let server = cached_reelay(&s3, &s3.endpoint, small_chunks).await;
    // Twice: the first pass fills the cache, the second is served from it.
    for _ in 0..2 {
        assert!(run_matrix(&server.url("/media/s3/v.mp4"), &file).await >= 40);
    }
    let text = reqwest::get(server.url("/metrics"))
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    assert!(metric(&text, "reelay_cache_hits_total") > 0, "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_cold_viewers_of_one_object_cost_one_backend_read() {
    let s3 = S3Server::start(&["media"]);
    let len = 60 << 20;
    let file = pattern(len);
    write_fixed(&s3.object_path("media", "big.mp4"), &file);
    let proxy = StoreProxy::start(&s3.endpoint).await;
    let settings = CacheSettings {
        memory: 256 << 20,
        chunk_size: 1 << 20,
        readahead: 2,
        shared: None,
    };
    let server = cached_reelay(&s3, &proxy.endpoint, settings).await;
    let url = server.url("/media/s3/big.mp4");
    common::concurrent_viewers(&[url], 50, &sha256(&file)).await;
    let from_store = proxy.from_store.load(Ordering::SeqCst);
    let ratio = from_store as f64 / len as f64;
    eprintln!(
        "50 viewers x {} MiB: {} MiB from the store ({ratio:.3}x)",
        len >> 20,
        from_store >> 20
    );
    assert!(ratio <= 1.05, "the store served {ratio:.3}x the object");
    let text = reqwest::get(server.url("/metrics"))
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    assert!(
        metric(&text, "reelay_cache_joins_total") + metric(&text, "reelay_cache_hits_total") > 0
    );
}

#[tokio::test]
async fn a_tiny_cache_evicts_and_still_serves_exact_bytes() {
    let s3 = S3Server::start(&["media"]);
    let file = pattern(1 << 20);
    write_fixed(&s3.object_path("media", "v.mp4"), &file);
    let tiny = CacheSettings {
        memory: 64 << 10,
        chunk_size: 16 << 10,
        readahead: 1,
        shared: None,
    };
    let server = cached_reelay(&s3, &s3.endpoint, tiny).await;
    let client = reqwest::Client::new();
    let reads = (0..6).map(|i| {
        let (client, url) = (client.clone(), server.url("/media/s3/v.mp4"));
        let start = i * 100_000;
        tokio::spawn(async move {
            let resp = client
                .get(url)
                .header("range", format!("bytes={start}-"))
                .send()
                .await
                .expect("get");
            resp.bytes().await.expect("body")
        })
    });
    for (i, read) in reads.collect::<Vec<_>>().into_iter().enumerate() {
        let body = read.await.expect("read");
        assert_eq!(sha256(&body), sha256(&file[i * 100_000..]), "read {i}");
    }
    let text = reqwest::get(server.url("/metrics"))
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    assert!(metric(&text, "reelay_cache_evictions_total") > 0, "{text}");
}

#[tokio::test]
async fn a_replaced_object_never_mixes_with_cached_chunks() {
    let s3 = S3Server::start(&["media"]);
    // Far larger than loopback socket buffers: backpressure keeps the server mid-object
    // when the test replaces it.
    let old = pattern(32 << 20);
    let path = s3.object_path("media", "v.mp4");
    write_fixed(&path, &old);
    let settings = CacheSettings {
        memory: 64 << 20,
        chunk_size: 1 << 20,
        readahead: 0,
        shared: None,
    };
    let server = cached_reelay(&s3, &s3.endpoint, settings).await;
    // Warm the first half of the object.
    let warm = reqwest::Client::new()
        .get(server.url("/media/s3/v.mp4"))
        .header("range", "bytes=0-1048575")
        .send()
        .await
        .expect("get");
    assert_eq!(warm.bytes().await.expect("body").as_ref(), &old[..1 << 20]);
    let resp = reqwest::get(server.url("/media/s3/v.mp4"))
        .await
        .expect("get");
    let mut body = resp.bytes_stream();
    let mut received = body.next().await.expect("chunk").expect("bytes").to_vec();
    let new: Vec<u8> = old.iter().map(|b| b.wrapping_add(7)).collect();
    // Replaced as S3 replaces an object: atomically (a GET under way keeps reading the old
    // version; an in-place rewrite would make s3s-fs itself send a mix within one answer).
    let temp = path.with_extension("new");
    std::fs::write(&temp, &new).expect("new version");
    std::fs::rename(&temp, &path).expect("replace");
    let failed = common::drain_until_error(&mut body, &mut received).await;
    assert!(failed, "a response spanning the change completed");
    assert_eq!(
        sha256(&received),
        sha256(&old[..received.len()]),
        "only old bytes"
    );
    let again = reqwest::get(server.url("/media/s3/v.mp4"))
        .await
        .expect("get");
    assert_eq!(
        sha256(&again.bytes().await.expect("body")),
        sha256(&new),
        "then the new object, whole"
    );
}
