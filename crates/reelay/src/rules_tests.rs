//! Each validator held to the rule the document states: on strings on both sides of every edge
//! of the rule, the validator admits exactly what the pattern and the lengths admit.

use regex::Regex;

use super::*;
use crate::storage::{ObjectKey, validate_bucket_name};

/// Whether `value` obeys `rule` as a JSON Schema validator reads it (lengths in characters).
fn obeys(rule: Text, value: &str) -> bool {
    // The `regex` crate reads no lookahead: the one this module uses is checked by hand.
    let (pattern, not_src) = match rule.pattern.strip_prefix("^(?!src_)") {
        Some(rest) => (format!("^{rest}"), true),
        None => (rule.pattern.to_owned(), false),
    };
    let chars = value.chars().count();
    Regex::new(&pattern).expect("pattern").is_match(value)
        && (rule.min_len..=rule.max_len).contains(&chars)
        && !(not_src && value.starts_with("src_"))
}

fn names() -> Vec<String> {
    let mut v: Vec<String> = [
        "", "a", "A-z_0.9", ".hidden", "-dash", "_under", "a.b", "a/b", "a b", "é", "a\\b", "a\0",
        "src_", "src_1", "srcx", "src", "x.", "..", "\u{85}", "a\u{7f}",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    v.extend([
        "a".repeat(62),
        "a".repeat(63),
        "a".repeat(64),
        "é".repeat(63),
    ]);
    v
}

#[test]
fn bucket_names_are_what_their_rule_states() {
    for name in names() {
        assert_eq!(
            validate_bucket_name(&name).is_ok(),
            obeys(BUCKET_NAME, &name),
            "{name:?}"
        );
    }
}

#[test]
fn source_names_are_what_their_rule_states() {
    for name in names() {
        assert_eq!(
            crate::live::sources::validate_name(&name).is_ok(),
            obeys(SOURCE_NAME, &name),
            "{name:?}"
        );
    }
}

#[test]
fn plain_file_names_are_what_their_rule_states() {
    let mut samples = names();
    samples.extend(["a".repeat(128), "a".repeat(129), "init-1.mp4".to_owned()]);
    for name in samples {
        assert_eq!(
            reelay_hls::is_plain_name(&name),
            obeys(PLAIN_FILE, &name),
            "{name:?}"
        );
    }
}

#[test]
fn object_keys_are_what_their_rule_states_within_ascii() {
    let mut keys: Vec<String> = [
        "a",
        "a/b",
        "dir/sub/clip.mkv",
        "%2e%2e",
        "a..b",
        "名前.mp3",
        "",
        "/a",
        "a/",
        "a//b",
        "./a",
        "a/../b",
        ".env",
        "a/.git",
        "a\\b",
        "a\0b",
        "a\u{9f}b",
        "a\u{a0}b",
        "a b",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    let long = "a".repeat(255);
    keys.extend([
        long.clone(),
        format!("{long}a"),
        format!("{long}/{long}/{long}/{}", "a".repeat(255)),
        format!("{long}/{long}/{long}/{}", "a".repeat(256)),
        format!("{long}/{long}/{long}/{long}/a"),
    ]);
    for key in keys {
        assert_eq!(
            ObjectKey::parse(&key).is_ok(),
            obeys(OBJECT_KEY, &key),
            "{key:?}"
        );
    }
}

#[test]
fn token_names_are_what_their_rule_states_once_trimmed() {
    for (name, ok) in [
        ("ci", true),
        ("  padded  ", true),
        ("", false),
        ("   ", false),
        ("tab\there", false),
        ("é", true),
    ] {
        assert_eq!(obeys(TOKEN_NAME, name), ok, "{name:?}");
    }
    assert!(obeys(TOKEN_NAME, &"é".repeat(200)));
    assert!(!obeys(TOKEN_NAME, &"é".repeat(201)));
}

#[test]
fn signed_paths_admit_escaped_utf8_and_no_query() {
    for (path, ok) in [
        ("/media/a.mp4", true),
        ("/media/trip/day%201.mp4", true),
        ("/media/caf%C3%A9.mp4", true),
        ("/live/", true),
        ("/v1/vod/recording/rec_1/vid.m3u8", true),
        ("/media/a.mp4?x=1", false),
        ("/media/a#b", false),
        ("/other/a", false),
        ("/media/%FF", false),
        ("/media/%F0%83%96%BB", false),
        ("/media/%F0%9F%8E%AC", true),
        ("/media/%E0%80%80", false),
        ("/media/%ED%A0%80", false),
        ("/media/%ED%9F%BF", true),
        ("/media/a b", false),
    ] {
        assert_eq!(obeys(SIGNED_PATH, path), ok, "{path:?}");
    }
}

#[test]
fn the_bounds_the_validators_read_are_the_rules() {
    assert_eq!(reelay_http::disposition::MAX_NAME_BYTES, DOWNLOAD_NAME_LEN);
    assert!(crate::live::sources::validate_target(TARGET_DURATION.max).is_ok());
    assert!(crate::live::sources::validate_target(TARGET_DURATION.max + 1).is_err());
    assert!(crate::live::sources::validate_target(TARGET_DURATION.min - 1).is_err());
    for role in ROLES {
        assert!(crate::auth::token::Role::parse(role).is_some(), "{role}");
    }
    assert!(crate::auth::token::Role::parse("root").is_none());
}

fn edge_names() -> Vec<String> {
    let mut v: Vec<String> = [
        "",
        "0",
        "1",
        "+1",
        "-1",
        "01",
        "1.ts",
        "0.m4s",
        "1.mp4",
        "a.ts",
        "1.ts.ts",
        ".ts",
        "1 .ts",
        "init-1.mp4",
        "init-.mp4",
        "init-a.mp4",
        "init-1.m4s",
        "p1-0.m4s",
        "p-0.m4s",
        "p1-.m4s",
        "p1_0.m4s",
        "P1-0.m4s",
        "p1-0.ts",
        "index",
        "stream_1",
        "-x",
        "_x",
        "a.b",
        "a b",
        "é",
        "x-",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    let digits = |n: usize| "9".repeat(n);
    v.extend([
        digits(19),
        digits(20),
        format!("{}.ts", digits(19)),
        format!("{}.m4s", digits(20)),
        format!("init-{}.mp4", digits(20)),
        format!("init-{}.mp4", digits(21)),
        format!("p{}-{}.m4s", digits(19), digits(19)),
        format!("p{}-1.m4s", digits(20)),
        format!("p1-{}.m4s", digits(20)),
        "a".repeat(64),
        "a".repeat(65),
    ]);
    v
}

#[test]
fn edge_protocol_names_are_what_their_rules_state() {
    use crate::relay::protocol::{is_init_name, parse_segment_file, parse_segment_number};
    for name in edge_names() {
        let said = |rule| obeys(rule, &name);
        assert_eq!(
            parse_segment_file(&name).is_some(),
            said(SEGMENT_FILE),
            "{name:?}"
        );
        assert_eq!(is_init_name(&name), said(INIT_FILE), "{name:?}");
        assert_eq!(
            crate::live::ll::view::parse_part_uri(&name).is_some(),
            said(PART_FILE),
            "{name:?}"
        );
        assert_eq!(
            parse_segment_number(&name).is_some(),
            said(SEGMENT_NUMBER),
            "{name:?}"
        );
        assert_eq!(
            reelay_hls::is_rendition_name(&format!("{name}.m3u8")),
            said(RENDITION),
            "{name:?}"
        );
    }
}
