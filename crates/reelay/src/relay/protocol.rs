//! The edge ↔ control protocol, as values: what the control wants an edge to do (the desired
//! state an edge long-polls) and how a forwarded segment is described (request headers).
//! Every connection is opened by the edge:
//!
//! - `POST /api/v1/edge/register` → [`Registered`];
//! - `GET /api/v1/edge/state?version=V` → [`DesiredState`], at once when its version is not `V`,
//!   otherwise when something changes or after one interval (the edge's heartbeat);
//! - `PUT /api/v1/edge/sources/{source}/init/{file}` → an fMP4 init section, before its segments;
//! - `PUT /api/v1/edge/sources/{source}/segments/{msn}.{ext}` with [`SegmentMeta`] headers →
//!   idempotent by `(source, rendition, msn)`;
//! - `PUT /api/v1/edge/sources/{source}/multivariant` → the multivariant playlist the encoder
//!   pushed to the edge;
//! - `PUT /api/v1/edge/sources/{source}/parts/p{msn}-{index}.m4s` with [`PartMeta`] headers → a
//!   Low-Latency part, sent the moment the edge cuts it, before its segment (in order: the
//!   control refuses a part out of step with 409); `DELETE …/parts/{msn}` → that segment's
//!   upload failed at the edge, its parts go.
//!
//! Segments and init sections name their rendition in `reelay-rendition` (absent: the primary
//! one, `index`, which is all an edge from before renditions sends).
//!
//! All authenticate with the edge's own token (`Authorization: Bearer rle_…`).

use http::HeaderMap;

use crate::rules;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

/// What the control wants every edge to do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub(crate) struct DesiredState {
    /// Digest of the rest: equal versions, equal states.
    pub(crate) version: String,
    /// How often the edge must be heard from, milliseconds.
    pub(crate) interval_ms: u64,
    pub(crate) sources: Vec<EdgeSource>,
    /// Open recordings, and recently stopped ones an edge may still hold segments for.
    pub(crate) recordings: Vec<EdgeRecording>,
}

/// A source as an edge needs it: to check ingest tokens and number segments.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub(crate) struct EdgeSource {
    pub id: String,
    pub name: String,
    pub(crate) description: String,
    pub(crate) target_duration: i64,
    /// SHA-256 of the ingest token: the edge checks encoders without knowing the token.
    pub(crate) ingest_token_hash: String,
    /// Forward live segments.
    pub(crate) streaming: bool,
    /// The lowest sequence number the edge may assign next.
    pub(crate) next_msn: i64,
    /// Unix seconds.
    #[serde(default)]
    pub(crate) created_at: i64,
    /// The other renditions' floors (`next_msn` is the primary's).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) renditions: Vec<EdgeRendition>,
}

/// A rendition's lowest sequence number an edge may assign next.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub(crate) struct EdgeRendition {
    pub name: String,
    pub(crate) next_msn: i64,
}

/// A recording: segments overlapping `[start_ms, end_ms)` must reach the control.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub(crate) struct EdgeRecording {
    pub id: String,
    pub(crate) source_id: String,
    pub(crate) start_ms: i64,
    pub(crate) end_ms: Option<i64>,
}

impl EdgeRecording {
    /// Whether the segment starting at `pdt_ms` and lasting `duration_ms` belongs to it.
    pub(crate) fn covers(&self, source_id: &str, pdt_ms: i64, duration_ms: i64) -> bool {
        self.source_id == source_id
            && pdt_ms.saturating_add(duration_ms) > self.start_ms
            && self.end_ms.is_none_or(|end| pdt_ms < end)
    }
}

impl DesiredState {
    /// A state with its version computed from its content.
    pub fn new(interval_ms: u64, sources: Vec<EdgeSource>, recordings: Vec<EdgeRecording>) -> Self {
        let mut state = Self {
            version: String::new(),
            interval_ms,
            sources,
            recordings,
        };
        let digest = Sha256::digest(serde_json::to_vec(&state).unwrap_or_default());
        state.version = crate::hex::encode(&digest[..12]);
        state
    }

    /// Whether a segment is needed by a recording.
    pub(crate) fn recorded(&self, source_id: &str, pdt_ms: i64, duration_ms: i64) -> bool {
        self.recordings
            .iter()
            .any(|r| r.covers(source_id, pdt_ms, duration_ms))
    }
}

/// The answer to a registration.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub(crate) struct Registered {
    pub(crate) edge_id: String,
    pub name: String,
    pub(crate) interval_ms: u64,
}

/// A forwarded segment's description, carried in request headers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SegmentMeta {
    pub(crate) duration_ms: u64,
    pub(crate) pdt_ms: i64,
    pub(crate) discontinuity: bool,
    pub(crate) map_file: Option<String>,
    pub(crate) live: bool,
    /// The rendition (see the module docs).
    pub(crate) rendition: String,
}

