//! The command line: `reelay serve [DIR]... [--listen ADDR] [--data DIR] [--config FILE]`.

use anyhow::Context;
use clap::{Parser, Subcommand};
use std::path::PathBuf;
use tokio::net::TcpListener;

use crate::config::{Config, Overrides};
use crate::http::transport::workers::serve_on_workers;
use crate::http::{AppState, ServerOptions, app};
use crate::node::build_state;

#[derive(Debug, Parser)]
#[command(
    name = "reelay",
    version,
    about = "Media streaming server and live HLS relay"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

impl Cli {
    /// The config file a node command names (`--config`, `REELAY_CONFIG`).
    pub fn config_file(&self) -> Option<&std::path::Path> {
        match &self.command {
            Command::Serve(args) => args.config.as_deref(),
            Command::Edge(args) => args.serve.config.as_deref(),
            _ => None,
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve media: the buckets under DATA/buckets, plus each DIR as a bucket named after it.
    Serve(ServeArgs),
    /// Run an edge node: take HLS from encoders here and forward it to a control node over
    /// connections this node opens (it needs no inbound access from the control node).
    Edge(EdgeArgs),
    /// Make a token for the config file: prints the token and its `[[token]]` entry.
    Token(TokenArgs),
    /// Upload files to a running node, with a progress bar; re-running skips files already
    /// uploaded whole.
    Upload(crate::client::UploadArgs),
    /// Print a signed playback URL that works in a plain <video src>.
    Sign(crate::client::SignArgs),
}

#[derive(Debug, clap::Args)]
pub struct EdgeArgs {
    /// A control node's URL, e.g. https://control.example.com (a load balancer, or repeat
    /// it for each node of a cluster: the edge moves to the next when one is unreachable).
    #[arg(long, env = "REELAY_CONTROL", value_delimiter = ',', required = true)]
    pub(crate) control: Vec<String>,
    /// This edge's token (rle_…), from `POST /api/v1/edges` on the control node.
    #[arg(long, env = "REELAY_EDGE_TOKEN", hide_env_values = true)]
    pub(crate) token: String,
    #[command(flatten)]
    pub(crate) serve: ServeArgs,
}

#[derive(Debug, clap::Args)]
pub struct TokenArgs {
    /// read, write or admin.
    #[arg(long, default_value = "read")]
    pub(crate) role: String,
    /// A label: who or what uses the token.
    #[arg(long, default_value = "config token")]
    pub(crate) name: String,
}

/// Runs `reelay token`.
pub fn run_token(args: &TokenArgs) -> anyhow::Result<()> {
    use crate::auth::token::{new_token, parse_token};
    anyhow::ensure!(
        crate::auth::Role::parse(&args.role).is_some(),
        "--role must be read, write or admin"
    );
    let (id, text, hash) = new_token()?;
    anyhow::ensure!(
        parse_token(&text).is_some(),
        "generated an unparsable token"
    );
    println!("token (keep it secret; only its hash goes in the config):\n  {text}\n");
    println!(
        "[[token]]\nid = \"{id}\"\nname = {:?}\nrole = \"{}\"\nsha256 = \"{hash}\"",
        args.name, args.role
    );
    Ok(())
}

#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// Folders to serve; each becomes a bucket named after the folder.
    pub(crate) dirs: Vec<PathBuf>,
    /// Address to listen on (IP:PORT; port 0 picks a free one) [default: 127.0.0.1:8080].
    #[arg(long, env = "REELAY_LISTEN")]
    pub(crate) listen: Option<String>,
    /// Data directory [default: ./reelay-data].
    #[arg(long = "data", env = "REELAY_DATA_DIR")]
    pub(crate) data_dir: Option<PathBuf>,
    /// TOML configuration file.
    #[arg(long, env = "REELAY_CONFIG")]
    pub(crate) config: Option<PathBuf>,
    /// Open a loopback node again after its last token was revoked (forgets revoked tokens;
    /// refused while a token is active). Without it such a node stays closed.
    #[arg(long)]
    pub(crate) reopen: bool,
}

/// A future that resolves when SIGINT or SIGTERM arrives. The handlers are installed by this
/// call, not when the future is first polled: once "listening on" is printed, a SIGTERM must
/// already mean a graceful shutdown (a test that signals right after its first response found
/// the process killed by the default disposition on a loaded machine).
fn shutdown_signal() -> anyhow::Result<impl std::future::Future<Output = ()>> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).context("cannot handle SIGTERM")?;
    let mut interrupt = signal(SignalKind::interrupt()).context("cannot handle SIGINT")?;
    Ok(async move {
        tokio::select! {
            _ = term.recv() => {}
            _ = interrupt.recv() => {}
        }
    })
}

