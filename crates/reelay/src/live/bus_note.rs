//! What another node's bus message says, decoded and checked for shape before anything acts on
//! it: the one door every message passes after its seal (`cluster/bus.rs`), pure so it can be
//! fuzzed (the tests below feed it arbitrary and mutated messages).
//!
//! A message is one of three: `changes` (no body), `live.<source id>` (a segment that joined a
//! window: [`Announced`] as JSON) or `part.<source id>` (a Low-Latency part: its description
//! as JSON, length first — 4 bytes, big-endian — then its bytes). What is checked here needs no
//! state: the subject names the source the body names, every field has the shape this node
//! gives its own (`SegmentRow::check_shape`, [`PartNote`]'s bounds). What needs state — a known
//! source, a window to lie near — is `shared.rs`'s and `ll/bus.rs`'s.

use bytes::{BufMut, Bytes, BytesMut};
use serde::{Deserialize, Serialize};

use super::SegmentRow;
use super::segment::{is_rendition, is_source_id};

/// The longest part a message may describe (a part is at most a target duration).
const PART_MAX_MS: u64 = 30_000;

/// Most parts a segment may have (a 30 s segment of 30 ms parts).
const PARTS_MAX: u64 = 1_000;

/// A segment that joined a window, as announced to the other nodes.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Announced {
    pub(crate) row: SegmentRow,
    /// The rendition's discontinuity count once it joined.
    pub(crate) discontinuities: u64,
}

/// A part (or a withdrawn segment) as told on the bus.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct PartNote {
    pub source: String,
    pub(crate) rendition: String,
    pub(crate) msn: u64,
    pub(crate) index: u64,
    pub(crate) duration_ms: u64,
    pub(crate) independent: bool,
    /// The segment was withdrawn (its upload failed): its parts go.
    pub(crate) gone: bool,
}

/// A decoded message.
#[derive(Debug)]
pub(crate) enum BusNote {
    Changes,
    Live(Announced),
    Part(PartNote, Bytes),
}

/// A part message's payload.
pub(crate) fn encode_part(note: &PartNote, bytes: &[u8]) -> Option<Bytes> {
    let meta = serde_json::to_vec(note).ok()?;
    let len = u32::try_from(meta.len()).ok()?;
    let mut out = BytesMut::with_capacity(4 + meta.len() + bytes.len());
    out.put_u32(len);
    out.put_slice(&meta);
    out.put_slice(bytes);
    Some(out.freeze())
}

fn split_part(payload: &Bytes) -> Option<(PartNote, Bytes)> {
    let len = usize::try_from(u32::from_be_bytes(payload.get(..4)?.try_into().ok()?)).ok()?;
    let end = len.checked_add(4)?;
    let note = serde_json::from_slice(payload.get(4..end)?).ok()?;
    Some((note, payload.slice(end..)))
}

/// Decodes the message on `topic` (its subject without the cluster's prefix) carrying
/// `payload`; `Err` names what failed (counted in `reelay_cluster_rejected_total{reason}`).
pub(crate) fn decode(
    topic: &str,
    payload: &Bytes,
    max_segment_bytes: u64,
) -> Result<BusNote, &'static str> {
    if topic == "changes" {
        return Ok(BusNote::Changes);
    }
    if let Some(id) = topic.strip_prefix("part.") {
        let (note, bytes) = split_part(payload).ok_or("decode")?;
        check_part(id, &note)?;
        return Ok(BusNote::Part(note, bytes));
    }
    let id = topic.strip_prefix("live.").ok_or("topic")?;
    let note = serde_json::from_slice::<Announced>(payload).map_err(|_| "decode")?;
    if note.row.source_id != id {
        return Err("subject");
    }
    note.row.check_shape(max_segment_bytes)?;
    Ok(BusNote::Live(note))
}