pub(crate) const DURATION_HEADER: &str = "reelay-duration-ms";
pub(crate) const PDT_HEADER: &str = "reelay-pdt-ms";
pub(crate) const DISCONTINUITY_HEADER: &str = "reelay-discontinuity";
pub(crate) const MAP_HEADER: &str = "reelay-map";
pub(crate) const LIVE_HEADER: &str = "reelay-live";
pub(crate) const RENDITION_HEADER: &str = "reelay-rendition";

/// The rendition a forwarded upload names: `reelay-rendition`, or the primary one.
pub(crate) fn rendition_from_headers(headers: &HeaderMap) -> Result<String, String> {
    match headers.get(RENDITION_HEADER) {
        None => Ok(crate::live::sources::PRIMARY.to_owned()),
        Some(v) => v
            .to_str()
            .ok()
            .filter(|r| reelay_hls::is_rendition_name(&format!("{r}.m3u8")))
            .map(str::to_owned)
            .ok_or_else(|| format!("{RENDITION_HEADER} is not a rendition name")),
    }
}

/// A forwarded Low-Latency part's description, carried in request headers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PartMeta {
    pub(crate) duration_ms: u64,
    /// It starts with a sync sample.
    pub(crate) independent: bool,
    /// The rendition (see the module docs).
    pub(crate) rendition: String,
}

pub(crate) const INDEPENDENT_HEADER: &str = "reelay-independent";
/// Largest part accepted, bytes.
pub(crate) const MAX_PART_BYTES: u64 = 16 << 20;

impl PartMeta {
    pub(crate) fn to_headers(&self) -> Vec<(&'static str, String)> {
        let mut headers = vec![
            (DURATION_HEADER, self.duration_ms.to_string()),
            (INDEPENDENT_HEADER, u8::from(self.independent).to_string()),
        ];
        push_rendition(&mut headers, &self.rendition);
        headers
    }

    /// Reads the headers strictly, as [`SegmentMeta::from_headers`] does.
    pub(crate) fn from_headers(headers: &HeaderMap) -> Result<Self, String> {
        let duration_ms = header_number(headers, DURATION_HEADER, rules::PART_DURATION_MS)?
            .ok_or_else(|| format!("{DURATION_HEADER} is missing"))?;
        Ok(Self {
            duration_ms: duration_ms.unsigned_abs(),
            independent: header_flag(headers, INDEPENDENT_HEADER)?,
            rendition: rendition_from_headers(headers)?,
        })
    }
}

/// Header `name`'s value as text, if present.
fn header_text<'a>(headers: &'a HeaderMap, name: &str) -> Result<Option<&'a str>, String> {
    headers
        .get(name)
        .map(|v| v.to_str().map_err(|_| format!("{name} is not text")))
        .transpose()
}

/// Header `name`'s value, if present: digits only, a number within `range` (a rule of
/// [`crate::rules`], as the OpenAPI document states it).
fn header_number(
    headers: &HeaderMap,
    name: &str,
    range: rules::Range,
) -> Result<Option<i64>, String> {
    let Some(text) = header_text(headers, name)? else {
        return Ok(None);
    };
    Some(text)
        .filter(|t| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|t| t.parse().ok())
        .filter(|n| range.admits(*n))
        .map(Some)
        .ok_or_else(|| format!("{name} must be {}-{}", range.min, range.max))
}

/// A flag header ([`rules::FLAG`]): absent or `0` is false, `1` true, anything else refused.
fn header_flag(headers: &HeaderMap, name: &str) -> Result<bool, String> {
    match header_text(headers, name)? {
        None => Ok(false),
        Some(flag) if flag == rules::FLAG[0] => Ok(false),
        Some(flag) if flag == rules::FLAG[1] => Ok(true),
        Some(_) => Err(format!("{name} must be 0 or 1")),
    }
}

