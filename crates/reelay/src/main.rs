//! The `reelay` binary: parse the command line, set up logging, run.

use clap::Parser;
use reelay::cli::{Cli, Command, run_edge, run_serve, run_token};
use reelay::config::{LogFormat, log_format};
use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer, Registry};

/// Log lines to stderr, filtered by `REELAY_LOG` (default `info`, [`log_filter`]): plain text or
/// one JSON object a line carrying the current span's fields (the request id). No colours:
/// every request opens a span whose fields are formatted as it opens, and painting them cost
/// more than the rest of the span (`bench/README.md`).
fn init_logging(format: LogFormat) {
    let spec = std::env::var("REELAY_LOG").unwrap_or_default();
    let filter = log_filter(if spec.trim().is_empty() {
        "info"
    } else {
        &spec
    });
    let lines = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    let logging = tracing_subscriber::registry().with(filter);
    match format {
        LogFormat::Text => logging.with(lines).init(),
        LogFormat::Json => logging
            .with(lines.json().with_current_span(true).with_span_list(false))
            .init(),
    }
}

/// The filter `spec` names: a list of `target=level` and bare levels is a static [`Targets`]
/// filter, anything else (span and field directives) an [`EnvFilter`]; one that does not parse
/// is `info`.
///
/// Why two: `EnvFilter` looks for span directives at every span enter, exit and close (a read
/// lock each) — every request opens a span and enters it at each poll, on every connection
/// thread — and a static filter has none to look for (`bench/README.md`: one publication's
/// thousand answers, issue 16).
fn log_filter(spec: &str) -> Box<dyn Layer<Registry> + Send + Sync> {
    if let Some(targets) = static_targets(spec) {
        return targets.boxed();
    }
    EnvFilter::try_new(spec)
        .unwrap_or_else(|_| EnvFilter::new("info"))
        .boxed()
}

/// `spec` as a static filter, when it is only targets and levels.
fn static_targets(spec: &str) -> Option<Targets> {
    let plain = !spec.contains(['[', '{', '/', ' ']);
    plain.then(|| spec.parse().ok()).flatten()
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

#[cfg(test)]
mod tests {
    use tracing::Level;
    use tracing_subscriber::layer::SubscriberExt;

    use super::{log_filter, static_targets};

    /// Whether the filter `spec` passes events of `reelay::http` at debug and info, then of
    /// `sqlx` at debug and info (a callsite's target and level are fixed where it is written).
    fn passes(spec: &str) -> [bool; 4] {
        let subscriber = tracing_subscriber::registry().with(log_filter(spec));
        tracing::subscriber::with_default(subscriber, || {
            [
                tracing::enabled!(target: "reelay::http", Level::DEBUG),
                tracing::enabled!(target: "reelay::http", Level::INFO),
                tracing::enabled!(target: "sqlx", Level::DEBUG),
                tracing::enabled!(target: "sqlx", Level::INFO),
            ]
        })
    }

    #[test]
    fn a_plain_target_list_filters_as_it_says_and_span_directives_and_nonsense_still_work() {
        assert_eq!(passes("info"), [false, true, false, true]);
        assert_eq!(passes("info,reelay::http=debug"), [true, true, false, true]);
        assert_eq!(passes("warn"), [false, false, false, false]);
        // A span directive goes to EnvFilter: events outside that span keep the default.
        assert_eq!(
            passes("info,reelay[request]=debug"),
            [false, true, false, true]
        );
        // Only the plain lists take the static filter.
        assert!(static_targets("info,reelay::http=debug").is_some());
        assert!(static_targets("info,reelay[request]=debug").is_none());
        assert!(static_targets("info,reelay[{id}]=debug").is_none());
        // What does not parse is `info`.
        assert_eq!(passes("reelay=loud"), [false, true, false, true]);
    }
}
