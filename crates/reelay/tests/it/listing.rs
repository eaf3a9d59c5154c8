//! Folder-bucket listings of 100,000 files (issue 33, part 6): every page is made in a walk
//! that keeps one page's worth of names (`storage/fs_list.rs`), and the pages together list
//! every key once, in order; a prefix and a delimiter are answered from the same walk.

use crate::common;

use common::app::TestApp;
use http::Method;

const FOLDERS: usize = 10;
const PER_FOLDER: usize = 10_000;

fn key(folder: usize, n: usize) -> String {
    format!("f{folder}/clip-{n:05}.mp4")
}

/// Every page of `path` (which has a query), followed by its cursor: (objects, prefixes).
async fn all_pages(app: &TestApp, path: &str) -> (Vec<String>, Vec<String>, usize) {
    let (mut objects, mut prefixes, mut pages) = (Vec::new(), Vec::new(), 0);
    let mut cursor: Option<String> = None;
    loop {
        let url = match &cursor {
            Some(c) => format!("{path}&cursor={}", urlencoding(c)),
            None => path.to_owned(),
        };
        let answer = app.call(Method::GET, &url).await;
        assert_eq!(answer.status, 200, "{url}");
        let page = answer.json();
        pages += 1;
        for o in page["objects"].as_array().expect("objects") {
            objects.push(o["key"].as_str().expect("key").to_owned());
        }
        for p in page["prefixes"].as_array().into_iter().flatten() {
            prefixes.push(p.as_str().expect("prefix").to_owned());
        }
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => return (objects, prefixes, pages),
        }
    }
}

fn urlencoding(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

#[tokio::test]
async fn a_listing_of_100_000_files_pages_through_every_key_once_in_order() {
    let app = TestApp::start(|dir| {
        for folder in 0..FOLDERS {
            let path = dir.join("big").join(format!("f{folder}"));
            std::fs::create_dir_all(&path).expect("mkdir");
            for n in 0..PER_FOLDER {
                std::fs::write(path.join(format!("clip-{n:05}.mp4")), b"").expect("file");
            }
        }
    })
    .await;
    let (objects, _, pages) = all_pages(&app, "/api/v1/buckets/big/objects?limit=1000").await;
    assert_eq!(pages, 100);
    let mut expected: Vec<String> = (0..FOLDERS)
        .flat_map(|f| (0..PER_FOLDER).map(move |n| key(f, n)))
        .collect();
    expected.sort();
    assert!(
        objects == expected,
        "{} keys, in order, each once",
        objects.len()
    );

    let (objects, prefixes, _) =
        all_pages(&app, "/api/v1/buckets/big/objects?delimiter=/&limit=3").await;
    assert!(objects.is_empty());
    let folders: Vec<String> = (0..FOLDERS).map(|f| format!("f{f}/")).collect();
    assert_eq!(prefixes, folders, "each folder once, across pages");

    let (objects, _, pages) = all_pages(
        &app,
        "/api/v1/buckets/big/objects?prefix=f7/clip-099&limit=1000",
    )
    .await;
    assert_eq!(pages, 1);
    let want: Vec<String> = (9900..10_000).map(|n| key(7, n)).collect();
    assert_eq!(objects, want);
}