/// Raises the open-file soft limit to the hard limit: every viewer is a socket, and a default
/// soft limit of 1024 would turn the thousandth viewer into `EMFILE`.
fn raise_open_file_limit() {
    use rustix::process::{Resource, getrlimit, setrlimit};
    let mut limit = getrlimit(Resource::Nofile);
    if limit.current < limit.maximum {
        limit.current = limit.maximum;
        if let Err(e) = setrlimit(Resource::Nofile, limit) {
            tracing::warn!(error = %e, "could not raise the open-file limit");
        }
    }
    let now = getrlimit(Resource::Nofile).current;
    tracing::info!(open_files = ?now, "open-file limit");
}

/// Runs `reelay serve`: prints `listening on http://ADDR` once bound, serves until a signal.
pub async fn run_serve(args: ServeArgs) -> anyhow::Result<()> {
    let config = load_config(args)?;
    let state = build_state(&config).await?;
    if let Some(live) = &state.live {
        tokio::spawn(live.clone().follow_cluster());
        tokio::spawn(live.clone().share_parts());
        tokio::spawn(live.clone().share_segments());
        tokio::spawn(crate::relay::control::sweep_liveness(
            live.clone(),
            state.edges.clone(),
            state.metrics.relay.clone(),
            config.cluster.node_id.clone(),
        ));
    }
    run_node(&config, state).await
}

/// Runs `reelay edge`: the ingest routes and a local buffer, forwarding to `--control`.
pub async fn run_edge(args: EdgeArgs) -> anyhow::Result<()> {
    use crate::relay::{edge::EdgeRelay, forward::ForwardState, link::Link};
    let link = Link::new(&args.control, &args.token)?;
    let config = load_config(args.serve)?;
    let forward = std::sync::Arc::new(ForwardState::default());
    let state = crate::node::build_state_for(&config, Some(forward.clone())).await?;
    forward.attach(state.db.clone()).await?;
    let live = state.live.clone().context("the live relay")?;
    let metrics = state.metrics.relay.clone();
    let relay = EdgeRelay::new(live, forward, link, metrics, &config.data_dir);
    crate::relay::parts::PartForwarder {
        live: relay.live.clone(),
        forward: relay.forward.clone(),
        link: relay.link.clone(),
        metrics: relay.metrics.clone(),
        progress: relay.parts_progress(),
    }
    .spawn();
    relay.spawn();
    run_node(&config, state).await
}

fn load_config(args: ServeArgs) -> anyhow::Result<Config> {
    let config = Config::load(&Overrides {
        listen: args.listen,
        data_dir: args.data_dir,
        config: args.config,
        dirs: args.dirs,
        reopen: args.reopen,
    })?;
    raise_open_file_limit();
    Ok(config)
}

async fn run_node(config: &Config, state: AppState) -> anyhow::Result<()> {
    let listener = TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.listen))?;
    let addr = listener.local_addr()?;
    for bucket in state.buckets.list() {
        tracing::info!(bucket = bucket.name, kind = bucket.kind, "serving bucket");
    }
    let shutdown = shutdown_signal()?;
    println!("listening on http://{addr}");
    let options = ServerOptions {
        header_timeout: config.server.header_timeout,
        max_header_bytes: config.server.max_header_bytes,
        write_timeout: config.server.write_timeout,
        grace: config.server.shutdown_grace,
        sendfile: config.server.sendfile,
        meters: state.metrics.connections.clone(),
        max_connections: config.server.max_connections,
    };
    tracing::info!(workers = config.server.workers, "serving");
    let front = crate::http::Front::new(app(state.clone()), &state);
    serve_on_workers(listener, front, options, shutdown, config.server.workers).await?;
    Ok(())
}
