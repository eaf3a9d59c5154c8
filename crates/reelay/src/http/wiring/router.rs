//! The router: every route of the service inside the [`middleware::stack`]. A documented route
//! is declared once, on its handler (`#[utoipa::path]`: path, method, the requirement as its
//! security scope, the OpenAPI entry), and [`declared`] mounts and documents it in one step
//! (`utoipa_axum::routes!`, one call per path); what each route requires is read from those
//! declarations ([`requirements`]) and installed for the request pipeline
//! (`routes::declare`). The routes the document leaves out are mounted in [`undocumented`],
//! each named with its reason in `routes::UNDOCUMENTED`. Tests drive the router in process with
//! `oneshot`, or serve it on `127.0.0.1:0` through `http/transport/server.rs` when sockets are
//! the point.

use std::collections::HashMap;

use axum::Router;
use axum::extract::State;
use axum::response::IntoResponse;
use axum::routing::{get, put};
use http::header;
use http::{Method, Uri};
use utoipa::openapi::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use utoipa_swagger_ui::{Config, SwaggerUi};

use crate::auth::Need;
use crate::http::common::error::ApiError;
use crate::http::common::routes::Needs;
use crate::http::common::state::AppState;
use crate::http::common::{middleware, routes as templates};
use crate::http::compat::{livemix, livemix_manage, lyve};
use crate::http::native::{api, edge, health, live, media, ui};
use crate::http::wiring::openapi;

/// Builds the application router.
pub fn app(state: AppState) -> Router {
    let (documented, mut document) = declared();
    templates::declare(requirements(&document));
    openapi::finish(&mut document, &state.buckets.profile_names());
    // No validator badge: the docs page must not make the browser call anything off this node.
    let docs = SwaggerUi::new(templates::DOCS)
        .url(templates::OPENAPI, document)
        .config(Config::new([templates::OPENAPI]).validator_url("none"));
    let router = undocumented(documented)
        .merge(docs)
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed);
    middleware::stack(router, &state).with_state(state)
}

/// Every documented route, mounted and documented from its handler's declaration: one
/// `routes!` per path, naming every handler of that path.
pub(crate) fn declared() -> (Router<AppState>, OpenApi) {
    use api::{access, buckets, edges, objects, recordings, sources};
    use livemix_manage as lm;
    OpenApiRouter::with_openapi(openapi::frame())
        .routes(routes!(media::media_by_path))
        .routes(routes!(media::media_by_query))
        .routes(routes!(live::livemix_playlist))
        .routes(routes!(livemix::vod_live))
        .routes(routes!(livemix::vod_recording))
        .routes(routes!(lyve::list_buckets))
        .routes(routes!(lyve::list_objects))
        .routes(routes!(lyve::create_bucket))
        .routes(routes!(lyve::files_upload))
        .routes(routes!(lm::define_source, lm::list_sources))
        .routes(routes!(lm::get_source, lm::delete_source))
        .routes(routes!(lm::set_streaming))
        .routes(routes!(lm::start_recording, lm::source_recordings))
        .routes(routes!(lm::list_recordings))
        .routes(routes!(lm::get_recording, lm::delete_recording))
        .routes(routes!(lm::stop_recording))
        .routes(routes!(buckets::list_buckets, buckets::create_bucket))
        .routes(routes!(buckets::delete_bucket))
        .routes(routes!(objects::list_objects, objects::post_form))
        .routes(routes!(
            objects::object_metadata,
            objects::put_object,
            objects::delete_object
        ))
        .routes(routes!(access::list_tokens, access::create_token))
        .routes(routes!(access::revoke_token))
        .routes(routes!(access::sign))
        .routes(routes!(sources::list_sources, sources::create_source))
        .routes(routes!(
            sources::get_source,
            sources::patch_source,
            sources::delete_source
        ))
        .routes(routes!(sources::set_streaming))
        .routes(routes!(recordings::start_recording))
        .routes(routes!(recordings::list_recordings))
        .routes(routes!(
            recordings::get_recording,
            recordings::delete_recording
        ))
        .routes(routes!(recordings::stop_recording))
        .routes(routes!(edges::list_edges, edges::create_edge))
        .routes(routes!(
            edges::get_edge,
            edges::set_edge_sources,
            edges::delete_edge
        ))
        .routes(routes!(edge::register))
        .routes(routes!(edge::state))
        .routes(routes!(edge::put_segment))
        .routes(routes!(edge::put_init))
        .routes(routes!(edge::put_multivariant))
        .routes(routes!(edge::put_part, edge::delete_part))
        .split_for_parts()
}

