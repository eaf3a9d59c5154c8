//! Every route template of the service, defined once, and what each requires. A documented
//! route's handler names its template in its declaration (`#[utoipa::path]`, with its method
//! and, as the security scope, its requirement), from which the router mounts it, documents it
//! and reads its requirement (`wiring/router.rs`); [`requirement`] answers the authorization
//! middleware from those declarations, and says itself what the routes the document leaves out
//! ([`UNDOCUMENTED`]) require.
//!
//! A route nothing declares needs `Admin`: forgetting one fails closed.

use std::collections::HashMap;
use std::sync::OnceLock;

use http::Method;

use crate::auth::Need;

pub(crate) const MEDIA: &str = "/media/{bucket}/{*key}";
/// What every path under [`MEDIA`] starts with.
pub(crate) const MEDIA_PREFIX: &str = "/media/";
pub(crate) const WATCH: &str = "/watch";
/// The Lyve Cloud video middleware's routes (`http/compat/lyve.rs`).
pub(crate) const LYVE_LIST_BUCKETS: &str = "/list_buckets";
pub(crate) const LYVE_LIST_OBJECTS: &str = "/list_objects";
pub(crate) const LYVE_CREATE_BUCKET: &str = "/create_bucket";
pub(crate) const LYVE_FILES_UPLOAD: &str = "/files_upload";
pub(crate) const INGEST: &str = "/ingest/{source}/{file}";
pub(crate) const LIVE: &str = "/live/{source}/{file}";
/// One rendition's playlist and segments, beside a multivariant `LIVE` playlist.
pub(crate) const LIVE_RENDITION: &str = "/live/{source}/{rendition}/{file}";
/// What every path under [`LIVE`] and [`LIVE_RENDITION`] starts with.
pub(crate) const LIVE_PREFIX: &str = "/live/";
pub(crate) const LIVEMIX_PLAYLIST: &str = "/v1/playlist";
/// LiveMix's viewer URLs (`http/compat/livemix.rs`).
pub(crate) const LIVEMIX_VOD_LIVE: &str = "/v1/vod/live/{source}/{file}";
pub(crate) const LIVEMIX_VOD_RECORDING: &str = "/v1/vod/recording/{id}/{file}";
/// LiveMix's management routes (`http/compat/livemix_manage.rs`), all listed in [`LIVEMIX_MANAGEMENT`].
pub(crate) const LIVEMIX_SOURCES: &str = "/v1/source";
pub(crate) const LIVEMIX_SOURCE: &str = "/v1/source/{id}";
pub(crate) const LIVEMIX_SOURCE_STREAMING: &str = "/v1/source/{id}/streaming";
pub(crate) const LIVEMIX_SOURCE_RECORDINGS: &str = "/v1/source/{id}/recording";
pub(crate) const LIVEMIX_RECORDINGS: &str = "/v1/recording";
pub(crate) const LIVEMIX_RECORDING: &str = "/v1/recording/{id}";
pub(crate) const LIVEMIX_RECORDING_STOP: &str = "/v1/recording/{id}/stop";
pub(crate) const LIVEMIX_MANAGEMENT: [&str; 7] = [
    LIVEMIX_SOURCES,
    LIVEMIX_SOURCE,
    LIVEMIX_SOURCE_STREAMING,
    LIVEMIX_SOURCE_RECORDINGS,
    LIVEMIX_RECORDINGS,
    LIVEMIX_RECORDING,
    LIVEMIX_RECORDING_STOP,
];
pub(crate) const RECORDING_FILE: &str = "/recordings/{id}/{file}";
pub(crate) const RECORDING_RENDITION: &str = "/recordings/{id}/{rendition}/{file}";

pub(crate) const HEALTHZ: &str = "/healthz";
pub(crate) const READYZ: &str = "/readyz";
pub(crate) const METRICS: &str = "/metrics";
pub(crate) const UI_INDEX: &str = "/";
pub(crate) const UI_FILE: &str = "/ui/{*file}";
pub const OPENAPI: &str = "/openapi.json";
pub(crate) const DOCS: &str = "/docs";

