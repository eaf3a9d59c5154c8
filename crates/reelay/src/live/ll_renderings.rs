//! LL playlists as rendered, shared: a publication wakes every held reload of its rendition
//! together, and the first of them to run renders the playlist while the others wait for it
//! and reuse it — one rendering per publication, not one per reload. A rendering is good while
//! the node's publication version is the one it was made at.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use bytes::Bytes;

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

/// Which playlist: (source id, rendition, delta update, signed-query suffix).
pub type RenderKey = (String, String, bool, String);

type Kept = Rendered<reelay_hls::LiveEdge, Arc<LlAnswer>>;

/// The node's renderings.
#[derive(Debug, Default)]
pub struct Renderings {
    rendered: Mutex<HashMap<RenderKey, Kept>>,
    /// Taken to render on a miss, so a burst of woken reloads renders once.
    pub lock: tokio::sync::Mutex<()>,
}

impl Renderings {
    /// The playlist `key` as rendered at `version`, if it was.
    pub fn get(&self, key: &RenderKey, version: u64) -> Option<Kept> {
        let all = self.rendered.lock().unwrap_or_else(|p| p.into_inner());
        all.get(key).filter(|r| r.version == version).cloned()
    }

    /// Keeps a rendering; renderings two publications old go.
    pub fn keep(&self, key: RenderKey, rendered: Kept) {
        let mut all = self.rendered.lock().unwrap_or_else(|p| p.into_inner());
        let version = rendered.version;
        all.retain(|_, r| r.version.saturating_add(2) > version);
        all.insert(key, rendered);
    }
}
