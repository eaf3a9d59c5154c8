//! Connections: the accept loop with its limits and graceful shutdown ([`server`]), worker
//! threads each running it on a duplicate of the listening socket ([`workers`]), connection
//! I/O guards ([`net`]), the writer that sends file spans with sendfile ([`sendfile`]), the
//! direct path that answers plain media reads beside the router through the same request
//! pipeline ([`direct`]).

pub(crate) mod direct;
pub(crate) mod net;
pub(crate) mod sendfile;
pub(crate) mod server;
pub(crate) mod workers;
