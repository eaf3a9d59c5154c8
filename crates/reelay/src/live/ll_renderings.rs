//! LL playlists as rendered, shared: a publication wakes every held reload of its rendition
//! together, and the first of them to run renders the playlist while the others wait for that
//! rendering and reuse it — one rendering per publication, not one per reload. A rendering is
//! good while the node's publication version is the one it was made at.
//!
//! The waiting is a once-cell per (playlist, version), not a lock: when the rendering is set,
//! every reload waiting for it wakes at once. (A lock made them take it one after another, each
//! hand-over a wake-up, often on the other connection thread: a thousand held reloads were
//! answered over ~25 ms instead of together.)

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use tokio::sync::OnceCell;

/// An LL playlist answer.
#[derive(Debug, Clone)]
pub struct LlAnswer {
    pub text: Bytes,
    /// The playlist's target duration, seconds.
    pub target_duration: u64,
}

/// A rendered LL playlist, good while no part or segment has been published since.
#[derive(Debug, Clone)]
pub struct Rendered<E, A> {
    pub version: u64,
    pub edge: E,
    pub answer: A,
}

/// Which playlist: (source id, rendition, delta update). Renderings are bare: a signed
/// viewer's signature goes on when the rendering is answered, so all viewers share one.
pub type RenderKey = (String, String, bool);

/// A rendering, or that the rendition publishes no parts (`None`).
pub type Kept = Option<Rendered<reelay_hls::LiveEdge, Arc<LlAnswer>>>;

/// The rendering of one playlist at one version, made once by whoever comes first.
pub type Slot = Arc<OnceCell<Kept>>;

/// The node's renderings: the newest slot of each playlist.
#[derive(Debug, Default)]
pub struct Renderings {
    slots: Mutex<HashMap<RenderKey, (u64, Slot)>>,
}

impl Renderings {
    /// The slot of playlist `key` at `version`: the one already there, or a new empty one
    /// (slots two publications old go then).
    pub fn slot(&self, key: &RenderKey, version: u64) -> Slot {
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
