//! The handlers wired into one application: the router that mounts every route template inside
//! the middleware ([`router`]), and the OpenAPI document that describes them ([`openapi`]), with
//! the errors every operation shares and the rules every value obeys placed on it.

pub(crate) mod openapi;
mod openapi_errors;
mod openapi_rules;
pub mod router;
