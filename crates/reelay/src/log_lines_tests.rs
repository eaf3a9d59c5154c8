use std::sync::{Arc, Mutex};

use http::HeaderValue;
use tracing::Level;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt;

use super::{JsonLines, TextLines, log_filter, static_targets};
use crate::http::common::middleware::observe::RequestTag;

/// Whether the filter `spec` passes events of `reelay::http` at debug and info, then of
/// `sqlx` at debug and info (a callsite's target and level are fixed where it is written).
fn passes(spec: &str) -> [bool; 4] {
    let subscriber = tracing_subscriber::registry().with(log_filter(spec).0);
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
    // Only the plain lists take the static filter; only the others open request spans.
    assert!(static_targets("info,reelay::http=debug").is_some());
    assert!(static_targets("info,reelay[request]=debug").is_none());
    assert!(static_targets("info,reelay[{id}]=debug").is_none());
    assert!(!log_filter("info,reelay::http=debug").1);
    assert!(log_filter("info,reelay[request]=debug").1);
    // What does not parse is `info`.
    assert_eq!(passes("reelay=loud"), [false, true, false, true]);
    assert!(!log_filter("reelay=loud").1);
}

/// Lines written into memory.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Captured {
    fn lines(&self) -> Vec<String> {
        let bytes = self.0.lock().map(|b| b.clone()).unwrap_or_default();
        String::from_utf8_lossy(&bytes)
            .lines()
            .map(str::to_owned)
            .collect()
    }
}

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .map_err(|_| std::io::Error::other("poisoned"))?
            .extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Captured {
    type Writer = Self;

    fn make_writer(&'a self) -> Self {
        self.clone()
    }
}

fn tag() -> RequestTag {
    let req = http::Request::get("/live/cam/v/index.m3u8?_HLS_msn=4")
        .body(())
        .expect("request");
    RequestTag::new(&req, HeaderValue::from_static("tag-7"))
}

/// Logs one line outside any request, one inside the request [`tag`], and one inside both the
/// tag and a `request` span (spans on), through `layer`.
fn three_lines<L>(layer: L)
where
    L: tracing_subscriber::Layer<tracing_subscriber::Registry> + Send + Sync,
{
    let subscriber = tracing_subscriber::registry().with(layer);
    tracing::subscriber::with_default(subscriber, || {
        tracing::info!("starting");
        tag().in_scope(|| tracing::error!(code = "backend", "a store failed"));
        let span = tracing::info_span!("request", id = "tag-7", method = "GET", path = "/x");
        tag().in_scope(|| span.in_scope(|| tracing::warn!("in a span")));
    });
}

#[test]
fn a_text_line_of_a_request_names_its_id_method_and_path_once_and_others_do_not() {
    let out = Captured::default();
    let layer = tracing_subscriber::fmt::layer()
        .with_writer(out.clone())
        .event_format(TextLines::default());
    three_lines(layer);
    let lines = out.lines();
    assert_eq!(lines.len(), 3, "{lines:?}");
    assert!(
        lines[0].contains("  INFO reelay::log_lines::tests: starting"),
        "{}",
        lines[0]
    );
    assert!(!lines[0].contains("request{"), "{}", lines[0]);
    assert!(
        lines[1].contains(
            "ERROR request{id=tag-7 method=GET path=/live/cam/v/index.m3u8}: \
             reelay::log_lines::tests: a store failed code=\"backend\""
        ),
        "{}",
        lines[1]
    );
    // A span says it once: the tag is not repeated beside it.
    assert_eq!(lines[2].matches("request{").count(), 1, "{}", lines[2]);
    assert!(lines[2].contains("request{id=\"tag-7\""), "{}", lines[2]);
    // The time first, as the built-in line has it.
    assert!(lines.iter().all(|l| l.starts_with("20") && l.contains('T')));
}

#[test]
fn a_json_line_of_a_request_carries_it_as_its_span_and_stays_one_object() {
    let out = Captured::default();
    let layer = tracing_subscriber::fmt::layer()
        .with_writer(out.clone())
        .json()
        .event_format(JsonLines::default());
    three_lines(layer);
    let lines: Vec<serde_json::Value> = out
        .lines()
        .iter()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    assert_eq!(lines.len(), 3);
    assert!(lines[0].get("span").is_none(), "{}", lines[0]);
    assert_eq!(lines[0]["fields"]["message"], "starting");
    let tagged = &lines[1];
    assert_eq!(tagged["span"]["id"], "tag-7");
    assert_eq!(tagged["span"]["method"], "GET");
    assert_eq!(tagged["span"]["path"], "/live/cam/v/index.m3u8");
    assert_eq!(tagged["span"]["name"], "request");
    assert_eq!(tagged["fields"]["code"], "backend");
    assert_eq!(tagged["level"], "ERROR");
    assert_eq!(
        lines[2]["span"]["path"], "/x",
        "the span, when there is one"
    );
}
