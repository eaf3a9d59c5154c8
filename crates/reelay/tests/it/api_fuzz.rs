//! The API fuzzed from its own OpenAPI document by schemathesis (PyPI, installed by
//! `scripts/install-test-deps`) against the real binary with a token in its config: no 5xx, every
//! status documented, every response of its documented type and schema, and every error the
//! JSON body `{"error":{"code","message"}}` with no backend text in it (the check in
//! `tests/api_fuzz/hooks.py`). The people's API runs with an admin token, the edge protocol
//! with an edge's own token. A fixed seed and a bounded number of examples keep the run
//! repeatable; `scripts/fuzz` runs it longer on fresh seeds.

use std::path::{Path, PathBuf};

use crate::common::{run_tool_with_env, start_binary, write_fixed};

/// The checks of every run: schemathesis's own, and ours.
const CHECKS: &str = "not_a_server_error,status_code_conformance,content_type_conformance,\
                      response_schema_conformance,api_errors_are_json_bodies";

/// Where `scripts/install-test-deps` puts schemathesis (its own virtual environment).
fn schemathesis() -> PathBuf {
    if let Ok(path) = std::env::var("REELAY_SCHEMATHESIS") {
        return path.into();
    }
    let cache = std::env::var("XDG_CACHE_HOME").map_or_else(
        |_| PathBuf::from(std::env::var("HOME").expect("HOME")).join(".cache"),
        PathBuf::from,
    );
    cache.join("reelay-test-tools/schemathesis-4.32.5/bin/schemathesis")
}

/// Runs schemathesis on `schema` against `base` with `authorization`, on the paths matching
/// `paths`; panics with its report when it finds anything.
async fn fuzz(schema: &Path, base: String, authorization: String, paths: &str) {
    let hooks = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/api_fuzz");
    let schema = schema.to_str().expect("utf8").to_owned();
    let paths = paths.to_owned();
    let (ok, out, err) = tokio::task::spawn_blocking(move || {
        let program = schemathesis();
        let program = program.to_str().expect("utf8");
        let header = format!("Authorization: {authorization}");
        let hooks_dir = hooks.to_str().expect("utf8");
        assert!(
            hooks.join("hooks.py").exists(),
            "tests/api_fuzz/hooks.py is missing"
        );
        let args = [
            "run",
            &schema,
            "--url",
            &base,
            "-H",
            &header,
            "--include-path-regex",
            &paths,
            "--checks",
            CHECKS,
            "--max-examples",
            "25",
            "--seed",
            "1",
            "--workers",
            "2",
            "--no-color",
            "--request-timeout",
            "10",
        ];
        let env = [("SCHEMATHESIS_HOOKS", "hooks"), ("PYTHONPATH", hooks_dir)];
        run_tool_with_env(program, &args, &env)
    })
    .await
    .expect("schemathesis thread");
    assert!(ok, "schemathesis found failures:\n{out}\n{err}");
}

/// An admin token given in the config file (made by `reelay token --role admin`): the fuzzer
/// may revoke every token it can list, but not this one, so it keeps its access all run.
const ADMIN: &str =
    "rly_18e2db3b6c2e_cfe303b7a7bc9571dded009f97f666347486338ae5eef067c77ca7025de3fcc2";
const CONFIG: &str = r#"
[[token]]
id = "18e2db3b6c2e"
name = "fuzz admin"
role = "admin"
sha256 = "373e7480753e61941d064bd510674ac0f8a5d34c729456fc7509c41ee56f80b3"
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_fuzzed_from_its_openapi_document_gives_no_5xx_and_json_errors_only() {
    let dir = tempfile::tempdir().expect("tempdir");
    write_fixed(&dir.path().join("media/a.mp4"), b"fuzzed media");
    std::fs::write(dir.path().join("reelay.toml"), CONFIG).expect("config");
    let args = [
        "serve",
        "media",
        "--listen",
        "127.0.0.1:0",
        "--data",
        "data",
    ];
    let node = start_binary(
        &[&args[..], &["--config", "reelay.toml"]].concat(),
        dir.path(),
        &[],
    );
    let client = reqwest::Client::new();
    let edge: serde_json::Value = client
        .post(node.url("/api/v1/edges"))
        .bearer_auth(ADMIN)
        .json(&serde_json::json!({"name": "fuzz-edge"}))
        .send()
        .await
        .expect("create edge")
        .json()
        .await
        .expect("edge");
    let edge_token = edge["token"].as_str().expect("edge token").to_owned();
    let schema = dir.path().join("openapi.json");
    let text = reqwest::get(node.url("/openapi.json"))
        .await
        .expect("schema")
        .text()
        .await
        .expect("text");
    std::fs::write(&schema, text).expect("write schema");
    let base = node.url("");
    let people = "^/(api/v1/(buckets|edges|recordings|sign|sources|tokens)|media/)";
    fuzz(&schema, base.clone(), format!("Bearer {ADMIN}"), people).await;
    fuzz(
        &schema,
        base,
        format!("Bearer {edge_token}"),
        "^/api/v1/edge/",
    )
    .await;
}
