//! What every handler and both doors share, below them all: every route template once and what
//! each requires ([`routes`]), the handlers' shared state ([`state`]), the one error table
//! ([`error`]), request bodies, forms and JSON values ([`body`], [`multipart`],
//! [`json_values`]), response bodies without a box per layer ([`reply`]), and the one request
//! pipeline ([`pipeline`]) with the router's door into it ([`middleware`]).

pub(crate) mod body;
pub(crate) mod error;
pub(crate) mod json_values;
pub mod middleware;
pub(crate) mod multipart;
pub(crate) mod pipeline;
pub(crate) mod reply;
pub mod routes;
pub(crate) mod state;