pub(crate) const BUCKETS: &str = "/api/v1/buckets";
pub(crate) const BUCKET: &str = "/api/v1/buckets/{bucket}";
pub(crate) const OBJECTS: &str = "/api/v1/buckets/{bucket}/objects";
pub(crate) const OBJECT: &str = "/api/v1/buckets/{bucket}/objects/{*key}";
pub(crate) const TOKENS: &str = "/api/v1/tokens";
pub(crate) const TOKEN: &str = "/api/v1/tokens/{id}";
pub(crate) const SIGN: &str = "/api/v1/sign";
pub(crate) const SOURCES: &str = "/api/v1/sources";
pub(crate) const SOURCE: &str = "/api/v1/sources/{source}";
pub(crate) const SOURCE_STREAMING: &str = "/api/v1/sources/{source}/streaming";
pub(crate) const SOURCE_RECORDINGS: &str = "/api/v1/sources/{source}/recordings";
pub(crate) const RECORDINGS: &str = "/api/v1/recordings";
pub(crate) const RECORDING: &str = "/api/v1/recordings/{id}";
pub(crate) const RECORDING_STOP: &str = "/api/v1/recordings/{id}/stop";
pub(crate) const EDGES: &str = "/api/v1/edges";
pub(crate) const EDGE: &str = "/api/v1/edges/{edge}";

pub(crate) const EDGE_REGISTER: &str = "/api/v1/edge/register";
pub(crate) const EDGE_STATE: &str = "/api/v1/edge/state";
pub(crate) const EDGE_SEGMENT: &str = "/api/v1/edge/sources/{source}/segments/{file}";
pub(crate) const EDGE_INIT: &str = "/api/v1/edge/sources/{source}/init/{file}";
pub(crate) const EDGE_MULTIVARIANT: &str = "/api/v1/edge/sources/{source}/multivariant";
pub(crate) const EDGE_PART: &str = "/api/v1/edge/sources/{source}/parts/{file}";

/// The routes the OpenAPI document leaves out, and why: every other route is declared on its
/// handler and documented with exactly the methods it takes (`wiring/router.rs`; the tests hold
/// the router and the document to that).
pub const UNDOCUMENTED: [(&str, &str); 14] = [
    (
        INGEST,
        "HLS pushed by encoders (ffmpeg's HLS and DASH muxers), not an API",
    ),
    (LIVE, "HLS playlists and segments, read by players"),
    (
        LIVE_RENDITION,
        "HLS playlists and segments, read by players",
    ),
    (
        RECORDING_FILE,
        "HLS playlists and segments, read by players",
    ),
    (
        RECORDING_RENDITION,
        "HLS playlists and segments, read by players",
    ),
    (HEALTHZ, "a probe for orchestrators"),
    (READYZ, "a probe for orchestrators"),
    (METRICS, "Prometheus text, for scrapers"),
    (UI_INDEX, "the web UI"),
    (UI_FILE, "the web UI"),
    (OPENAPI, "the document itself"),
    (DOCS, "the document's browser"),
    ("/docs/", "the document's browser"),
    ("/docs/{*rest}", "the document's browser"),
];

/// What the router reports for a request that matched no route.
pub(crate) const UNMATCHED: &str = "unmatched";

/// Path prefixes a signed URL may cover.
pub(crate) const SIGNABLE_PREFIXES: [&str; 5] = [
    MEDIA_PREFIX,
    LIVE_PREFIX,
    "/recordings/",
    "/v1/vod/live/",
    "/v1/vod/recording/",
];

/// Whether signed URLs apply to `route` (playback of media, live and recorded streams).
pub(crate) fn signable(route: &str) -> bool {
    [
        MEDIA,
        LIVE,
        LIVE_RENDITION,
        RECORDING_FILE,
        RECORDING_RENDITION,
        LIVEMIX_VOD_LIVE,
        LIVEMIX_VOD_RECORDING,
    ]
    .contains(&route)
}

