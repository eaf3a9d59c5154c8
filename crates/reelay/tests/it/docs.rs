//! The API description: `/openapi.json` is a valid OpenAPI 3.1 document (checked by
//! openapi-spec-validator from PyPI) that covers the API, and `/docs` renders from assets served
//! by reelay itself.

use crate::common;

use common::{TestServer, run_tool};

#[tokio::test]
async fn the_openapi_document_validates_and_covers_the_api() {
    let server = TestServer::start(|_| {}).await;
    let text = reqwest::get(server.url("/openapi.json"))
        .await
        .expect("get")
        .text()
        .await
        .expect("body");
    let doc: serde_json::Value = serde_json::from_str(&text).expect("json");
    assert!(doc["openapi"].as_str().expect("version").starts_with("3.1"));
    for path in [
        "/api/v1/buckets",
        "/api/v1/buckets/{bucket}",
        "/api/v1/buckets/{bucket}/objects",
        "/api/v1/buckets/{bucket}/objects/{key}",
        "/api/v1/tokens",
        "/api/v1/tokens/{id}",
        "/api/v1/sign",
        "/media/{bucket}/{key}",
        "/list_buckets",
        "/list_objects",
        "/create_bucket",
        "/files_upload",
    ] {
        assert!(doc["paths"].get(path).is_some(), "{path} is documented");
    }
    assert!(
        doc["paths"]["/api/v1/buckets/{bucket}/objects"]["post"].is_object(),
        "form upload"
    );
    assert_eq!(
        doc["paths"]["/files_upload"]["post"]["tags"][0],
        "compatibility"
    );
    assert_eq!(
        doc["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
    let file = server.path("openapi.json");
    std::fs::write(&file, &text).expect("write");
    let script = "import sys; from openapi_spec_validator import validate; \
                  from openapi_spec_validator.readers import read_from_filename; \
                  validate(read_from_filename(sys.argv[1])[0]); print('valid')";
    let (ok, out, err) = run_tool("python3", &["-c", script, file.to_str().expect("utf8")]);
    assert!(
        ok && out.contains("valid"),
        "openapi-spec-validator: {out}{err}"
    );
}

#[tokio::test]
async fn the_docs_page_renders_from_its_own_assets() {
    let server = TestServer::start(|_| {}).await;
    let html = reqwest::get(server.url("/docs/"))
        .await
        .expect("get")
        .text()
        .await
        .expect("html");
    let assets: Vec<&str> = html
        .split(['"', '\''])
        .filter(|s| s.starts_with("./") && (s.ends_with(".js") || s.ends_with(".css")))
        .collect();
    assert!(assets.len() >= 3, "{html}");
    for asset in assets {
        let resp = reqwest::get(server.url(&format!("/docs/{}", &asset[2..])))
            .await
            .expect("asset");
        assert_eq!(resp.status(), 200, "{asset}");
        assert!(!resp.bytes().await.expect("body").is_empty(), "{asset}");
    }
    let init = reqwest::get(server.url("/docs/swagger-initializer.js"))
        .await
        .expect("get")
        .text()
        .await
        .expect("js");
    assert!(init.contains("/openapi.json"), "{init}");
    assert!(
        init.contains("\"validatorUrl\": \"none\"") || init.contains("\"validatorUrl\":\"none\""),
        "{init}"
    );
    assert!(!html.contains("https://"), "no CDN in the page");
}
