//! The router in process, without a socket: requests go through `app(state)` with
//! `tower::ServiceExt::oneshot`, every layer included (request ids, CORS, authorization, limits).
//! For tests whose question is routing, statuses, headers or bodies; sockets stay for timeouts,
//! slow clients, streaming to real players and real processes.

use std::path::{Path, PathBuf};

use axum::Router;
use axum::body::Body;
use http::{Method, Request, Response};
use http_body_util::BodyExt;
use reelay::http::{AppState, Services, app};
use tower::ServiceExt;

use super::{folder_buckets, test_services};

/// An application over the sub-folders of a temporary directory; nothing listens.
pub struct TestApp {
    pub state: AppState,
    pub router: Router,
    pub dir: tempfile::TempDir,
    /// Its metadata database, kept while the app lives.
    pub metadata: std::sync::Arc<super::metadata::TestDb>,
}

/// A response with its body read.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: http::HeaderMap,
    pub body: bytes::Bytes,
}

impl Answer {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("a JSON body")
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

impl TestApp {
    /// Serves each sub-folder of a fresh temp dir as a bucket; `setup` fills the dir first.
    pub async fn start(setup: impl FnOnce(&Path)) -> Self {
        Self::start_configured(setup, |_| {}).await
    }

    /// Like [`TestApp::start`], with the services adjusted by `configure` first.
    pub async fn start_configured(
        setup: impl FnOnce(&Path),
        configure: impl FnOnce(&mut Services),
    ) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let metadata = super::metadata::for_dir(dir.path());
        setup(dir.path());
        let buckets = folder_buckets(dir.path(), |_| {});
        let mut services = test_services(dir.path(), buckets, true).await;
        configure(&mut services);
        let state = AppState::new(services);
        let router = app(state.clone());
        Self {
            state,
            router,
            dir,
            metadata,
        }
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// Sends `req` through the whole router, naming `localhost` as its host unless it names
    /// one (as every HTTP/1.1 client does).
    pub async fn send(&self, mut req: Request<Body>) -> Answer {
        if !req.headers().contains_key(http::header::HOST) && req.uri().authority().is_none() {
            req.headers_mut().insert(
                http::header::HOST,
                http::HeaderValue::from_static("localhost"),
            );
        }
        let resp: Response<Body> = self
            .router
            .clone()
            .oneshot(req)
            .await
            .expect("the router is infallible");
        let (parts, body) = resp.into_parts();
        let body = body.collect().await.expect("body").to_bytes();
        Answer {
            status: parts.status.as_u16(),
            headers: parts.headers,
            body,
        }
    }

    /// `method path` with no body and no credential.
    pub async fn call(&self, method: Method, path: &str) -> Answer {
        self.send(request(method, path).body(Body::empty()).expect("request"))
            .await
    }
}

/// A request builder for `path` (which may carry a query).
pub fn request(method: Method, path: &str) -> http::request::Builder {
    Request::builder().method(method).uri(path)
}
