//! One cross-thread wake-up per connection thread for a publication, however many held reloads
//! wait on that thread.
//!
//! A held LL-HLS reload waits on its rendition's `watch` channel. Waking a task that runs on
//! another connection thread (each runs its own single-threaded runtime,
//! `http/transport/workers.rs`) costs the publisher a push onto that runtime's queue and a write to its
//! eventfd — for each task: a part published to a thousand held reloads made ~500 such writes,
//! one after another, on the publishing thread, before the last of them could run (`strace -c`
//! during `bench/ll-latency.sh`: one `write` per held reload).
//!
//! So on a single-threaded runtime, the reloads of one rendition subscribe to a thread-local
//! relay instead: one task per (rendition, thread) waits on the rendition's channel and passes
//! each change on to a local channel, whose waiters are woken from their own thread — queue
//! pushes without syscalls. The relay ends when its last local receiver is gone, or the
//! rendition's channel closes (the source was deleted), and removes itself in the same poll, so
//! a reload subscribing on that thread later starts a new one. Elsewhere (a multi-threaded
//! runtime, where a task's thread is not fixed), a receiver of the rendition's channel itself.
//!
//! The semantics are the channel's: a receiver sees every change made after it subscribed
//! (several changes may coalesce into one wake), and an error once the rendition's channel is
//! gone.

use std::cell::RefCell;
use std::collections::HashMap;

use tokio::runtime::{Handle, RuntimeFlavor};
use tokio::sync::watch;

/// Which rendition: (source id, rendition).
pub(crate) type Key = (String, String);

/// A thread's relay of one rendition: a receiver of the rendition's channel (to tell which
/// channel it relays) and the local channel it feeds.
struct Relay {
    from: watch::Receiver<u64>,
    to: watch::Sender<u64>,
}

thread_local! {
    static RELAYS: RefCell<HashMap<Key, Relay>> = RefCell::new(HashMap::new());
}

/// A receiver that wakes on every change of `channel` (the rendition `key`'s) from now on.
pub(crate) fn subscribe(key: &Key, channel: &watch::Sender<u64>) -> watch::Receiver<u64> {
    let single_threaded =
        Handle::try_current().is_ok_and(|h| h.runtime_flavor() == RuntimeFlavor::CurrentThread);
    if !single_threaded {
        return channel.subscribe();
    }
    RELAYS.with(|relays| {
        let mut relays = relays.borrow_mut();
        let from = channel.subscribe();
        if let Some(relay) = relays.get(key)
            && relay.from.same_channel(&from)
            && relay.from.has_changed().is_ok()
        {
            return relay.to.subscribe();
        }
        let value = *from.borrow();
        let to = watch::Sender::new(value);
        let local = to.subscribe();
        let relay = Relay {
            from: from.clone(),
            to: to.clone(),
        };
        relays.insert(key.clone(), relay);
        tokio::spawn(run(key.clone(), from, to));
        local
    })
}

/// Passes every change of `from` on to `to` until `to` has no receiver or `from` closes, then
/// removes this relay from the thread's (in the same poll: no subscriber can join in between).
async fn run(key: Key, mut from: watch::Receiver<u64>, to: watch::Sender<u64>) {
    loop {
        tokio::select! {
            changed = from.changed() => {
                if changed.is_err() {
                    break;
                }
                let value = *from.borrow_and_update();
                to.send_replace(value);
            }
            () = to.closed() => break,
        }
    }
    RELAYS.with(|relays| {
        let mut relays = relays.borrow_mut();
        if relays.get(&key).is_some_and(|r| r.to.same_channel(&to)) {
            relays.remove(&key);
        }
    });
}

/// Relays running on this thread (for tests).
#[cfg(test)]
fn running() -> usize {
    RELAYS.with(|relays| relays.borrow().len())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> Key {
        ("src_a".to_owned(), "v".to_owned())
    }

    #[tokio::test]
    async fn every_local_receiver_sees_a_change_made_after_it_subscribed() {
        let channel = watch::Sender::new(0u64);
        let mut receivers: Vec<_> = (0..100).map(|_| subscribe(&key(), &channel)).collect();
        assert_eq!(running(), 1, "one relay for the rendition on this thread");
        assert_eq!(
            channel.receiver_count(),
            2,
            "the relay's, and the map's probe"
        );
        channel.send_modify(|v| *v += 1);
        for r in &mut receivers {
            tokio::time::timeout(std::time::Duration::from_secs(5), r.changed())
                .await
                .expect("woken")
                .expect("open");
            assert_eq!(*r.borrow_and_update(), 1);
        }
    }

    #[tokio::test]
    async fn the_relay_ends_with_its_last_receiver_and_a_later_one_starts_again() {
        let channel = watch::Sender::new(0u64);
        let r = subscribe(&key(), &channel);
        drop(r);
        while running() > 0 {
            tokio::task::yield_now().await;
        }
        let mut again = subscribe(&key(), &channel);
        assert_eq!(running(), 1);
        channel.send_modify(|v| *v += 1);
        tokio::time::timeout(std::time::Duration::from_secs(5), again.changed())
            .await
            .expect("woken")
            .expect("open");
    }

    #[tokio::test]
    async fn a_closed_rendition_ends_its_receivers_and_a_new_channel_gets_a_new_relay() {
        let channel = watch::Sender::new(0u64);
        let mut r = subscribe(&key(), &channel);
        drop(channel);
        let closed = tokio::time::timeout(std::time::Duration::from_secs(5), r.changed())
            .await
            .expect("told");
        assert!(closed.is_err(), "the rendition is gone");
        let fresh = watch::Sender::new(7u64);
        let mut r = subscribe(&key(), &fresh);
        fresh.send_modify(|v| *v += 1);
        tokio::time::timeout(std::time::Duration::from_secs(5), r.changed())
            .await
            .expect("woken")
            .expect("open");
        assert_eq!(*r.borrow_and_update(), 8);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn on_a_multi_threaded_runtime_receivers_are_the_channels_own() {
        let channel = watch::Sender::new(0u64);
        let _r = subscribe(&key(), &channel);
        assert_eq!(running(), 0);
        assert_eq!(channel.receiver_count(), 1);
    }
}
