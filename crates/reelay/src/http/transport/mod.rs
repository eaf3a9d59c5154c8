//! Connections: the accept loop with its limits and graceful shutdown ([`server`]), worker
//! threads each running it on a duplicate of the listening socket ([`workers`]), connection
//! I/O guards ([`net`]), the writer that sends file spans with sendfile ([`sendfile`]), the
//! direct path that answers plain media reads beside the router through the same request
//! pipeline ([`direct`]).

pub mod direct;
pub mod net;
pub mod sendfile;
pub mod server;
pub mod workers;
