//! The API fuzzed from its own OpenAPI document by schemathesis (PyPI, installed by
//! `scripts/install-test-deps`) against the real binary with a token in its config. Every
//! documented path for people — the management API, playback, the compatibility routes of the
//! Lyve middleware and LiveMix — runs with an admin token and every check schemathesis has
//! (`--checks all`): no 5xx, every status documented, every response of its documented type and
//! schema, every request the schema calls valid accepted and every one it calls invalid refused
//! (the document states each rule the handlers enforce), and every error the JSON body
//! `{"error":{"code","message"}}` with no backend text in it (the check in
//! `tests/api_fuzz/hooks.py`); `tests/api_fuzz/schemathesis.toml` names the rules that depend on
//! the server's state or the clock. The edge protocol, which nodes speak to each other, runs the
//! same checks with an edge's own token: its file names and headers are stated in the document
//! from the same rules the protocol reads them by (`rules.rs`). A fixed seed and a bounded
//! number of examples keep the run repeatable.

use std::path::{Path, PathBuf};

use crate::common::{MEDIA_DIR_ARGS, make_token, run_tool_in, start_binary, write_fixed};

/// What people's paths are not checked for: schemathesis's stateful phase reads any 404 after a
/// creation as the created resource gone, and a 404 from naming an edge's sources
/// (`PATCH /api/v1/edges/{edge}`, `POST /api/v1/edges`) says which source of the body does not
/// exist, the edge being there. The stateful phase asks the run's checks, not an operation's,
/// so this cannot be said in `schemathesis.toml` for those operations alone.
const NOT_CHECKED: &str = "ensure_resource_availability";

/// Where `scripts/install-test-deps` puts schemathesis (its own virtual environment).
fn schemathesis() -> PathBuf {
    let cache = std::env::var("XDG_CACHE_HOME").map_or_else(
        |_| PathBuf::from(std::env::var("HOME").expect("HOME")).join(".cache"),
        PathBuf::from,
    );
    cache.join("reelay-test-tools/schemathesis-4.32.5/bin/schemathesis")
}

/// Runs schemathesis on `dir/openapi.json` against `base` with `authorization`, on the paths
/// matching `paths` with every check but [`NOT_CHECKED`], in `dir` (where it leaves its cache);
/// panics with its report when it finds anything.
fn fuzz(dir: &Path, base: &str, authorization: &str, paths: &str) {
    let hooks = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/api_fuzz");
    assert!(
        hooks.join("hooks.py").exists(),
        "tests/api_fuzz/hooks.py is missing"
    );
    let header = format!("Authorization: {authorization}");
    let config = hooks.join("schemathesis.toml");
    let args = vec![
        "--config-file",
        config.to_str().expect("utf8"),
        "run",
        "openapi.json",
        "--url",
        base,
        "-H",
        &header,
        "--include-path-regex",
        paths,
        "--checks",
        "all",
        "--exclude-checks",
        NOT_CHECKED,
        "--max-examples",
        "25",
        "--seed",
        "1",
        // One worker: with two, CPython 3.11's `ast.parse` on two threads at once (Hypothesis
        // describing its lambdas) now and then fails inside the interpreter ("AST constructor
        // recursion depth mismatch", CPython gh-106905, fixed in 3.11.8).
        "--workers",
        "1",
        "--no-color",
        "--request-timeout",
        "10",
    ];
    let env = [
        ("SCHEMATHESIS_HOOKS", "hooks"),
        ("PYTHONPATH", hooks.to_str().expect("utf8")),
    ];
    let program = schemathesis();
    let (ok, out, err) = run_tool_in(program.to_str().expect("utf8"), &args, &env, dir);
    assert!(ok, "schemathesis found failures:\n{out}\n{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_fuzzed_from_its_openapi_document_takes_what_it_calls_valid_refuses_the_rest_and_answers_json_errors()
 {
    let dir = tempfile::tempdir().expect("tempdir");
    write_fixed(&dir.path().join("media/a.mp4"), b"fuzzed media");
    // A config token: the fuzzer may revoke every token it can list, but not this one.
    let (admin, entry) = make_token("admin");
    std::fs::write(dir.path().join("reelay.toml"), entry).expect("config");
    let args = [&MEDIA_DIR_ARGS[..], &["--config", "reelay.toml"]].concat();
    let node = start_binary(&args, dir.path(), &[]);
    let client = reqwest::Client::new();
    let edge: serde_json::Value = client
        .post(node.url("/api/v1/edges"))
        .bearer_auth(&admin)
        .json(&serde_json::json!({"name": "fuzz-edge"}))
        .send()
        .await
        .expect("create edge")
        .json()
        .await
        .expect("edge");
    let edge_token = edge["token"].as_str().expect("edge token").to_owned();
    let schema = client
        .get(node.url("/openapi.json"))
        .send()
        .await
        .expect("schema");
    let text = schema.text().await.expect("text");
    std::fs::write(dir.path().join("openapi.json"), text).expect("write schema");
    let base = node.url("");
    // Every documented path (the document holds every route but those `routes::UNDOCUMENTED`
    // names: `docs.rs`), the edge protocol's with an edge's token.
    let people = "^/(?!api/v1/edge/)";
    tokio::task::block_in_place(|| {
        fuzz(dir.path(), &base, &format!("Bearer {admin}"), people);
        fuzz(
            dir.path(),
            &base,
            &format!("Bearer {edge_token}"),
            "^/api/v1/edge/",
        );
    });
}
