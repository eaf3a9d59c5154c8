//! The API description: `/openapi.json` is a valid OpenAPI 3.1 document (checked by
//! openapi-spec-validator from PyPI) that documents every route the router mounts with exactly
//! the methods it takes, but for the routes `routes::UNDOCUMENTED` names with a reason. (That
//! `/docs` renders it is a browser test, `browser.rs`; here, that the page names only assets
//! reelay serves.)

use std::collections::{BTreeMap, BTreeSet};

use crate::common;

use axum::body::Body;
use common::app::{TestApp, request};
use common::{TestServer, run_tool};
use http::Method;
use reelay::auth::Role;
use reelay::http::common::routes::{self, UNDOCUMENTED};
use reelay::http::wiring::router::all_templates;

/// `template` with each `{name}` and `{*name}` segment filled in.
fn concrete(template: &str) -> String {
    template
        .split('/')
        .map(|s| if s.starts_with('{') { "x1" } else { s })
        .collect::<Vec<_>>()
        .join("/")
}

/// The methods the router takes at `template` (with an admin token, so that authorization
/// says nothing: a method it does not take is 405, a path it does not know is the fallback's
/// "no route"). HEAD and OPTIONS are left out (HEAD comes with GET; OPTIONS is CORS's).
async fn mounted(app: &TestApp, admin: &str, template: &str) -> BTreeSet<&'static str> {
    let mut taken = BTreeSet::new();
    let path = concrete(template);
    for method in [
        Method::GET,
        Method::POST,
        Method::PUT,
        Method::PATCH,
        Method::DELETE,
    ] {
        let req = request(method.clone(), &path)
            .header("authorization", format!("Bearer {admin}"))
            .body(Body::empty())
            .expect("request");
        let answer = app.send(req).await;
        let unknown =
            answer.status == 404 && String::from_utf8_lossy(&answer.body).contains("no route for");
        if answer.status != 405 && !unknown {
            taken.insert(match method {
                Method::GET => "get",
                Method::POST => "post",
                Method::PUT => "put",
                Method::PATCH => "patch",
                _ => "delete",
            });
        }
    }
    taken
}

#[tokio::test]
async fn every_route_the_router_mounts_is_documented_with_its_methods_or_named_undocumented() {
    let app = TestApp::start(|_| {}).await;
    let admin = app
        .state
        .auth
        .tokens
        .create("docs", Role::Admin)
        .await
        .expect("token")
        .1;
    let doc = app.call(Method::GET, routes::OPENAPI).await.json();
    let documented: BTreeMap<String, BTreeSet<&str>> = doc["paths"]
        .as_object()
        .expect("paths")
        .iter()
        .map(|(path, item)| {
            let methods = ["get", "post", "put", "patch", "delete"];
            let has = methods.into_iter().filter(|m| item.get(*m).is_some());
            (path.clone(), has.collect())
        })
        .collect();
    let mut problems = Vec::new();
    let all = all_templates();
    for template in &all {
        let taken = mounted(&app, &admin, template).await;
        let path = routes::openapi_path(template);
        if taken.is_empty() {
            problems.push(format!("{template} is declared but not mounted"));
        } else if UNDOCUMENTED.iter().any(|(t, _)| t == template) {
            if documented.contains_key(&path) {
                problems.push(format!(
                    "{template} is documented but listed as undocumented"
                ));
            }
        } else if documented.get(&path) != Some(&taken) {
            let has = documented.get(&path);
            problems.push(format!("{template} takes {taken:?}, documented {has:?}"));
        }
    }
    let templates: BTreeSet<String> = all.iter().map(|t| routes::openapi_path(t)).collect();
    for path in documented.keys().filter(|p| !templates.contains(*p)) {
        problems.push(format!("{path} is documented but not a route"));
    }
    assert!(problems.is_empty(), "{problems:#?}");
    // And the router mounts nothing beyond them: what is not declared on a handler is mounted
    // with one `.route(` per undocumented template but the four that Swagger UI mounts (the
    // document, its page and the page's assets).
    let router = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/http/wiring/router.rs"),
    )
    .expect("router.rs");
    assert_eq!(router.matches(".route(").count(), UNDOCUMENTED.len() - 4);
}

#[tokio::test]
async fn the_openapi_document_is_valid_openapi_3_1_with_bearer_auth_and_a_compatibility_tag() {
    let server = TestServer::start(|_| {}).await;
    let text = reqwest::get(server.url("/openapi.json"))
        .await
        .expect("get")
        .text()
        .await
        .expect("body");
    let doc: serde_json::Value = serde_json::from_str(&text).expect("json");
    assert!(doc["openapi"].as_str().expect("version").starts_with("3.1"));
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

/// What the page itself names (that it renders is `browser.rs`'s test; Swagger UI skips its
/// validator for a document on localhost, so only the configuration can show it is off).
#[tokio::test]
async fn the_docs_page_names_only_its_own_assets_and_no_validator() {
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
