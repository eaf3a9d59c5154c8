//! The OpenAPI 3.1 document, generated from the handlers' annotations (utoipa), served at
//! `/openapi.json` and browsable at `/docs` (Swagger UI, vendored into the binary). The
//! annotations name their paths by the constants in `routes`, the same the router mounts.

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::http::native::api::{self, ErrorBody, ErrorDetail};
use crate::http::wiring::openapi_errors::CommonErrors;
use crate::http::{
    common::routes, compat::livemix, compat::livemix_manage, compat::lyve, native::edge,
    native::live, native::media,
};

/// The document served at `/openapi.json`, for a node whose `[[s3]]` profiles are `profiles`.
pub fn document(profiles: &[String]) -> utoipa::openapi::OpenApi {
    let mut document = ApiDoc::openapi();
    crate::http::wiring::openapi_rules::place(&mut document, profiles);
    document
}

#[derive(Debug, OpenApi)]
#[openapi(
    info(
        title = "reelay",
        description = "Media streaming server: buckets, objects, tokens and signed playback URLs. \
                       Authenticate with `Authorization: Bearer rly_…`; roles read < write < admin.",
    ),
    paths(
        api::buckets::list_buckets,
        api::buckets::create_bucket,
        api::buckets::delete_bucket,
        api::objects::list_objects,
        api::objects::object_metadata,
        api::objects::put_object,
        api::objects::post_form,
        api::objects::delete_object,
        api::access::create_token,
        api::access::list_tokens,
        api::access::revoke_token,
        api::access::sign,
        api::sources::create_source,
        api::sources::list_sources,
        api::sources::get_source,
        api::sources::patch_source,
        api::sources::delete_source,
        api::sources::set_streaming,
        api::recordings::start_recording,
        api::recordings::stop_recording,
        api::recordings::list_recordings,
        api::recordings::get_recording,
        api::recordings::delete_recording,
        api::edges::create_edge,
        api::edges::list_edges,
        api::edges::get_edge,
        api::edges::set_edge_sources,
        api::edges::delete_edge,
        edge::register,
        edge::state,
        edge::put_segment,
        edge::put_init,
        edge::put_multivariant,
        edge::put_part,
        edge::delete_part,
        media::media_by_path,
        media::media_by_query,
        lyve::list_buckets,
        lyve::list_objects,
        lyve::create_bucket,
        lyve::files_upload,
        live::livemix_playlist,
        livemix::vod_live,
        livemix::vod_recording,
        livemix_manage::define_source,
        livemix_manage::list_sources,
        livemix_manage::get_source,
        livemix_manage::delete_source,
        livemix_manage::set_streaming,
        livemix_manage::start_recording,
        livemix_manage::source_recordings,
        livemix_manage::list_recordings,
        livemix_manage::get_recording,
        livemix_manage::stop_recording,
        livemix_manage::delete_recording,
    ),
    components(schemas(ErrorBody, ErrorDetail)),
    modifiers(&BearerAuth, &TailParams, &CommonErrors),
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
pub struct ApiDoc;

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
