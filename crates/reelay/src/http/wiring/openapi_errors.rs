//! The error answers every operation can give, added to the OpenAPI document in one place so
//! the document says every status a client can meet (checked by the schemathesis run in the
//! tests, `crates/reelay/tests/api_fuzz/`): any route may refuse credentials (401), a role
//! (403), a malformed path or query (400), or fail on our side (500, and 503 while a backend or
//! cluster engine is down); a route with a JSON body may also refuse its type (415), size (413)
//! or shape (422); a route with a streamed body may time out reading it (408) or refuse its size
//! (413); a route with path parameters may find nothing by them (404). API routes answer `{"error":{"code","message"}}`; media routes answer plain text, except
//! for refused credentials (JSON, from the auth layer in front of every route).

use utoipa::openapi::path::Operation;
use utoipa::openapi::{ContentBuilder, OpenApi, Ref, RefOr, Response, ResponseBuilder};

/// Adds the common error responses an operation does not document itself.
#[derive(Debug)]
pub(super) struct CommonErrors;

const ANY: [(&str, &str); 5] = [
    ("400", "bad request: the message says what"),
    ("401", "credentials missing, unknown or revoked"),
    ("403", "the token's role or scope does not allow this"),
    (
        "500",
        "our failure; the message says nothing of the backend's",
    ),
    ("503", "a backend or cluster engine is down; retry later"),
];
const JSON_BODY: [(&str, &str); 3] = [
    ("413", "the body is larger than the limit"),
    ("415", "the body is not `Content-Type: application/json`"),
    ("422", "the body is JSON of the wrong shape"),
];
const STREAMED_BODY: [(&str, &str); 2] = [
    ("408", "the body stopped arriving (write-stall timeout)"),
    ("413", "the body is larger than the limit"),
];

impl utoipa::Modify for CommonErrors {
    fn modify(&self, openapi: &mut OpenApi) {
        for (path, item) in &mut openapi.paths.paths {
            let json = path.starts_with("/api/");
            let operations = [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
                &mut item.patch,
            ];
            let parameters = path.contains('{');
            for operation in operations.into_iter().flatten() {
                add_common(operation, json, parameters);
            }
        }
    }
}

fn add_common(operation: &mut Operation, json: bool, parameters: bool) {
    let body_types: Vec<String> = operation
        .request_body
        .as_ref()
        .map(|b| match b {
            RefOr::T(body) => body.content.keys().cloned().collect(),
            RefOr::Ref(_) => Vec::new(),
        })
        .unwrap_or_default();
    let mut extra: Vec<(&str, &str)> = ANY.to_vec();
    if parameters {
        extra.push(("404", "nothing by that name"));
    }
    if body_types.iter().any(|t| t == "application/json") {
        extra.extend(JSON_BODY);
    } else if !body_types.is_empty() {
        extra.extend(STREAMED_BODY);
    }
    for (status, description) in extra {
        // Credentials are checked before any route runs: those answers are JSON everywhere.
        let json = json || matches!(status, "401" | "403");
        operation
            .responses
            .responses
            .entry(status.to_owned())
            .or_insert_with(|| RefOr::T(error_response(description, json)));
    }
}

fn error_response(description: &str, json: bool) -> Response {
    let content = if json {
        ContentBuilder::new()
            .schema(Some(Ref::from_schema_name("ErrorBody")))
            .build()
    } else {
        ContentBuilder::new()
            .schema(Some(
                utoipa::openapi::ObjectBuilder::new()
                    .schema_type(utoipa::openapi::schema::Type::String),
            ))
            .build()
    };
    let content_type = if json {
        "application/json"
    } else {
        "text/plain; charset=utf-8"
    };
    ResponseBuilder::new()
        .description(description)
        .content(content_type, content)
        .build()
}
