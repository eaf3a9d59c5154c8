//! The LL-HLS rule checker: [`check_ll_media_playlist`] reports every way a media playlist
//! breaks the RFC 8216bis rules for partial segments, server control, preload hints, delta
//! updates and rendition reports (plus Apple's stricter hold-backs), on top of
//! [`crate::check_media_playlist`]'s RFC 8216 rules. Tests run it on every LL playlist they
//! fetch; it takes any text (hostile input gives problems, never a panic).

use crate::check_media_playlist;
use crate::multivariant::{Value, attributes};

/// Milliseconds of rounding allowed per duration written with three decimals.
const ROUNDING_MS: u64 = 1;

/// What the checker gathered from one pass over the lines.
#[derive(Debug, Default)]
struct Seen {
    version: u64,
    target_ms: Option<u64>,
    part_target_ms: Option<u64>,
    part_infs: usize,
    control: Option<Control>,
    parts: usize,
    /// Durations of the parts since the last complete segment.
    open_parts: Vec<u64>,
    /// URIs of parts seen, for byte ranges that continue one.
    part_uris: Vec<String>,
    hints: Vec<String>,
    skips: usize,
    segments: usize,
}

#[derive(Debug, Default)]
struct Control {
    can_block: bool,
    can_skip_until_ms: Option<u64>,
    hold_back_ms: Option<u64>,
    part_hold_back_ms: Option<u64>,
}

/// Checks `text` as an LL-HLS media playlist; returns every violation (empty: conforming).
pub fn check_ll_media_playlist(text: &str) -> Vec<String> {
    let mut problems = check_media_playlist(text);
    let mut seen = Seen::default();
    for (index, line) in text.lines().map(|l| l.trim_end_matches('\r')).enumerate() {
        let at = index + 1;
        let Some(tag) = line.strip_prefix('#') else {
            if !line.trim().is_empty() {
                seen.segments += 1;
                seen.open_parts.clear();
            }
            continue;
        };
        let (name, value) = tag.split_once(':').unwrap_or((tag, ""));
        let p = &mut problems;
        match name {
            "EXT-X-VERSION" => seen.version = value.parse().unwrap_or(0),
            "EXT-X-TARGETDURATION" => {
                seen.target_ms = value.parse::<u64>().ok().map(|s| s.saturating_mul(1000));
            }
            "EXT-X-PART-INF" => part_inf(&mut seen, value, at, p),
            "EXT-X-SERVER-CONTROL" => seen.control = Some(server_control(value, at, p)),
            "EXT-X-PART" => part(&mut seen, value, at, p),
            "EXT-X-PRELOAD-HINT" => preload_hint(&mut seen, value, at, p),
            "EXT-X-SKIP" => skip(&mut seen, value, at, p),
            "EXT-X-RENDITION-REPORT" => rendition_report(value, at, p),
            "EXTINF" => segment_parts(&mut seen, value, at, p),
            _ => {}
        }
    }
    playlist_rules(&seen, &mut problems);
    problems
}

/// An attribute list, or a problem; `None` when it does not parse.
fn attrs<'a>(
    value: &'a str,
    tag: &str,
    at: usize,
    problems: &mut Vec<String>,
) -> Option<Vec<(&'a str, Value<'a>)>> {
    match attributes(value, at) {
        Ok(list) => Some(list),
        Err(_) => {
            problems.push(format!("line {at}: {tag} has a malformed attribute list"));
            None
        }
    }
}

fn get<'a>(list: &[(&str, Value<'a>)], name: &str) -> Option<Value<'a>> {
    list.iter().find(|(n, _)| *n == name).map(|(_, v)| *v)
}

fn quoted<'a>(list: &[(&str, Value<'a>)], name: &str) -> Option<&'a str> {
    match get(list, name) {
        Some(Value::Quoted(v)) => Some(v),
        _ => None,
    }
}

fn plain<'a>(list: &[(&str, Value<'a>)], name: &str) -> Option<&'a str> {
    match get(list, name) {
        Some(Value::Plain(v)) => Some(v),
        _ => None,
    }
}

/// Decimal seconds as milliseconds (rounded), when positive-or-zero and finite.
fn millis(value: &str) -> Option<u64> {
    let secs: f64 = value.parse().ok()?;
    (0.0..1e9)
        .contains(&secs)
        .then(|| (secs * 1000.0).round() as u64)
}

