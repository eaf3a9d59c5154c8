//! The LL-HLS checker: every playlist the LL model renders conforms; each broken rule is
//! reported; no input makes it panic.

use proptest::prelude::*;
use reelay_hls::live::rounded_secs;
use reelay_hls::{
    LiveEdge, LlPlaylist, LlSegment, Part, PartLog, Position, RenditionReport, Skip,
    check_ll_media_playlist, parse_ll_query,
};

/// A segment of 1-8 parts, each at most `part_target` ms, the first independent.
fn segment(part_target: u64) -> impl Strategy<Value = LlSegment> {
    (
        0u32..100_000,
        proptest::collection::vec(1..=part_target, 1..=8),
        any::<bool>(),
        proptest::option::of(0i64..4_000_000_000_000),
    )
        .prop_map(|(n, durations, discontinuity, pdt)| LlSegment {
            uri: format!("{n}.m4s"),
            duration_ms: durations.iter().sum(),
            parts: durations
                .iter()
                .enumerate()
                .map(|(i, &ms)| Part {
                    uri: format!("{n}.{i}.m4s"),
                    duration_ms: ms,
                    independent: i == 0,
                    byterange: None,
                })
                .collect(),
            discontinuity,
            program_date_time_ms: pdt,
        })
}

fn playlist() -> impl Strategy<Value = LlPlaylist> {
    (100u64..=2_000).prop_flat_map(|part_target| {
        (
            Just(part_target),
            proptest::collection::vec(segment(part_target), 0..12),
            proptest::collection::vec(1..=part_target, 0..4),
            any::<bool>(),
            0u64..5,
            0u64..1_000_000,
        )
            .prop_map(|(part_target, segments, pending, hint, skipped, msn)| {
                let longest = segments.iter().map(|s| s.duration_ms).max().unwrap_or(0);
                let target = rounded_secs(longest).max(1);
                let mut p = LlPlaylist::new(target, part_target);
                p.media_sequence = msn;
                p.skipped = skipped;
                p.map_uri = Some("init.mp4".into());
                p.pending = pending
                    .iter()
                    .enumerate()
                    .map(|(i, &ms)| Part {
                        uri: format!("next.{i}.m4s"),
                        duration_ms: ms,
                        independent: i == 0,
                        byterange: None,
                    })
                    .collect();
                p.segments = segments;
                p.preload_hint = hint.then(|| ("next.hint.m4s".to_owned(), None));
                p.reports.push(RenditionReport {
                    uri: "../audio/index.m3u8".into(),
                    last_msn: msn,
                    last_part: Some(0),
                });
                p
            })
    })
}

/// Query strings of LL-HLS directives among others: the three names (often repeated), names
/// that only look like them, and values at the edges of a decimal-integer (RFC 8216bis §4.2:
/// 1-20 digits, at most 2^64-1) and beyond, the skip words and junk.
fn ll_query() -> impl Strategy<Value = String> {
    let name = prop_oneof![
        3 => Just("_HLS_msn"),
        3 => Just("_HLS_part"),
        2 => Just("_HLS_skip"),
        1 => Just("_hls_part"),
        1 => Just("_HLS_msn_"),
        1 => Just("sig"),
        1 => Just(""),
    ];
    let value = prop_oneof![
        6 => (0u64..1_000).prop_map(|n| n.to_string()),
        1 => Just(u64::MAX.to_string()),
        1 => Just("18446744073709551616".to_owned()),
        1 => Just("000000000000000000007".to_owned()),
        1 => Just("00000000000000000007".to_owned()),
        1 => Just("-1".to_owned()),
        1 => Just("+1".to_owned()),
        1 => Just("1e3".to_owned()),
        1 => Just(String::new()),
        2 => Just("YES".to_owned()),
        1 => Just("v2".to_owned()),
        1 => Just("yes".to_owned()),
    ];
    let pair = prop_oneof![
        6 => (name.clone(), value).prop_map(|(n, v)| format!("{n}={v}")),
        1 => name.prop_map(str::to_owned),
    ];
    proptest::collection::vec(pair, 0..5).prop_map(|pairs| pairs.join("&"))
}

/// A query as read: the segment and part waited for, if any, and the skip asked for.
type Reading = (Option<(u64, Option<u64>)>, Skip);

