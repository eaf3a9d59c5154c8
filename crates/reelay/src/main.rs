//! The `reelay` binary: parse the command line, set up logging, run.

use clap::Parser;
use reelay::cli::{Cli, Command, run_edge, run_serve, run_token};
use reelay::config::{LogFormat, log_format};
use tracing_subscriber::EnvFilter;

/// Log lines to stderr, filtered by `REELAY_LOG` (default `info`): plain text or one JSON object
/// a line carrying the current span's fields (the request id). No colours: every request opens
/// a span whose fields are formatted as it opens, and painting them cost more than the rest of
/// the span (`bench/README.md`).
fn init_logging(format: LogFormat) {
    let filter = EnvFilter::try_from_env("REELAY_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .init(),
    }
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    init_logging(log_format(cli.config_file())?);
    if let Command::Token(args) = &cli.command {
        return run_token(args);
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        match cli.command {
            Command::Serve(args) => run_serve(args).await,
            Command::Edge(args) => run_edge(args).await,
            Command::Upload(args) => reelay::client::run_upload(args).await,
            Command::Sign(args) => reelay::client::run_sign(args).await,
            Command::Token(args) => run_token(&args),
        }
    })
}
