//! The `reelay` binary: parse the command line, set up logging, run.

use std::io::IsTerminal;

use clap::Parser;
use reelay::cli::{Cli, Command, run_edge, run_serve, run_token};
use reelay::config::{LogFormat, log_format};
use tracing_subscriber::EnvFilter;

/// Log lines to stderr, filtered by `REELAY_LOG` (default `info`): text (colours on a
/// terminal) or one JSON object a line carrying the current span's fields (the request id).
fn init_logging(format: LogFormat) {
    let filter = EnvFilter::try_from_env("REELAY_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.with_ansi(std::io::stderr().is_terminal()).init(),
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