/// What RFC 8216bis §6.2.5.2 makes of `query`, written apart from the parser: the position
/// waited for and the skip asked for, or `None` for a 400 (a directive given twice, a number
/// that is not a decimal-integer, a skip other than YES or v2, `_HLS_part` alone).
fn model(query: &str) -> Option<Reading> {
    let (mut msn, mut part, mut skip) = (Vec::new(), Vec::new(), Vec::new());
    for pair in query.split('&') {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        match name {
            "_HLS_msn" => msn.push(value),
            "_HLS_part" => part.push(value),
            "_HLS_skip" => skip.push(value),
            _ => {}
        }
    }
    let integer = |v: &str| {
        let digits = (1..=20).contains(&v.len()) && v.bytes().all(|b| b.is_ascii_digit());
        digits.then(|| v.parse::<u64>().ok()).flatten()
    };
    let one = |values: &[&str]| -> Option<Option<u64>> {
        match values {
            [] => Some(None),
            [v] => integer(v).map(Some),
            _ => None,
        }
    };
    let (msn, part) = (one(&msn)?, one(&part)?);
    let skip = match skip.as_slice() {
        [] => Skip::No,
        ["YES"] => Skip::Yes,
        ["v2"] => Skip::V2,
        _ => return None,
    };
    match (msn, part) {
        (None, Some(_)) => None,
        (None, None) => Some((None, skip)),
        (Some(m), p) => Some((Some((m, p)), skip)),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn rendered_ll_playlists_conform(p in playlist()) {
        let text = p.render();
        let problems = check_ll_media_playlist(&text);
        prop_assert!(problems.is_empty(), "{problems:?}\n{text}");
    }

    #[test]
    fn a_part_over_the_part_target_is_reported(p in playlist(), extra in 2u64..1_000) {
        prop_assume!(!p.segments.is_empty());
        let mut p = p;
        let part_target = p.part_target_ms;
        let segment = &mut p.segments[0];
        segment.parts[0].duration_ms = part_target + extra;
        segment.duration_ms = segment.parts.iter().map(|x| x.duration_ms).sum();
        p.target_duration = p.target_duration.max(rounded_secs(segment.duration_ms));
        let problems = check_ll_media_playlist(&p.render());
        prop_assert!(problems.iter().any(|m| m.contains("longer than PART-TARGET")), "{problems:?}");
    }

    #[test]
    fn a_satisfied_wait_stays_satisfied_as_the_live_edge_advances(
        next in 0u64..1_000, grow in 0u64..5, last in proptest::option::of((0u64..1_000, 0u64..10)),
        step in (0u64..3, 0u64..10), msn in 0u64..1_010, part in proptest::option::of(0u64..12),
    ) {
        let before = LiveEdge { next_msn: next, last_part: last, part_target_ms: 500 };
        let later_part = last.map(|(m, i)| if step.0 == 0 { (m, i + step.1) } else { (m + step.0, step.1) });
        let after = LiveEdge { next_msn: next + grow, last_part: later_part.or(last), ..before };
        let at = Position { msn, part };
        prop_assert!(!before.satisfies(at) || after.satisfies(at));
    }

    #[test]
    fn any_query_parses_as_the_rfc_reads_it_or_is_refused(text in ll_query()) {
        let got = parse_ll_query(Some(&text)).ok().map(|q| (q.block.map(|b| (b.msn, b.part)), q.skip));
        prop_assert_eq!(got, model(&text), "{}", text);
    }

    #[test]
    fn any_text_as_a_query_is_read_without_panicking(text in "([_a-zA-Z]{0,9}(=[-0-9a-zA-Z.]{0,22})?&?){0,6}") {
        let _ = parse_ll_query(Some(&text));
    }

    #[test]
    fn a_part_log_serves_conforming_playlists_full_and_delta_at_every_step(
        part_target in 200u64..=1_000,
        segments in proptest::collection::vec(proptest::collection::vec(0.2f64..=1.0, 1..10), 1..20),
        window in 2usize..12,
    ) {
        let mut log = PartLog::new(1, part_target, window, 100);
        log.set_map("init.mp4".into());
        for (n, parts) in segments.iter().enumerate() {
            let mut total = 0;
            for (i, share) in parts.iter().enumerate() {
                let ms = ((part_target as f64 * share) as u64).max(1);
                total += ms;
                let index = log.push_part(Part {
                    uri: format!("{n}.{i}.m4s"),
                    duration_ms: ms,
                    independent: i == 0,
                    byterange: None,
                });
                let edge = log.edge();
                let newest = Position { msn: log.next_msn(), part: Some(index) };
                prop_assert!(edge.satisfies(newest), "{:?}", edge);
                for delta in [false, true] {
                    let text = log.playlist(delta, Some(format!("{n}.{}.m4s", i + 1))).render();
                    let problems = check_ll_media_playlist(&text);
                    prop_assert!(problems.is_empty(), "{problems:?}\n{text}");
                }
            }
            log.finish_segment(format!("{n}.m4s"), total, None);
            let finished = Position { msn: log.next_msn() - 1, part: None };
            prop_assert!(log.edge().satisfies(finished), "{:?}", log.edge());
        }
    }

    #[test]
    fn the_checker_never_panics(text in "(#EXT[-A-Z]{0,12}(:[-A-Z=,\"0-9.@]{0,30})?\n|[a-z0-9.]{1,8}\n){0,30}") {
        let _ = check_ll_media_playlist(&text);
    }
}

fn valid() -> String {
    let mut p = LlPlaylist::new(2, 500);
    let part = |uri: &str| Part {
        uri: uri.into(),
        duration_ms: 500,
        independent: true,
        byterange: None,
    };
    p.segments.push(LlSegment {
        uri: "0.m4s".into(),
        duration_ms: 1000,
        parts: vec![part("0.0.m4s"), part("0.1.m4s")],
        discontinuity: false,
        program_date_time_ms: None,
    });
    p.pending.push(part("1.0.m4s"));
    p.preload_hint = Some(("1.1.m4s".into(), None));
    p.render()
}

/// `valid()` with `from` replaced by `to` (which must occur).
fn broken(from: &str, to: &str) -> Vec<String> {
    let text = valid();
    assert!(text.contains(from), "{from:?} not in\n{text}");
    check_ll_media_playlist(&text.replacen(from, to, 1))
}

fn says(problems: &[String], needle: &str) -> bool {
    problems.iter().any(|p| p.contains(needle))
}

#[test]
fn the_valid_example_conforms() {
    assert_eq!(check_ll_media_playlist(&valid()), Vec::<String>::new());
}

#[test]
fn parts_need_part_inf_blocking_reload_and_a_part_hold_back_of_three_part_targets() {
    let no_inf = broken("#EXT-X-PART-INF:PART-TARGET=0.500\n", "");
    assert!(says(&no_inf, "without EXT-X-PART-INF"), "{no_inf:?}");
    let no_block = broken("CAN-BLOCK-RELOAD=YES", "CAN-BLOCK-RELOAD=NO");
    assert!(says(&no_block, "CAN-BLOCK-RELOAD=YES"), "{no_block:?}");
    let short = broken("PART-HOLD-BACK=1.500", "PART-HOLD-BACK=1.000");
    assert!(says(&short, "under 3 x PART-TARGET"), "{short:?}");
    let missing = broken(",PART-HOLD-BACK=1.500", "");
    assert!(says(&missing, "without PART-HOLD-BACK"), "{missing:?}");
}

#[test]
fn skip_until_hold_back_and_delta_updates_follow_their_minimums() {
    let short_skip = broken("CAN-SKIP-UNTIL=12.000", "CAN-SKIP-UNTIL=11.000");
    assert!(
        says(&short_skip, "under 6 target durations"),
        "{short_skip:?}"
    );
    let hold = broken(
        "CAN-BLOCK-RELOAD=YES",
        "CAN-BLOCK-RELOAD=YES,HOLD-BACK=5.000",
    );
    assert!(says(&hold, "HOLD-BACK 5000 ms"), "{hold:?}");
    let skip = "#EXT-X-SKIP:SKIPPED-SEGMENTS=2\n#EXT-X-PART:";
    let old_version = broken("#EXT-X-PART:", skip);
    assert!(says(&old_version, "VERSION 9"), "{old_version:?}");
    let no_skip = broken(",CAN-SKIP-UNTIL=12.000", "").join("\n");
    assert!(
        !no_skip.contains("EXT-X-SKIP"),
        "no skip tag, no skip problem"
    );
    let late = broken(
        "#EXTINF:1.000,\n0.m4s\n",
        "#EXTINF:1.000,\n0.m4s\n#EXT-X-SKIP:SKIPPED-SEGMENTS=1\n",
    );
    assert!(says(&late, "after the first segment"), "{late:?}");
}

#[test]
fn hints_parts_and_reports_need_their_attributes() {
    let second = broken(
        "#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"1.1.m4s\"\n",
        "#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"1.1.m4s\"\n#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"x\"\n",
    );
    assert!(says(&second, "second EXT-X-PRELOAD-HINT"), "{second:?}");
    let kind = broken("TYPE=PART", "TYPE=SEGMENT");
    assert!(says(&kind, "PART or MAP"), "{kind:?}");
    let no_uri = broken("URI=\"0.0.m4s\"", "X=1");
    assert!(says(&no_uri, "no quoted URI"), "{no_uri:?}");
    let no_duration = broken("DURATION=0.500,URI=\"0.1.m4s\"", "URI=\"0.1.m4s\"");
    assert!(says(&no_duration, "no DURATION"), "{no_duration:?}");
    let sum = broken("#EXTINF:1.000,", "#EXTINF:1.900,");
    assert!(says(&sum, "parts last 1000 ms"), "{sum:?}");
    let dangling = broken(
        "URI=\"0.0.m4s\",INDEPENDENT=YES",
        "URI=\"0.0.m4s\",INDEPENDENT=YES,BYTERANGE=\"100\"",
    );
    assert!(
        says(&dangling, "must follow a part of the same URI"),
        "{dangling:?}"
    );
    let report = format!(
        "{}#EXT-X-RENDITION-REPORT:URI=\"a.m3u8\",LAST-PART=1\n",
        valid()
    );
    let problems = check_ll_media_playlist(&report);
    assert!(
        says(&problems, "LAST-MSN must be an integer"),
        "{problems:?}"
    );
}
