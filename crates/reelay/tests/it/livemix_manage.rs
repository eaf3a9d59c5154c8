//! LiveMix's management API replayed as its dashboards call it (request shapes from LiveMix's
//! `api/manager.go`): sources and recordings under `/v1/source…` and `/v1/recording…`, answered in
//! LiveMix's envelope, with 404 and 400 where LiveMix answered 500.

use crate::common;

use serde_json::{Value, json};

use common::TestServer;

/// One call: (status, envelope, the response's `x-request-id`).
async fn call(
    server: &TestServer,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> (u16, Value, String) {
    let mut req = reqwest::Client::new().request(method, server.url(path));
    if let Some(body) = body {
        req = req.json(&body);
    }
    let resp = req.send().await.expect("request");
    let status = resp.status().as_u16();
    let id = resp.headers()["x-request-id"]
        .to_str()
        .expect("id")
        .to_owned();
    let body: Value = resp.json().await.expect("a JSON envelope");
    (status, body, id)
}

/// Asserts a LiveMix success envelope carrying this request's id.
fn ok(answer: &(u16, Value, String)) -> &Value {
    let (status, body, id) = answer;
    assert_eq!(*status, 200, "{body}");
    assert_eq!(body["success"], true, "{body}");
    assert_eq!(body["request_id"].as_str(), Some(id.as_str()), "{body}");
    body
}

/// Asserts a LiveMix error envelope with `status`.
fn failed(answer: &(u16, Value, String), status: u16) {
    let (got, body, id) = answer;
    assert_eq!(*got, status, "{body}");
    assert_eq!(body["success"], false, "{body}");
    assert_eq!(body["request_id"].as_str(), Some(id.as_str()), "{body}");
    assert_eq!(body["error"]["code"], status, "{body}");
    assert!(body["error"]["message"].is_string(), "{body}");
}

#[tokio::test]
async fn livemix_source_calls_answer_in_its_envelope_with_404_and_400_not_500() {
    use reqwest::Method as M;
    let server = TestServer::start(|_| {}).await;
    let new = json!({"name": "camera-0", "segment_len": 2, "description": "front door"});
    let created = call(&server, M::POST, "/v1/source", Some(new.clone())).await;
    let source = ok(&created)["source"].clone();
    assert_eq!(source["name"], "camera-0");
    assert_eq!(source["segment_length"], 2);
    assert_eq!(source["description"], "front door");
    // reelay's sources stream from the start (LiveMix's began off and waited for a PUT).
    assert_eq!(source["streaming"], 1);
    assert!(source["ingest_token"].is_string(), "shown once: {source}");
    let id = source["id"].as_str().expect("id").to_owned();
    failed(&call(&server, M::POST, "/v1/source", Some(new)).await, 409);
    for bad in [
        json!({"name": "x", "segment_len": 0}),
        json!({"name": "x"}),
        json!({"segment_len": 2}),
        json!({"name": "x", "segment_len": "2"}),
        json!({"name": "../x", "segment_len": 2}),
    ] {
        let answer = call(&server, M::POST, "/v1/source", Some(bad.clone())).await;
        failed(&answer, 400);
    }
    let listed = call(&server, M::GET, "/v1/source", None).await;
    let sources = ok(&listed)["sources"].as_array().expect("list").clone();
    assert_eq!(sources.len(), 1);
    assert!(sources[0].get("ingest_token").is_none(), "never listed");
    for key in [id.as_str(), "camera-0"] {
        let got = call(&server, M::GET, &format!("/v1/source/{key}"), None).await;
        assert_eq!(ok(&got)["source"]["id"], id.as_str());
    }
    failed(&call(&server, M::GET, "/v1/source/nosuch", None).await, 404);
    let streaming = |q: &str| format!("/v1/source/{id}/streaming{q}");
    ok(&call(&server, M::PUT, &streaming("?new_state=false"), None).await);
    let got = call(&server, M::GET, &format!("/v1/source/{id}"), None).await;
    assert_eq!(ok(&got)["source"]["streaming"], -1);
    ok(&call(&server, M::PUT, &streaming("?new_state=true"), None).await);
    let got = call(&server, M::GET, &format!("/v1/source/{id}"), None).await;
    assert_eq!(ok(&got)["source"]["streaming"], 1);
    for bad in ["?new_state=yes", "?new_state=", ""] {
        failed(&call(&server, M::PUT, &streaming(bad), None).await, 400);
    }
    let nosuch = "/v1/source/nosuch/streaming?new_state=true";
    failed(&call(&server, M::PUT, nosuch, None).await, 404);
    let deleted = call(&server, M::DELETE, &format!("/v1/source/{id}"), None).await;
    assert_eq!(
        ok(&deleted).as_object().expect("object").len(),
        2,
        "base only"
    );
    failed(
        &call(&server, M::GET, &format!("/v1/source/{id}"), None).await,
        404,
    );
    failed(
        &call(&server, M::DELETE, &format!("/v1/source/{id}"), None).await,
        404,
    );
}

#[tokio::test]
async fn livemix_recording_calls_start_from_the_past_stop_list_and_delete() {
    use reqwest::Method as M;
    let server = TestServer::start(|_| {}).await;
    let new = json!({"name": "cam", "segment_len": 2});
    ok(&call(&server, M::POST, "/v1/source", Some(new)).await);
    let base = server.url("");
    common::live::push_synthetic(&base, "cam", 0, &["a0.ts", "a1.ts"]).await;
    let past = common::now_secs() - 60;
    let body = json!({"alias": "door", "description": "ring", "start_time_epoch": past});
    let first = call(&server, M::POST, "/v1/source/cam/recording", Some(body)).await;
    let rec = ok(&first)["recording"].clone();
    assert_eq!(
        (rec["alias"].clone(), rec["active"].clone()),
        ("door".into(), 1.into())
    );
    assert!(rec["end_ts"].is_null(), "{rec}");
    let rec_id = rec["id"].as_str().expect("id").to_owned();
    // LiveMix's body is optional: none starts now.
    let second = call(&server, M::POST, "/v1/source/cam/recording", None).await;
    let second_id = ok(&second)["recording"]["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let future = json!({"start_time_epoch": common::now_secs() + 3600});
    let answer = call(&server, M::POST, "/v1/source/cam/recording", Some(future)).await;
    failed(&answer, 400);
    let bad = call(
        &server,
        M::POST,
        "/v1/source/cam/recording",
        Some(json!({"x": 1})),
    )
    .await;
    failed(&bad, 400);
    failed(
        &call(&server, M::POST, "/v1/source/nosuch/recording", None).await,
        404,
    );
    let active = || {
        call(
            &server,
            M::GET,
            "/v1/source/cam/recording?only_active=true",
            None,
        )
    };
    assert_eq!(
        ok(&active().await)["recordings"].as_array().map(Vec::len),
        Some(2)
    );
    let stop = format!("/v1/recording/{rec_id}/stop");
    ok(&call(&server, M::POST, &stop, None).await);
    ok(&call(&server, M::POST, &format!("{stop}?force=true"), None).await);
    assert_eq!(
        ok(&active().await)["recordings"][0]["id"],
        second_id.as_str()
    );
    let all = call(&server, M::GET, "/v1/recording", None).await;
    assert_eq!(ok(&all)["recordings"].as_array().map(Vec::len), Some(2));
    let of_source = call(&server, M::GET, "/v1/source/cam/recording", None).await;
    assert_eq!(
        ok(&of_source)["recordings"].as_array().map(Vec::len),
        Some(2)
    );
    let got = call(&server, M::GET, &format!("/v1/recording/{rec_id}"), None).await;
    let stopped = ok(&got)["recording"].clone();
    assert_eq!(stopped["active"], -1);
    assert!(stopped["end_ts"].is_string(), "{stopped}");
    let playlist_url = stopped["playlist_url"].as_str().expect("url");
    let replay = reqwest::get(server.url(playlist_url))
        .await
        .expect("replay");
    assert_eq!(replay.status(), 200);
    let text = replay.text().await.expect("text");
    assert!(text.contains("#EXT-X-ENDLIST"), "the past was kept: {text}");
    assert_eq!(common::relay::segment_files(&text).len(), 2, "{text}");
    ok(&call(&server, M::DELETE, &format!("/v1/recording/{rec_id}"), None).await);
    failed(
        &call(&server, M::GET, &format!("/v1/recording/{rec_id}"), None).await,
        404,
    );
    failed(&call(&server, M::POST, &stop, None).await, 404);
    failed(
        &call(&server, M::DELETE, &format!("/v1/recording/{rec_id}"), None).await,
        404,
    );
    // The client's own request id is the envelope's.
    let resp = reqwest::Client::new()
        .get(server.url("/v1/recording/rec_nosuch"))
        .header("x-request-id", "dash-42")
        .send()
        .await
        .expect("get");
    assert_eq!(resp.status(), 404);
    let body: Value = resp.json().await.expect("json");
    assert_eq!(body["request_id"], "dash-42");
    assert_eq!(body["error"]["detail"], "not_found");
}