fn part_inf(seen: &mut Seen, value: &str, at: usize, p: &mut Vec<String>) {
    seen.part_infs += 1;
    let Some(list) = attrs(value, "EXT-X-PART-INF", at, p) else {
        return;
    };
    match plain(&list, "PART-TARGET").and_then(millis) {
        Some(ms) if ms > 0 => seen.part_target_ms = Some(ms),
        _ => p.push(format!(
            "line {at}: EXT-X-PART-INF needs a positive PART-TARGET"
        )),
    }
}

fn server_control(value: &str, at: usize, p: &mut Vec<String>) -> Control {
    let Some(list) = attrs(value, "EXT-X-SERVER-CONTROL", at, p) else {
        return Control::default();
    };
    let time = |name: &str, p: &mut Vec<String>| {
        let raw = plain(&list, name)?;
        let ms = millis(raw);
        if ms.is_none() {
            p.push(format!("line {at}: {name}={raw} is not a duration"));
        }
        ms
    };
    Control {
        can_block: plain(&list, "CAN-BLOCK-RELOAD") == Some("YES"),
        can_skip_until_ms: time("CAN-SKIP-UNTIL", p),
        hold_back_ms: time("HOLD-BACK", p),
        part_hold_back_ms: time("PART-HOLD-BACK", p),
    }
}

fn part(seen: &mut Seen, value: &str, at: usize, p: &mut Vec<String>) {
    seen.parts += 1;
    let Some(list) = attrs(value, "EXT-X-PART", at, p) else {
        return;
    };
    let Some(uri) = quoted(&list, "URI") else {
        p.push(format!("line {at}: EXT-X-PART has no quoted URI"));
        return;
    };
    match plain(&list, "DURATION").and_then(millis) {
        Some(ms) => {
            let limit = seen.part_target_ms.map(|t| t.saturating_add(ROUNDING_MS));
            if limit.is_some_and(|limit| ms > limit) {
                p.push(format!("line {at}: part {uri} is longer than PART-TARGET"));
            }
            seen.open_parts.push(ms);
        }
        None => p.push(format!("line {at}: part {uri} has no DURATION")),
    }
    if let Some(independent) = plain(&list, "INDEPENDENT")
        && independent != "YES"
    {
        p.push(format!("line {at}: INDEPENDENT must be YES when present"));
    }
    if let Some(range) = get(&list, "BYTERANGE") {
        byterange(range, uri, seen, at, p);
    }
    seen.part_uris.push(uri.to_owned());
}

/// `BYTERANGE="<n>[@<o>]"`: a length, and an offset unless it continues the previous part of
/// the same resource.
fn byterange(value: Value<'_>, uri: &str, seen: &Seen, at: usize, p: &mut Vec<String>) {
    let Value::Quoted(range) = value else {
        p.push(format!("line {at}: BYTERANGE must be a quoted string"));
        return;
    };
    let (len, offset) = match range.split_once('@') {
        Some((len, offset)) => (len, Some(offset)),
        None => (range, None),
    };
    let numbers_ok = len.parse::<u64>().is_ok() && offset.is_none_or(|o| o.parse::<u64>().is_ok());
    if !numbers_ok {
        p.push(format!("line {at}: BYTERANGE {range:?} is not <n>[@<o>]"));
    } else if offset.is_none() && seen.part_uris.last().is_none_or(|last| last != uri) {
        p.push(format!(
            "line {at}: BYTERANGE without an offset must follow a part of the same URI"
        ));
    }
}

fn preload_hint(seen: &mut Seen, value: &str, at: usize, p: &mut Vec<String>) {
    let Some(list) = attrs(value, "EXT-X-PRELOAD-HINT", at, p) else {
        return;
    };
    let kind = plain(&list, "TYPE").unwrap_or("");
    if kind != "PART" && kind != "MAP" {
        p.push(format!(
            "line {at}: EXT-X-PRELOAD-HINT TYPE must be PART or MAP"
        ));
    }
    if quoted(&list, "URI").is_none() {
        p.push(format!("line {at}: EXT-X-PRELOAD-HINT has no quoted URI"));
    }
    if seen.hints.iter().any(|k| k == kind) {
        p.push(format!(
            "line {at}: a second EXT-X-PRELOAD-HINT of TYPE {kind}"
        ));
    }
    seen.hints.push(kind.to_owned());
}

