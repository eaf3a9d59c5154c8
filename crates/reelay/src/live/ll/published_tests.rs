//! Unit tests of `ll/published.rs`: parts by segment, forwarded parts in step, events, abandonment.

use super::*;

fn part(ms: u64, independent: bool) -> StoredPart {
    StoredPart {
        bytes: Bytes::from_static(b"x"),
        duration_ms: ms,
        independent,
    }
}

#[test]
fn the_part_target_is_learned_from_the_first_fragment_with_headroom() {
    assert_eq!(learned_part_target(280), 310);
    assert_eq!(learned_part_target(256), 290);
    assert_eq!(learned_part_target(10), 100);
}

#[test]
fn parts_are_indexed_per_segment_and_old_segments_drop_out() {
    let ll = LowLatency::new(0);
    assert!(ll.view("s", "v").is_none(), "not low-latency before a part");
    assert!(!ll.is_low_latency("s", "v"));
    ll.begin("s", "v", 5);
    assert_eq!(ll.publish("s", "v", 5, part(280, true)), (0, false));
    assert_eq!(ll.publish("s", "v", 5, part(400, false)), (1, true));
    assert_eq!(ll.duration("s", "v", 5), Some(680));
    ll.end("s", "v", 5);
    let view = ll.view("s", "v").expect("view");
    assert_eq!(view.part_target_ms, 310);
    assert_eq!(view.segments[&5], vec![(280, true), (400, false)]);
    assert_eq!(view.arriving, None);
    ll.begin("s", "v", 5 + KEPT_SEGMENTS + 1);
    assert!(
        ll.part("s", "v", 5, 0).is_none(),
        "older than the kept segments"
    );
    assert_eq!(ll.renditions_of("s"), ["v"]);
    assert!(ll.is_low_latency("s", "v"));
}

#[test]
fn forwarded_parts_are_taken_in_step_and_refused_once_their_segment_is_listed() {
    let ll = LowLatency::new(0);
    let at = ("s", "v");
    assert_eq!(
        ll.accept(at, 7, 1, part(250, false)),
        Err(PartRefused::OutOfStep {
            msn: 7,
            index: 1,
            have: 0
        })
    );
    ll.accept(at, 7, 0, part(250, true)).expect("first part");
    assert_eq!(ll.view("s", "v").expect("view").arriving, Some(7));
    ll.accept(at, 7, 1, part(250, false)).expect("second part");
    assert!(
        matches!(
            ll.accept(at, 7, 1, part(250, false)),
            Err(PartRefused::OutOfStep { .. })
        ),
        "a part sent twice"
    );
    assert_eq!(ll.duration("s", "v", 7), Some(500));
    ll.end("s", "v", 7);
    assert_eq!(
        ll.accept(at, 7, 2, part(250, false)),
        Err(PartRefused::Closed(7))
    );
    ll.accept(at, 20, 0, part(250, true))
        .expect("a later segment");
    let too_old = 20 - KEPT_SEGMENTS - 1;
    assert_eq!(
        ll.accept(at, too_old, 0, part(250, true)),
        Err(PartRefused::Closed(too_old))
    );
}

#[tokio::test]
async fn a_listener_hears_every_publication_end_and_abandonment_in_order() {
    let ll = LowLatency::new(0);
    ll.publish("s", "v", 0, part(100, true)); // nobody listens yet: not kept
    let mut events = ll.events();
    ll.begin("s", "v", 1);
    ll.publish("s", "v", 1, part(100, true));
    ll.accept(("s", "a"), 1, 0, part(100, true)).expect("part");
    ll.end("s", "v", 1);
    ll.abandon("s", "a", 1);
    let mut seen = Vec::new();
    while let Ok(event) = events.try_recv() {
        seen.push(match event {
            PartEvent::Published {
                rendition,
                msn,
                index,
                ..
            } => format!("{rendition} p{msn}-{index}"),
            PartEvent::Ended { rendition, msn, .. } => format!("{rendition} end {msn}"),
            PartEvent::Abandoned { rendition, msn, .. } => format!("{rendition} gone {msn}"),
        });
    }
    assert_eq!(seen, ["v p1-0", "a p1-0", "v end 1", "a gone 1"]);
}

#[test]
fn an_abandoned_segment_loses_its_parts_and_a_publication_wakes_waiters() {
    let ll = LowLatency::new(250);
    let mut rx = ll.subscribe("s", "v");
    ll.begin("s", "v", 0);
    ll.publish("s", "v", 0, part(240, true));
    assert!(rx.has_changed().expect("open"));
    rx.mark_unchanged();
    ll.abandon("s", "v", 0);
    assert!(rx.has_changed().expect("open"));
    assert!(ll.part("s", "v", 0, 0).is_none());
    assert_eq!(ll.view("s", "v").expect("view").part_target_ms, 250);
}
