//! What every request passes and every handler shares: every route template once and what
//! each requires ([`routes`]), the router that mounts them ([`router`]) inside the
//! [`middleware`], the one request pipeline both doors call ([`pipeline`]), the handlers'
//! shared state ([`state`]), the one error table ([`error`]), request bodies and forms
//! ([`body`], [`multipart`], [`json_values`]), and the OpenAPI document ([`openapi`]) with the
//! errors every operation shares and the rules every value obeys placed on it.

pub mod body;
pub mod error;
pub mod json_values;
pub mod middleware;
pub mod multipart;
pub mod openapi;
mod openapi_errors;
mod openapi_rules;
pub(crate) mod pipeline;
pub mod router;
pub mod routes;
pub mod state;
