//! Log lines: stderr, filtered by `REELAY_LOG` (default `info`, [`log_filter`]), plain text or
//! one JSON object a line, and every line a request writes tagged with that request's id,
//! method and path (the [`RequestTag`] the HTTP layer runs each request with).
//!
//! Text: `2026-12-05T16:54:32.123456Z ERROR request{id=… method=GET path=/…}: target: message
//! fields`. JSON: the built-in object, with `"span": {"id", "method", "path", "name":
//! "request"}` on a request's lines, so a log pipeline can join every line of a request to the
//! `X-Request-Id` its client got. Both are what a tracing span named `request` with those
//! fields printed; they are written here from the tag because opening a span per request cost
//! the most of anything reelay adds to an answer (`http/common/middleware/observe.rs`). With span or
//! field directives in the filter the HTTP layer opens the span as well, and these lines print
//! it instead of the tag.
//!
//! No colours: tracing-subscriber is built without its `ansi` feature (painting, even switched
//! off, cost more than the rest of the request span when there was one per request).
//! This module sits above the HTTP layer (it reads the tag) and is used by the binary only.

use std::fmt;

use tracing::{Event, Subscriber};
use tracing_subscriber::filter::Targets;
use tracing_subscriber::fmt::format::{Format, Full, Json, Writer};
use tracing_subscriber::fmt::time::{FormatTime, SystemTime};
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer, Registry};

use crate::config::LogFormat;
use crate::http::common::middleware::observe::{RequestTag, open_request_spans};

/// Installs the log lines in `format` as the process's subscriber.
pub fn init(format: LogFormat) {
    let spec = std::env::var("REELAY_LOG").unwrap_or_default();
    let (filter, spans) = log_filter(if spec.trim().is_empty() {
        "info"
    } else {
        &spec
    });
    open_request_spans(spans);
    let lines = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    let logging = tracing_subscriber::registry().with(filter);
    match format {
        LogFormat::Text => logging
            .with(lines.event_format(TextLines::default()))
            .init(),
        LogFormat::Json => logging
            .with(lines.json().event_format(JsonLines::default()))
            .init(),
    }
}

/// The filter `spec` names, and whether it needs request spans: a list of `target=level` and
/// bare levels is a static [`Targets`] filter, anything else (span and field directives) an
/// [`EnvFilter`]; one that does not parse is `info`.
///
/// Why two: `EnvFilter` looks for span directives at every span enter, exit and close (a read
/// lock each), and a static filter has none to look for (`bench/README.md`: one publication's
/// thousand answers, issue 16).
pub(crate) fn log_filter(spec: &str) -> (Box<dyn Layer<Registry> + Send + Sync>, bool) {
    if let Some(targets) = static_targets(spec) {
        return (targets.boxed(), false);
    }
    match EnvFilter::try_new(spec) {
        Ok(filter) => (filter.boxed(), true),
        Err(_) => (
            Targets::new().with_default(tracing::Level::INFO).boxed(),
            false,
        ),
    }
}

/// `spec` as a static filter, when it is only targets and levels.
fn static_targets(spec: &str) -> Option<Targets> {
    let plain = !spec.contains(['[', '{', '/', ' ']);
    plain.then(|| spec.parse().ok()).flatten()
}

/// The tag of the request the event belongs to, unless the event is in a span (spans on: the
/// span says the same).
fn tag_of<S, N>(ctx: &FmtContext<'_, S, N>) -> Option<RequestTag>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    if ctx.lookup_current().is_some() {
        return None;
    }
    RequestTag::with_current(RequestTag::clone)
}

/// Text lines: the time, the level, the request, then the built-in line (target, message,
/// fields).
#[derive(Debug)]
pub(crate) struct TextLines {
    rest: Format<Full, ()>,
}

impl Default for TextLines {
    fn default() -> Self {
        Self {
            rest: Format::default().without_time().with_level(false),
        }
    }
}

impl<S, N> FormatEvent<S, N> for TextLines
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        SystemTime.format_time(&mut writer)?;
        write!(writer, " {:>5} ", event.metadata().level())?;
        if let Some(tag) = tag_of(ctx) {
            write!(
                writer,
                "request{{id={} method={} path={}}}: ",
                tag.id(),
                tag.method(),
                tag.path()
            )?;
        }
        self.rest.format_event(ctx, writer, event)
    }
}

/// JSON lines: the built-in object (with the current span, when spans are on), and a request's
/// tag as its `span`.
#[derive(Debug)]
pub(crate) struct JsonLines {
    built_in: Format<Json>,
}

impl Default for JsonLines {
    fn default() -> Self {
        Self {
            built_in: Format::default()
                .json()
                .with_current_span(true)
                .with_span_list(false),
        }
    }
}

impl<S, N> FormatEvent<S, N> for JsonLines
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let Some(tag) = tag_of(ctx) else {
            return self.built_in.format_event(ctx, writer, event);
        };
        let mut line = String::new();
        self.built_in
            .format_event(ctx, Writer::new(&mut line), event)?;
        // The built-in object, without its closing brace: one more member goes in.
        let open = line.trim_end().strip_suffix('}').ok_or(fmt::Error)?;
        let span = serde_json::json!({
            "id": tag.id(),
            "method": tag.method(),
            "path": tag.path(),
            "name": "request",
        });
        writeln!(writer, "{open},\"span\":{span}}}")
    }
}

#[cfg(test)]
#[path = "log_lines_tests.rs"]
mod tests;