/// `reelay-rendition`, unless it is the primary rendition (which an absent header means).
fn push_rendition(headers: &mut Vec<(&'static str, String)>, rendition: &str) {
    if rendition != crate::live::sources::PRIMARY {
        headers.push((RENDITION_HEADER, rendition.to_owned()));
    }
}

/// Segment extensions an edge forwards.
pub(crate) const SEGMENT_EXTENSIONS: [&str; 2] = ["ts", "m4s"];

impl SegmentMeta {
    pub(crate) fn to_headers(&self) -> Vec<(&'static str, String)> {
        let mut headers = vec![
            (DURATION_HEADER, self.duration_ms.to_string()),
            (PDT_HEADER, self.pdt_ms.to_string()),
            (
                DISCONTINUITY_HEADER,
                u8::from(self.discontinuity).to_string(),
            ),
            (LIVE_HEADER, u8::from(self.live).to_string()),
        ];
        if let Some(map) = &self.map_file {
            headers.push((MAP_HEADER, map.clone()));
        }
        push_rendition(&mut headers, &self.rendition);
        headers
    }

    /// Reads the headers strictly: every number checked, every flag `0` or `1`.
    pub(crate) fn from_headers(headers: &HeaderMap) -> Result<Self, String> {
        let text = |name: &str| header_text(headers, name);
        let required = |name: &str, range| {
            header_number(headers, name, range)?.ok_or_else(|| format!("{name} is missing"))
        };
        let flag = |name: &str| header_flag(headers, name);
        let duration_ms = required(DURATION_HEADER, rules::SEGMENT_DURATION_MS)?.unsigned_abs();
        let pdt_ms = required(PDT_HEADER, rules::PRODUCED_MS)?;
        let map_file = match text(MAP_HEADER)? {
            None => None,
            Some(m) if is_init_name(m) => Some(m.to_owned()),
            Some(_) => return Err(format!("{MAP_HEADER} is not an init section name")),
        };
        Ok(Self {
            duration_ms,
            pdt_ms,
            discontinuity: flag(DISCONTINUITY_HEADER)?,
            map_file,
            live: flag(LIVE_HEADER)?,
            rendition: rendition_from_headers(headers)?,
        })
    }
}

/// `init-<digits>.mp4`, the names an edge gives init sections (as the node gives its own).
pub use crate::live::segment::is_init_name;

/// A segment's number as a path names it ([`rules::SEGMENT_NUMBER`]: 1-19 digits, so always a
/// `u64`).
pub(crate) fn parse_segment_number(text: &str) -> Option<u64> {
    Some(text)
        .filter(|t| (1..=19).contains(&t.len()) && t.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|t| t.parse().ok())
}

/// `<msn>.<ext>` → `(msn, ext)`.
pub(crate) fn parse_segment_file(file: &str) -> Option<(u64, &str)> {
    let (msn, ext) = file.split_once('.')?;
    if msn.is_empty() || msn.len() > 19 || !msn.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let ext = SEGMENT_EXTENSIONS.iter().find(|e| **e == ext)?;
    Some((msn.parse().ok()?, ext))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Longest segment accepted, milliseconds.
    const MAX_DURATION_MS: u64 = rules::SEGMENT_DURATION_MS.max.unsigned_abs();
    /// Longest part accepted, milliseconds.
    const MAX_PART_MS: u64 = rules::PART_DURATION_MS.max.unsigned_abs();

    fn meta() -> SegmentMeta {
        SegmentMeta {
            duration_ms: 2000,
            pdt_ms: 1_700_000_000_000,
            discontinuity: true,
            map_file: Some("init-42.mp4".into()),
            live: false,
            rendition: "stream_1".into(),
        }
    }

    #[test]
    fn segment_meta_round_trips_through_headers() {
        let headers = header_map(meta().to_headers());
        assert_eq!(SegmentMeta::from_headers(&headers), Ok(meta()));
    }

    #[test]
    fn segment_meta_refuses_bad_numbers_and_names() {
        for (name, bad) in [
            (DURATION_HEADER, "0"),
            (DURATION_HEADER, "99999999999999999999999"),
            (DURATION_HEADER, "-1"),
            (PDT_HEADER, "-5"),
            (PDT_HEADER, "x"),
            (DISCONTINUITY_HEADER, "2"),
            (MAP_HEADER, "../init-1.mp4"),
            (MAP_HEADER, "init-.mp4"),
            (RENDITION_HEADER, "../x"),
            (RENDITION_HEADER, "a.b"),
        ] {
            let mut headers = header_map(meta().to_headers());
            headers.insert(name, bad.parse().expect("header"));
            assert!(
                SegmentMeta::from_headers(&headers).is_err(),
                "{name}: {bad}"
            );
        }
        assert!(SegmentMeta::from_headers(&HeaderMap::new()).is_err());
    }

    fn header_map(pairs: Vec<(&'static str, String)>) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for (name, value) in pairs {
            headers.append(name, value.parse().expect("header"));
        }
        headers
    }

    /// A header's value in a property test: sometimes absent, mostly of `form`, sometimes any text.
    fn field(form: &'static str) -> impl proptest::strategy::Strategy<Value = Option<String>> {
        proptest::option::weighted(0.9, proptest::prop_oneof![9 => form, 1 => "[ -~]{0,24}"])
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(1000))]

        // The stable twin of the `edge_headers` fuzz target.
        #[test]
        fn every_valid_segment_meta_round_trips_through_headers(
            duration_ms in 1u64..=MAX_DURATION_MS,
            pdt_ms in 0i64..=i64::MAX,
            discontinuity: bool,
            live: bool,
            map in proptest::option::of(0u64..=u64::MAX),
            rendition in "[a-z][a-z0-9_]{0,15}",
        ) {
            proptest::prop_assume!(reelay_hls::is_rendition_name(&format!("{rendition}.m3u8")));
            let meta = SegmentMeta {
                duration_ms, pdt_ms, discontinuity, live, rendition,
                map_file: map.map(|n| format!("init-{n}.mp4")),
            };
            let headers = header_map(meta.to_headers());
            proptest::prop_assert_eq!(SegmentMeta::from_headers(&headers), Ok(meta));
        }

        #[test]
        fn any_header_values_are_accepted_only_within_bounds(
            // Per header: absent, a near miss of its own form, or any text.
            values in (
                field("[0-9]{1,7}"), field("[0-9]{1,19}"), field("[01]"),
                field("init-[0-9]{0,21}\\.mp4"), field("[01]"), field("[a-z][a-z0-9_]{0,8}"),
            ),
        ) {
            let names = [DURATION_HEADER, PDT_HEADER, DISCONTINUITY_HEADER, MAP_HEADER, LIVE_HEADER,
                RENDITION_HEADER];
            let (d, p, di, m, l, r) = values;
            let pairs = names.into_iter().zip([d, p, di, m, l, r])
                .filter_map(|(n, v)| Some((n, v?.trim().to_owned())));
            if let Ok(meta) = SegmentMeta::from_headers(&header_map(pairs.collect())) {
                proptest::prop_assert!((1..=MAX_DURATION_MS).contains(&meta.duration_ms));
                proptest::prop_assert!(meta.pdt_ms >= 0);
                proptest::prop_assert!(meta.map_file.as_deref().is_none_or(is_init_name));
                proptest::prop_assert_eq!(
                    SegmentMeta::from_headers(&header_map(meta.to_headers())),
                    Ok(meta)
                );
            }
        }
    }

    #[test]
    fn part_meta_round_trips_and_refuses_what_is_out_of_bounds() {
        let meta = PartMeta {
            duration_ms: 250,
            independent: true,
            rendition: "media_1".into(),
        };
        assert_eq!(
            PartMeta::from_headers(&header_map(meta.to_headers())),
            Ok(meta)
        );
        let primary = PartMeta {
            duration_ms: MAX_PART_MS,
            independent: false,
            rendition: crate::live::sources::PRIMARY.into(),
        };
        let headers = header_map(primary.to_headers());
        assert!(!headers.contains_key(RENDITION_HEADER));
        assert_eq!(PartMeta::from_headers(&headers), Ok(primary));
        for (name, bad) in [
            (DURATION_HEADER, "0"),
            (DURATION_HEADER, "10001"),
            (DURATION_HEADER, "x"),
            (INDEPENDENT_HEADER, "yes"),
            (RENDITION_HEADER, "../x"),
        ] {
            let mut headers = header_map(vec![(DURATION_HEADER, "250".into())]);
            headers.insert(name, bad.parse().expect("header"));
            assert!(PartMeta::from_headers(&headers).is_err(), "{name}: {bad}");
        }
        assert!(PartMeta::from_headers(&HeaderMap::new()).is_err());
    }

    #[test]
    fn segment_files_are_number_dot_known_extension() {
        assert_eq!(parse_segment_file("17.ts"), Some((17, "ts")));
        assert_eq!(parse_segment_file("0.m4s"), Some((0, "m4s")));
        for bad in [
            "x.ts",
            ".ts",
            "1.exe",
            "1",
            "1.ts.ts",
            "99999999999999999999.ts",
            "-1.ts",
        ] {
            assert_eq!(parse_segment_file(bad), None, "{bad}");
        }
    }

    #[test]
    fn a_recording_covers_segments_overlapping_its_span() {
        let rec = EdgeRecording {
            id: "r".into(),
            source_id: "s".into(),
            start_ms: 10_000,
            end_ms: Some(20_000),
        };
        assert!(rec.covers("s", 9_000, 2_000)); // straddles the start
        assert!(rec.covers("s", 19_999, 2_000)); // starts before the end
        assert!(!rec.covers("s", 8_000, 2_000)); // ends exactly at the start
        assert!(!rec.covers("s", 20_000, 2_000)); // starts at the end
        assert!(!rec.covers("t", 12_000, 2_000)); // another source
        let open = EdgeRecording {
            end_ms: None,
            ..rec
        };
        assert!(open.covers("s", i64::MAX - 1, 2_000));
    }

    #[test]
    fn versions_change_with_content_only() {
        let a = DesiredState::new(5000, vec![], vec![]);
        assert_eq!(a, DesiredState::new(5000, vec![], vec![]));
        assert_ne!(a.version, DesiredState::new(6000, vec![], vec![]).version);
    }
}