fn skip(seen: &mut Seen, value: &str, at: usize, p: &mut Vec<String>) {
    seen.skips += 1;
    if seen.segments > 0 {
        p.push(format!("line {at}: EXT-X-SKIP after the first segment"));
    }
    let count = attrs(value, "EXT-X-SKIP", at, p)
        .and_then(|list| plain(&list, "SKIPPED-SEGMENTS").map(str::parse::<u64>));
    if !matches!(count, Some(Ok(_))) {
        p.push(format!(
            "line {at}: EXT-X-SKIP needs an integer SKIPPED-SEGMENTS"
        ));
    }
}

fn rendition_report(value: &str, at: usize, p: &mut Vec<String>) {
    let Some(list) = attrs(value, "EXT-X-RENDITION-REPORT", at, p) else {
        return;
    };
    if quoted(&list, "URI").is_none() {
        p.push(format!(
            "line {at}: EXT-X-RENDITION-REPORT has no quoted URI"
        ));
    }
    for (name, required) in [("LAST-MSN", true), ("LAST-PART", false)] {
        match plain(&list, name).map(str::parse::<u64>) {
            Some(Ok(_)) => {}
            None if !required => {}
            _ => p.push(format!(
                "line {at}: EXT-X-RENDITION-REPORT {name} must be an integer"
            )),
        }
    }
}

/// At a segment's `EXTINF`: its parts (if it lists any) add up to its duration.
fn segment_parts(seen: &mut Seen, value: &str, at: usize, p: &mut Vec<String>) {
    if seen.open_parts.is_empty() {
        return;
    }
    let Some(duration) = value.split(',').next().and_then(millis) else {
        return; // the base checker reports a bad EXTINF
    };
    let sum: u64 = seen.open_parts.iter().sum();
    let slack = ROUNDING_MS.saturating_mul(seen.open_parts.len() as u64 + 1);
    if sum.abs_diff(duration) > slack {
        p.push(format!(
            "line {at}: the segment's parts last {sum} ms, the segment {duration} ms"
        ));
    }
}

/// The rules about the playlist as a whole.
fn playlist_rules(seen: &Seen, p: &mut Vec<String>) {
    if seen.parts > 0 && seen.part_target_ms.is_none() {
        p.push("EXT-X-PART without EXT-X-PART-INF".to_owned());
    }
    if seen.part_infs > 1 {
        p.push("more than one EXT-X-PART-INF".to_owned());
    }
    let control = seen.control.as_ref();
    if let Some(part_target) = seen.part_target_ms {
        if !control.is_some_and(|c| c.can_block) {
            p.push("partial segments without EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES".into());
        }
        match control.and_then(|c| c.part_hold_back_ms) {
            None => p.push("EXT-X-PART-INF without PART-HOLD-BACK".to_owned()),
            Some(hold) if hold < part_target.saturating_mul(3) => {
                p.push(format!("PART-HOLD-BACK {hold} ms is under 3 x PART-TARGET"));
            }
            Some(_) => {}
        }
    }
    let target = seen.target_ms.unwrap_or(0);
    if let Some(until) = control.and_then(|c| c.can_skip_until_ms)
        && until < target.saturating_mul(6)
    {
        p.push(format!(
            "CAN-SKIP-UNTIL {until} ms is under 6 target durations"
        ));
    }
    if let Some(hold) = control.and_then(|c| c.hold_back_ms)
        && hold < target.saturating_mul(3)
    {
        p.push(format!("HOLD-BACK {hold} ms is under 3 target durations"));
    }
    if seen.skips > 1 {
        p.push("more than one EXT-X-SKIP".to_owned());
    }
    if seen.skips > 0 {
        if control.and_then(|c| c.can_skip_until_ms).is_none() {
            p.push("EXT-X-SKIP without CAN-SKIP-UNTIL".to_owned());
        }
        if seen.version < 9 {
            p.push("EXT-X-SKIP needs EXT-X-VERSION 9 or more".to_owned());
        }
    }
}
