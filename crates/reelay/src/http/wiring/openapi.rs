//! The OpenAPI 3.1 document, served at `/openapi.json` and browsable at `/docs` (Swagger UI,
//! vendored into the binary). Its operations come from the handlers' own declarations
//! (`#[utoipa::path]`: path, method, requirement, request and answers), which the router
//! mounts and documents in one step (`router::declared`); this module gives the document its
//! frame (title, tags, the bearer scheme) and finishes it: `{*tail}` paths written as OpenAPI
//! writes them, the errors every operation shares, and the rules every value obeys.

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::http::common::routes;
use crate::http::native::api::{ErrorBody, ErrorDetail};
use crate::http::wiring::openapi_errors::CommonErrors;

/// The document's frame, before any operation is added.
pub(crate) fn frame() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}

/// Finishes the document of the declared operations for a node whose `[[s3]]` profiles are
/// `profiles`.
pub(crate) fn finish(document: &mut utoipa::openapi::OpenApi, profiles: &[String]) {
    unruled(document);
    crate::http::wiring::openapi_rules::place(document, profiles);
}

/// Everything [`finish`] does but placing the rules.
pub(crate) fn unruled(document: &mut utoipa::openapi::OpenApi) {
    for step in [&BearerAuth as &dyn Modify, &TailParams, &CommonErrors] {
        step.modify(document);
    }
}

#[derive(Debug, OpenApi)]
#[openapi(
    info(
        title = "reelay",
        description = "Media streaming server: buckets, objects, tokens and signed playback URLs. \
                       Authenticate with `Authorization: Bearer rly_…`; roles read < write < admin, \
                       and each operation's security scope names the role it needs (`ingest` and \
                       `edge` operations take a source's or an edge's own token).",
    ),
    components(schemas(ErrorBody, ErrorDetail)),
    tags(
        (name = "buckets", description = "Buckets on local folders or S3-compatible stores"),
        (name = "objects", description = "Objects: list, metadata, streaming upload, delete"),
        (name = "access", description = "API tokens and signed playback URLs"),
        (name = "media", description = "Playback with RFC 9110 ranges and conditionals"),
        (name = "live", description = "Live HLS sources: ingest tokens, streaming, playlists"),
        (name = "edge protocol", description = "Called by edge nodes with their own token (rle_…)"),
        (name = "compatibility", description = "The routes of the systems reelay replaces, with their shapes and reelay's auth and errors"),
    )
)]
pub(crate) struct ApiDoc;

#[derive(Debug)]
struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// Route templates end in `{*tail}` for the router; OpenAPI writes `{tail}`.
#[derive(Debug)]
struct TailParams;

impl Modify for TailParams {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let paths = std::mem::take(&mut openapi.paths.paths);
        openapi.paths.paths = paths
            .into_iter()
            .map(|(path, item)| (routes::openapi_path(&path), item))
            .collect();
    }
}
