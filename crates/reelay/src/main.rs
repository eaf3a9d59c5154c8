//! The `reelay` binary: parse the command line, set up logging, run.

use clap::Parser;
use reelay::cli::{Cli, Command, run_edge, run_serve, run_token};
use reelay::config::log_format;

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    reelay::log_lines::init(log_format(cli.config_file())?);
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