fn check_part(id: &str, note: &PartNote) -> Result<(), &'static str> {
    if note.source != id {
        return Err("subject");
    }
    if !is_source_id(&note.source) {
        return Err("source");
    }
    if !is_rendition(&note.rendition) {
        return Err("rendition");
    }
    let duration_ok = note.gone || (1..=PART_MAX_MS).contains(&note.duration_ms);
    if !duration_ok || note.index >= PARTS_MAX {
        return Err("part");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const MAX: u64 = 64 << 20;

    fn part(gone: bool) -> PartNote {
        PartNote {
            source: "src_0123456789abcdef".into(),
            rendition: "media_0".into(),
            msn: 41,
            index: 3,
            duration_ms: 250,
            independent: true,
            gone,
        }
    }

    /// A well-formed announcement's JSON.
    fn announced() -> Vec<u8> {
        let row = SegmentRow {
            source_id: "src_0123456789abcdef".into(),
            rendition: "index".into(),
            msn: 7,
            file: "7.ts".into(),
            duration_ms: 2000,
            discontinuity: 0,
            pdt_ms: 1_900_000_000_000,
            map_file: None,
            bytes: 1000,
        };
        serde_json::to_vec(&Announced {
            row,
            discontinuities: 0,
        })
        .expect("json")
    }

    #[test]
    fn well_formed_messages_decode_and_a_foreign_subject_does_not() {
        let live = Bytes::from(announced());
        assert!(matches!(
            decode("live.src_0123456789abcdef", &live, MAX),
            Ok(BusNote::Live(_))
        ));
        assert_eq!(
            decode("live.src_ffffffffffffffff", &live, MAX).err(),
            Some("subject")
        );
        let payload = encode_part(&part(false), b"moof+mdat").expect("encode");
        match decode("part.src_0123456789abcdef", &payload, MAX) {
            Ok(BusNote::Part(note, bytes)) => {
                assert_eq!((note, bytes.as_ref()), (part(false), &b"moof+mdat"[..]));
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            decode("changes", &Bytes::new(), MAX),
            Ok(BusNote::Changes)
        ));
        assert_eq!(decode("other", &live, MAX).err(), Some("topic"));
    }

    #[test]
    fn garbage_part_payloads_are_refused() {
        for bad in [
            &b""[..],
            b"\0\0",
            b"\0\0\0\x09{}",
            b"\xff\xff\xff\xff{}",
            b"\0\0\0\x02{}",
        ] {
            let payload = Bytes::copy_from_slice(bad);
            assert_eq!(
                decode("part.src_0123456789abcdef", &payload, MAX).err(),
                Some("decode"),
                "{bad:?}"
            );
        }
    }

    /// What an accepted message must satisfy, whatever it was decoded from.
    fn assert_sound(topic: &str, decoded: &Result<BusNote, &'static str>) {
        match decoded {
            Ok(BusNote::Live(a)) => {
                assert_eq!(Some(a.row.source_id.as_str()), topic.strip_prefix("live."));
                assert_eq!(a.row.check_shape(MAX), Ok(()));
                assert!(
                    !a.row.file.chars().any(char::is_control),
                    "{:?}",
                    a.row.file
                );
            }
            Ok(BusNote::Part(note, _)) => {
                assert_eq!(Some(note.source.as_str()), topic.strip_prefix("part."));
                assert!(is_source_id(&note.source) && is_rendition(&note.rendition));
                assert!(note.index < PARTS_MAX);
            }
            Ok(BusNote::Changes) => assert_eq!(topic, "changes"),
            Err(_) => {}
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        /// The fuzz target: arbitrary subjects and bodies never panic the decoder, and nothing
        /// it accepts lacks the node's own shape.
        #[test]
        fn arbitrary_messages_never_panic_and_what_passes_has_the_nodes_shape(
            topic in prop_oneof![
                Just("changes".to_owned()),
                "live\\.[a-z_0-9]{0,24}",
                "part\\.[a-z_0-9]{0,24}",
                ".{0,30}",
            ],
            body in proptest::collection::vec(any::<u8>(), 0..600),
        ) {
            let payload = Bytes::from(body);
            assert_sound(&topic, &decode(&topic, &payload, MAX));
        }

        /// Well-formed messages with bytes changed, cut or inserted: never a panic, and
        /// whatever still decodes has the node's shape.
        #[test]
        fn mutated_messages_never_panic_and_what_passes_has_the_nodes_shape(
            live in any::<bool>(),
            edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0u8..3), 1..8),
        ) {
            let (topic, mut body) = if live {
                ("live.src_0123456789abcdef", announced())
            } else {
                let payload = encode_part(&part(false), b"moof").expect("encode");
                ("part.src_0123456789abcdef", payload.to_vec())
            };
            for (at, byte, kind) in edits {
                let i = at.index(body.len().max(1));
                match kind {
                    0 if i < body.len() => body[i] = byte,
                    1 if i < body.len() => { body.remove(i); }
                    _ => body.insert(i.min(body.len()), byte),
                }
            }
            let payload = Bytes::from(body);
            assert_sound(topic, &decode(topic, &payload, MAX));
        }
    }
}
