//! The router: every route of the service, mounted from the templates in [`routes`], inside the
//! [`middleware::stack`]. Tests drive it in process with `oneshot`, or serve it on
//! `127.0.0.1:0` through [`crate::http::transport::server::serve`] when sockets are the point.

use axum::Router;
use axum::extract::State;
use axum::response::IntoResponse;
use axum::routing::{delete, get, post, put};
use http::Uri;
use http::header;
use utoipa_swagger_ui::{Config, SwaggerUi};

use crate::http::common::error::ApiError;
use crate::http::common::state::AppState;
use crate::http::{
    common::middleware, common::routes, compat::livemix, compat::livemix_manage, compat::lyve,
    native::api, native::edge, native::health, native::live, native::media, native::ui,
    wiring::openapi,
};

/// Builds the application router.
pub fn app(state: AppState) -> Router {
    // No validator badge: the docs page must not make the browser call anything off this node.
    let docs = SwaggerUi::new(routes::DOCS)
        .url(
            routes::OPENAPI,
            openapi::document(&state.buckets.profile_names()),
        )
        .config(Config::new([routes::OPENAPI]).validator_url("none"));
    let router = Router::new()
        .route(
            routes::MEDIA,
            get(media::media_by_path).head(media::media_by_path),
        )
        .route(
            routes::WATCH,
            get(media::media_by_query).head(media::media_by_query),
        )
        .route(
            routes::INGEST,
            put(live::ingest)
                .post(live::ingest)
                .delete(live::ingest_delete),
        )
        .route(routes::LIVE, get(live::view).head(live::view))
        .route(
            routes::LIVE_RENDITION,
            get(live::view_rendition).head(live::view_rendition),
        )
        .route(routes::LIVEMIX_PLAYLIST, post(live::livemix_playlist))
        .route(
            routes::LIVEMIX_VOD_LIVE,
            get(livemix::vod_live).head(livemix::vod_live),
        )
        .route(
            routes::LIVEMIX_VOD_RECORDING,
            get(livemix::vod_recording).head(livemix::vod_recording),
        )
        .route(routes::RECORDING_FILE, get(live::replay).head(live::replay))
        .route(
            routes::RECORDING_RENDITION,
            get(live::replay_rendition).head(live::replay_rendition),
        )
        .route(routes::LYVE_LIST_BUCKETS, get(lyve::list_buckets))
        .route(routes::LYVE_LIST_OBJECTS, get(lyve::list_objects))
        .route(routes::LYVE_CREATE_BUCKET, post(lyve::create_bucket))
        .route(routes::LYVE_FILES_UPLOAD, post(lyve::files_upload))
        .merge(livemix_routes())
        .merge(api_routes())
        .merge(edge_routes())
        .route(routes::HEALTHZ, get(health::healthz))
        .route(routes::READYZ, get(health::readyz))
        .route(routes::METRICS, get(metrics))
        .route(routes::UI_INDEX, get(ui::index))
        .route(routes::UI_FILE, get(ui::file))
        .merge(docs)
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed);
    middleware::stack(router, &state).with_state(state)
}

/// The management API.
fn api_routes() -> Router<AppState> {
    use api::{access, buckets, edges, objects, recordings, sources};
    Router::new()
        .route(
            routes::BUCKETS,
            get(buckets::list_buckets).post(buckets::create_bucket),
        )
        .route(routes::BUCKET, delete(buckets::delete_bucket))
        .route(
            routes::OBJECTS,
            get(objects::list_objects).post(objects::post_form),
        )
        .route(
            routes::OBJECT,
            get(objects::object_metadata)
                .put(objects::put_object)
                .delete(objects::delete_object),
        )
        .route(
            routes::TOKENS,
            get(access::list_tokens).post(access::create_token),
        )
        .route(routes::TOKEN, delete(access::revoke_token))
        .route(routes::SIGN, post(access::sign))
        .route(
            routes::SOURCES,
            get(sources::list_sources).post(sources::create_source),
        )
        .route(
            routes::SOURCE,
            get(sources::get_source)
                .patch(sources::patch_source)
                .delete(sources::delete_source),
        )
        .route(routes::SOURCE_STREAMING, put(sources::set_streaming))
        .route(routes::SOURCE_RECORDINGS, post(recordings::start_recording))
        .route(routes::RECORDINGS, get(recordings::list_recordings))
        .route(
            routes::RECORDING,
            get(recordings::get_recording).delete(recordings::delete_recording),
        )
        .route(routes::RECORDING_STOP, post(recordings::stop_recording))
        .route(
            routes::EDGES,
            get(edges::list_edges).post(edges::create_edge),
        )
        .route(
            routes::EDGE,
            get(edges::get_edge)
                .patch(edges::set_edge_sources)
                .delete(edges::delete_edge),
        )
}

/// LiveMix's management routes.
fn livemix_routes() -> Router<AppState> {
    use livemix_manage as lm;
    Router::new()
        .route(
            routes::LIVEMIX_SOURCES,
            get(lm::list_sources).post(lm::define_source),
        )
        .route(
            routes::LIVEMIX_SOURCE,
            get(lm::get_source).delete(lm::delete_source),
        )
        .route(routes::LIVEMIX_SOURCE_STREAMING, put(lm::set_streaming))
        .route(
            routes::LIVEMIX_SOURCE_RECORDINGS,
            get(lm::source_recordings).post(lm::start_recording),
        )
        .route(routes::LIVEMIX_RECORDINGS, get(lm::list_recordings))
        .route(
            routes::LIVEMIX_RECORDING,
            get(lm::get_recording).delete(lm::delete_recording),
        )
        .route(routes::LIVEMIX_RECORDING_STOP, post(lm::stop_recording))
}

/// The routes edge nodes call.
fn edge_routes() -> Router<AppState> {
    Router::new()
        .route(routes::EDGE_REGISTER, post(edge::register))
        .route(routes::EDGE_STATE, get(edge::state))
        .route(routes::EDGE_SEGMENT, put(edge::put_segment))
        .route(routes::EDGE_INIT, put(edge::put_init))
        .route(routes::EDGE_MULTIVARIANT, put(edge::put_multivariant))
        .route(
            routes::EDGE_PART,
            put(edge::put_part).delete(edge::delete_part),
        )
}

/// `GET /metrics`.
async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        state.metrics.render(),
    )
}

/// Any unknown route.
async fn not_found(uri: Uri) -> ApiError {
    ApiError::not_found(format!("no route for {}", uri.path()))
}

/// A known path with a method it does not take: a JSON error like every other (the router
/// still adds `Allow`).
async fn method_not_allowed(method: axum::http::Method, uri: Uri) -> ApiError {
    ApiError::method_not_allowed(format!("{} does not take {method}", uri.path()))
}
