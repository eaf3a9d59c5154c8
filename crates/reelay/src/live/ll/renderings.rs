//! LL playlists as rendered, shared: a publication wakes every held reload of its rendition
//! together, and the first of them to run renders the playlist while the others wait for that
//! rendering and reuse it — one rendering per publication, not one per reload. A rendering is
//! good while the node's publication version is the one it was made at.
//!
//! The waiting is a once-cell per (playlist, version), not a lock: when the rendering is set,
//! every reload waiting for it wakes at once. (A lock made them take it one after another, each
//! hand-over a wake-up, often on the other connection thread: a thousand held reloads were
//! answered over ~25 ms instead of together.)
//!
//! Renderings are bare; a signed viewer's copy carries its signature on every URI
//! ([`LlAnswer::signed`]), made once per rendering and signature (the last one is kept, so one
//! signed URL handed to many viewers costs one pass per publication).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use tokio::sync::OnceCell;

/// An LL playlist answer.
#[derive(Debug)]
pub(crate) struct LlAnswer {
    pub(crate) text: Bytes,
    /// The playlist's target duration, seconds.
    pub(crate) target_duration: u64,
    /// The last signed copy made of it, and its signature: a signed URL handed to many viewers
    /// is signed once per rendering, not once per answer.
    signed: Mutex<Option<(String, Arc<LlAnswer>)>>,
}

impl LlAnswer {
    pub fn new(text: Bytes, target_duration: u64) -> Self {
        Self {
            text,
            target_duration,
            signed: Mutex::new(None),
        }
    }

    /// This answer as a viewer with signed query `suffix` gets it: the signature on every URI
    /// in it — segments, parts, the map, the preload hint and the rendition reports
    /// (`reelay_hls::with_query`). Renderings are bare and shared by every viewer.
    pub(crate) fn signed(self: &Arc<Self>, suffix: &str) -> Arc<Self> {
        if suffix.is_empty() {
            return Arc::clone(self);
        }
        let mut last = self.signed.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((made_for, copy)) = last.as_ref()
            && made_for == suffix
        {
            return Arc::clone(copy);
        }
        let text = reelay_hls::with_query(&String::from_utf8_lossy(&self.text), suffix);
        let copy = Arc::new(Self::new(Bytes::from(text), self.target_duration));
        *last = Some((suffix.to_owned(), Arc::clone(&copy)));
        copy
    }
}

/// A rendered LL playlist, good while no part or segment has been published since.
#[derive(Debug, Clone)]
pub(crate) struct Rendered<E, A> {
    pub(crate) edge: E,
    pub(crate) answer: A,
}

/// Which playlist: (source id, rendition, delta update). Renderings are bare: a signed
/// viewer's signature goes on when the rendering is answered, so all viewers share one.
pub(crate) type RenderKey = (String, String, bool);

/// A rendering, or that the rendition publishes no parts (`None`).
pub(crate) type Kept = Option<Rendered<reelay_hls::LiveEdge, Arc<LlAnswer>>>;

/// The rendering of one playlist at one version, made once by whoever comes first.
pub(crate) type Slot = Arc<OnceCell<Kept>>;

/// The node's renderings: the newest slot of each playlist.
#[derive(Debug, Default)]
pub(crate) struct Renderings {
    slots: Mutex<HashMap<RenderKey, (u64, Slot)>>,
}

impl Renderings {
    /// The slot of playlist `key` at `version`: the one already there, or a new empty one
    /// (slots two publications old go then).
    pub(crate) fn slot(&self, key: &RenderKey, version: u64) -> Slot {
        let mut all = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((at, slot)) = all.get(key)
            && *at == version
        {
            return Arc::clone(slot);
        }
        all.retain(|_, (at, _)| at.saturating_add(2) > version);
        let slot = Slot::default();
        all.insert(key.clone(), (version, Arc::clone(&slot)));
        slot
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(rendition: &str) -> RenderKey {
        ("s".into(), rendition.into(), false)
    }

    #[test]
    fn a_signed_copy_is_made_once_per_signature_and_carries_it() {
        let bare = Arc::new(LlAnswer::new(Bytes::from_static(b"#EXTM3U\na.m4s\n"), 2));
        assert!(Arc::ptr_eq(&bare.signed(""), &bare));
        let one = bare.signed("?sig=1");
        assert_eq!(&one.text[..], b"#EXTM3U\na.m4s?sig=1\n");
        assert!(Arc::ptr_eq(&one, &bare.signed("?sig=1")), "made once");
        let two = bare.signed("?sig=2");
        assert_eq!(&two.text[..], b"#EXTM3U\na.m4s?sig=2\n");
        assert_eq!(two.target_duration, 2);
    }

    #[test]
    fn one_slot_per_playlist_and_version_and_old_versions_go() {
        let r = Renderings::default();
        let a = r.slot(&key("v"), 1);
        assert!(Arc::ptr_eq(&a, &r.slot(&key("v"), 1)));
        assert!(!Arc::ptr_eq(&a, &r.slot(&key("a"), 1)));
        let b = r.slot(&key("v"), 2);
        assert!(!Arc::ptr_eq(&a, &b));
        r.slot(&key("v"), 4);
        let kept = r.slots.lock().expect("slots");
        assert_eq!(kept.len(), 1, "the audio slot of version 1 went");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_burst_of_readers_renders_once_and_all_get_it() {
        let r = Arc::new(Renderings::default());
        let made = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let tasks: Vec<_> = (0..200)
            .map(|_| {
                let (r, made) = (Arc::clone(&r), Arc::clone(&made));
                tokio::spawn(async move {
                    let slot = r.slot(&key("v"), 7);
                    let kept = slot
                        .get_or_init(|| async {
                            made.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                            tokio::task::yield_now().await;
                            None
                        })
                        .await;
                    kept.is_none()
                })
            })
            .collect();
        for t in tasks {
            assert!(t.await.expect("joined"));
        }
        assert_eq!(made.load(std::sync::atomic::Ordering::SeqCst), 1);
    }
}
