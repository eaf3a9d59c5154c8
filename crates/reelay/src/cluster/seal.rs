//! Proof that a message came from a node of this cluster: a keyed MAC (HMAC-SHA256) under the
//! cluster key (`[cluster] key_env`), which every node has and nothing else does.
//!
//! Trust model: whoever reaches NATS can publish on any subject (and whoever reaches Redis can
//! write any key); the engines do not vouch for what they carry. So no bus message is acted on
//! unless it carries a MAC over everything it says — its kind, its subject, the sending node,
//! the time it was sent and its bytes — under a key they do not have (`bus.rs`; entries of the
//! shared tier are sealed the same way, `crate::keyed`). Each part goes into the MAC with its length first, so no
//! two different messages share the bytes that were MACed. A message more than
//! [`AGE_MAX_MS`] from this node's clock is refused, and one seen before within that window is
//! refused as a replay ([`Seen`]), so a captured message cannot be sent again. Rotation: two
//! keys verify (`key` and `previous_key`), the first one seals.

use std::collections::{HashSet, VecDeque};
use std::sync::Mutex;

pub use crate::keyed::{ClusterKeys, Seal};

/// How far a message's time may be from this node's clock (either way: clocks differ).
pub(crate) const AGE_MAX_MS: i64 = 30_000;

/// Most message MACs remembered for replay detection (a flood beyond this forgets the oldest,
/// which are past [`AGE_MAX_MS`] at any rate a bus can carry).
const SEEN_MAX: usize = 200_000;

/// The MACs of messages taken in the last [`AGE_MAX_MS`] (twice, for clocks either side).
#[derive(Debug, Default)]
pub(crate) struct Seen {
    inner: Mutex<Remembered>,
}

/// The seals, and the order they came in (with when), oldest first.
#[derive(Debug, Default)]
struct Remembered {
    set: HashSet<Seal>,
    order: VecDeque<(i64, Seal)>,
}

impl Seen {
    /// Records `seal`, taken at `now_ms`; `false` when it was seen before (a replay).
    pub(crate) fn first_time(&self, seal: Seal, now_ms: i64) -> bool {
        let mut guard = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let Remembered { set, order } = &mut *guard;
        let horizon = now_ms.saturating_sub(AGE_MAX_MS.saturating_mul(2));
        while let Some(&(at, old)) = order.front() {
            if at >= horizon && order.len() < SEEN_MAX {
                break;
            }
            set.remove(&old);
            order.pop_front();
        }
        if !set.insert(seal) {
            return false;
        }
        order.push_back((now_ms, seal));
        true
    }
}

/// Why a message is refused, before what it says is read.
pub(crate) fn check_time(sent_ms: i64, now_ms: i64) -> Result<(), &'static str> {
    if sent_ms.abs_diff(now_ms) > AGE_MAX_MS.unsigned_abs() {
        return Err("stale");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_is_taken_once_and_only_near_now() {
        let seen = Seen::default();
        assert!(seen.first_time([1; 32], 1_000_000));
        assert!(!seen.first_time([1; 32], 1_000_001), "a replay");
        assert!(seen.first_time([2; 32], 1_000_002));
        // Long after, the first is forgotten (and its time would refuse it anyway).
        assert!(seen.first_time([1; 32], 1_000_000 + 3 * AGE_MAX_MS));
        assert_eq!(check_time(1_000_000, 1_000_000 + AGE_MAX_MS), Ok(()));
        assert_eq!(check_time(1_000_000, 1_000_001 + AGE_MAX_MS), Err("stale"));
        assert_eq!(check_time(1_000_001 + AGE_MAX_MS, 1_000_000), Err("stale"));
        assert_eq!(check_time(i64::MIN, i64::MAX), Err("stale"));
    }
}