/// The routes the document leaves out (`routes::UNDOCUMENTED` says why of each; Swagger UI
/// mounts the document's own four).
fn undocumented(router: Router<AppState>) -> Router<AppState> {
    router
        .route(
            templates::INGEST,
            put(live::ingest)
                .post(live::ingest)
                .delete(live::ingest_delete),
        )
        .route(templates::LIVE, get(live::view).head(live::view))
        .route(
            templates::LIVE_RENDITION,
            get(live::view_rendition).head(live::view_rendition),
        )
        .route(
            templates::RECORDING_FILE,
            get(live::replay).head(live::replay),
        )
        .route(
            templates::RECORDING_RENDITION,
            get(live::replay_rendition).head(live::replay_rendition),
        )
        .route(templates::HEALTHZ, get(health::healthz))
        .route(templates::READYZ, get(health::readyz))
        .route(templates::METRICS, get(metrics))
        .route(templates::UI_INDEX, get(ui::index))
        .route(templates::UI_FILE, get(ui::file))
}

/// What each declared operation requires, by route template and method: the security scope of
/// its declaration (`Need::SCOPES`). An operation declared without one requires `Admin`.
pub(crate) fn requirements(document: &OpenApi) -> HashMap<String, Needs> {
    let mut table: HashMap<String, Needs> = HashMap::new();
    for (path, item) in &document.paths.paths {
        let operations = [
            (Method::GET, &item.get),
            (Method::PUT, &item.put),
            (Method::POST, &item.post),
            (Method::DELETE, &item.delete),
            (Method::PATCH, &item.patch),
        ];
        let needs = table.entry(path.clone()).or_default();
        for (method, operation) in operations {
            let Some(operation) = operation else {
                continue;
            };
            let security = serde_json::to_value(&operation.security).unwrap_or_default();
            let scope = security
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|alternative| alternative.get("bearer")?.as_array()?.first()?.as_str())
                .find_map(Need::from_scope);
            if let Some(slot) = needs.slot(&method) {
                *slot = Some(scope.unwrap_or(Need::Admin));
            }
        }
    }
    table
}

/// Every template the router mounts: the declared ones and the undocumented.
pub fn all_templates() -> Vec<String> {
    let (_, document) = declared();
    let declared = document.paths.paths.into_keys();
    let left_out = templates::UNDOCUMENTED.iter().map(|(t, _)| (*t).to_owned());
    declared.chain(left_out).collect()
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_documented_operation_declares_its_requirement() {
        let (_, document) = declared();
        for (path, item) in &document.paths.paths {
            for operation in [&item.get, &item.put, &item.post, &item.delete, &item.patch]
                .into_iter()
                .flatten()
            {
                let security = serde_json::to_value(&operation.security).unwrap_or_default();
                let named = security.as_array().into_iter().flatten().any(|a| {
                    a.get("bearer")
                        .and_then(|s| s.as_array()?.first()?.as_str())
                        .is_some_and(|s| Need::from_scope(s).is_some())
                });
                assert!(named, "{path} {:?}: no requirement", operation.operation_id);
            }
        }
    }

    #[test]
    fn state_changing_methods_never_need_less_than_write() {
        templates::declare(requirements(&declared().1));
        // Public routes take no state-changing method (the router answers 405).
        let public = [
            templates::HEALTHZ,
            templates::READYZ,
            templates::METRICS,
            templates::UI_INDEX,
            templates::UI_FILE,
            templates::OPENAPI,
            templates::DOCS,
            "/docs/",
            "/docs/{*rest}",
        ];
        for route in all_templates().iter().map(String::as_str).chain(["/x"]) {
            if public.contains(&route) {
                continue;
            }
            for method in [Method::POST, Method::PUT, Method::DELETE, Method::PATCH] {
                let need = templates::requirement(&method, route);
                // Ingest and the edge protocol check their own tokens in their handlers.
                if route == templates::INGEST || route == templates::LIVEMIX_PLAYLIST {
                    assert_eq!(need, Need::Ingest, "{method} {route}");
                    continue;
                }
                if route.starts_with("/api/v1/edge/") {
                    assert_eq!(need, Need::Edge, "{method} {route}");
                    continue;
                }
                // Signing a URL computes a signature; it changes nothing.
                if route == templates::SIGN && method == Method::POST {
                    assert_eq!(need, Need::Read);
                    continue;
                }
                assert!(need >= Need::Write, "{method} {route} needs only {need:?}");
            }
        }
    }
}