/// Whether `route`'s answers carry the request id in their body (LiveMix's envelope), so the
/// request must carry it too.
pub(crate) fn echoes_request_id(route: &str) -> bool {
    LIVEMIX_MANAGEMENT.contains(&route)
}

/// What one declared route requires of each method it takes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Needs {
    pub get: Option<Need>,
    pub(crate) put: Option<Need>,
    pub(crate) post: Option<Need>,
    pub(crate) delete: Option<Need>,
    pub(crate) patch: Option<Need>,
}

impl Needs {
    /// The slot of `method` (HEAD is GET's), if the declarations have one.
    pub(crate) fn slot(&mut self, method: &Method) -> Option<&mut Option<Need>> {
        Some(match *method {
            Method::GET | Method::HEAD => &mut self.get,
            Method::PUT => &mut self.put,
            Method::POST => &mut self.post,
            Method::DELETE => &mut self.delete,
            Method::PATCH => &mut self.patch,
            _ => return None,
        })
    }

    fn of(mut self, method: &Method) -> Option<Need> {
        self.slot(method).and_then(|need| *need)
    }

    /// For a method the route does not take: what its handlers check themselves (ingest, the
    /// edge protocol), else `Admin`.
    fn otherwise(self) -> Need {
        let all = [self.get, self.put, self.post, self.delete, self.patch];
        let mut taken = all.into_iter().flatten();
        match taken.next() {
            Some(first @ (Need::Ingest | Need::Edge)) if taken.all(|n| n == first) => first,
            _ => Need::Admin,
        }
    }
}

/// What each declared route requires, by template, as its declaration says (installed once by
/// the router, `wiring/router.rs`: the same code gives the same table).
static DECLARED: OnceLock<HashMap<String, Needs>> = OnceLock::new();

/// Installs what each declared route requires (the first table stands; every later one is the
/// same, read from the same declarations).
pub(crate) fn declare(table: HashMap<String, Needs>) {
    let _ = DECLARED.set(table);
}

/// The requirement of `method` on the matched `route` (a template the router mounts): what the
/// route's declaration says, and for the routes the document leaves out, what this function
/// says. A method a declared route does not take needs `Admin` (the router answers 405), but on
/// routes whose handlers authenticate (ingest, the edge protocol), which keep their own need;
/// a route nothing declares needs `Admin`: forgetting one fails closed. Asked for every
/// request: no allocation.
pub(crate) fn requirement(method: &Method, route: &str) -> Need {
    let read = method == Method::GET || method == Method::HEAD;
    if method == Method::OPTIONS {
        // CORS preflights are answered before this layer; any other OPTIONS gets a 405.
        return Need::Public;
    }
    match route {
        HEALTHZ | READYZ | METRICS | UI_INDEX | UI_FILE | OPENAPI => return Need::Public,
        r if r == DOCS || r.starts_with("/docs/") => return Need::Public,
        // Unknown paths: nothing to protect, the answer is 404.
        UNMATCHED => return Need::Public,
        INGEST => return Need::Ingest,
        LIVE | LIVE_RENDITION | RECORDING_FILE | RECORDING_RENDITION if read => return Need::Read,
        _ => {}
    }
    match DECLARED.get().and_then(|table| table.get(route)) {
        Some(needs) => needs.of(method).unwrap_or_else(|| needs.otherwise()),
        None => Need::Admin,
    }
}

/// `{*tail}` written as OpenAPI writes it, `{tail}`.
pub fn openapi_path(template: &str) -> String {
    template.replace("{*", "{")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn openapi_paths_name_tails_without_the_star() {
        assert_eq!(
            openapi_path(OBJECT),
            "/api/v1/buckets/{bucket}/objects/{key}"
        );
        assert_eq!(openapi_path(SOURCE), SOURCE);
    }
}
