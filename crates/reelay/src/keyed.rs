//! Proof under the cluster key (`[cluster] key_env`), which every node of a deployment has and
//! nothing else does: the keys ([`ClusterKeys`]: HMAC-SHA256, two verify during a rotation, the
//! first seals), and the sealed form of a shared-tier entry ([`seal_entry`], [`open_entry`],
//! [`open_span`]). Below every domain layer, because the chunk cache (`cache/shared.rs`), the
//! resolver and the live tier (`cluster/`) all seal entries, and the bus seals messages.
//!
//! Trust model: whoever can write to Redis or memcached can put any bytes under any key, and an
//! engine does not vouch for what it holds. So an entry is believed only when it carries a MAC
//! under the cluster key over its identity (the name it is stored under, with its kind) and its
//! bytes: an entry forged, altered, truncated or moved to another name fails.
//!
//! Layout of an entry: `MAC (32) | value length (u64, 8) | one SHA-256 per BLOCK of the value
//! (32 each) | the value`, where `MAC = HMAC(key, "reelay-tier-v1", identity, length, digests)`
//! (each part length-prefixed). The MAC vouches for the digests, each digest for its block, so
//! a read of part of a large entry (a span of a chunk, `get_span`) fetches the head and only
//! the blocks that cover the span — widened to block edges, never more than one block more on
//! each side — and verifies exactly those; nothing it could not verify is served. A whole read
//! verifies every block.

use bytes::Bytes;
use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};

type HmacSha256 = Hmac<Sha256>;

/// A MAC.
pub type Seal = [u8; 32];

/// The bytes of the value one digest covers.
pub(crate) const BLOCK: usize = 64 << 10;

/// What the entry MAC's first part says (a new layout gets a new one).
const ENTRY_V1: &[u8] = b"reelay-tier-v1";

/// The cluster's keys: the one that seals, and the one that also verifies while a rotation is
/// under way.
pub struct ClusterKeys {
    current: Vec<u8>,
    previous: Option<Vec<u8>>,
}

impl std::fmt::Debug for ClusterKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClusterKeys")
            .field("previous", &self.previous.is_some())
            .finish_non_exhaustive()
    }
}

fn mac_of(key: &[u8], parts: &[&[u8]]) -> HmacSha256 {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = HmacSha256::new_from_slice(key).unwrap_or_else(|_| unreachable!());
    for part in parts {
        mac.update(&(part.len() as u64).to_be_bytes());
        mac.update(part);
    }
    mac
}

impl ClusterKeys {
    pub fn new(current: Vec<u8>, previous: Option<Vec<u8>>) -> Self {
        Self { current, previous }
    }

    /// The MAC of `parts` under the current key.
    pub(crate) fn seal(&self, parts: &[&[u8]]) -> Seal {
        mac_of(&self.current, parts).finalize().into_bytes().into()
    }

    /// Whether `seal` is the MAC of `parts` under the current or the previous key (compared
    /// in constant time).
    pub(crate) fn verify(&self, parts: &[&[u8]], seal: &[u8]) -> bool {
        std::iter::once(&self.current)
            .chain(self.previous.as_ref())
            .any(|key| mac_of(key, parts).verify_slice(seal).is_ok())
    }
}

/// Why an entry is not believed (for the log; every reason counts as `tier`).
pub(crate) type Unsealed = &'static str;

/// How many digests a value of `len` bytes has.
fn blocks(len: usize) -> usize {
    len.div_ceil(BLOCK)
}

/// The length of the head (MAC, length, digests) of an entry whose value is `len` bytes.
pub fn head_len(len: usize) -> usize {
    40 + 32 * blocks(len)
}

fn digest(block: &[u8]) -> [u8; 32] {
    Sha256::digest(block).into()
}

/// `value` sealed as `identity`: what is stored in the tier.
pub fn seal_entry(keys: &ClusterKeys, identity: &[u8], value: &[u8]) -> Vec<u8> {
    let len = value.len() as u64;
    let digests: Vec<u8> = value.chunks(BLOCK).flat_map(digest).collect();
    let mac = keys.seal(&[ENTRY_V1, identity, &len.to_be_bytes(), &digests]);
    let mut entry = Vec::with_capacity(head_len(value.len()) + value.len());
    entry.extend_from_slice(&mac);
    entry.extend_from_slice(&len.to_be_bytes());
    entry.extend_from_slice(&digests);
    entry.extend_from_slice(value);
    entry
}

/// The value length and digests of `head` (an entry's first [`head_len`] bytes), once its MAC
/// verifies as `identity`'s.
fn open_head<'h>(
    keys: &ClusterKeys,
    identity: &[u8],
    head: &'h [u8],
) -> Result<(usize, &'h [u8]), Unsealed> {
    let (mac, rest) = head.split_at_checked(32).ok_or("short")?;
    let (len, digests) = rest.split_at_checked(8).ok_or("short")?;
    let len_bytes: [u8; 8] = len.try_into().map_err(|_| "short")?;
    let value_len = usize::try_from(u64::from_be_bytes(len_bytes)).map_err(|_| "length")?;
    let digests = digests
        .get(..blocks(value_len).checked_mul(32).ok_or("length")?)
        .ok_or("short")?;
    if !keys.verify(&[ENTRY_V1, identity, len, digests], mac) {
        return Err("seal");
    }
    Ok((value_len, digests))
}

/// Whether `blocks`, the value's bytes from block `first` on, match their digests.
fn blocks_match(digests: &[u8], first: usize, bytes: &[u8]) -> bool {
    bytes.chunks(BLOCK).enumerate().all(|(i, block)| {
        digests.get((first + i) * 32..(first + i + 1) * 32) == Some(&digest(block))
    })
}

/// The value of a whole `entry` stored as `identity`, once every part of it verifies.
pub(crate) fn open_entry(
    keys: &ClusterKeys,
    identity: &[u8],
    entry: &Bytes,
) -> Result<Bytes, Unsealed> {
    let (len, digests) = open_head(keys, identity, entry)?;
    let head = head_len(len);
    if entry.len().checked_sub(head) != Some(len) {
        return Err("length");
    }
    let value = entry.slice(head..);
    if !blocks_match(digests, 0, &value) {
        return Err("block");
    }
    Ok(value)
}

/// What to fetch of an entry whose value is `len` bytes to read the value's bytes
/// `from..to`: its head, and the entry's bytes `start..end` (the covering blocks).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SpanPlan {
    pub(crate) head: usize,
    pub(crate) start: usize,
    pub(crate) end: usize,
    len: usize,
    first: usize,
    from: usize,
    to: usize,
}

impl SpanPlan {
    /// The plan for bytes `from..to` of a value of `len`; `None` for an empty or outlying span.
    pub(crate) fn new(len: usize, from: usize, to: usize) -> Option<Self> {
        if from >= to || to > len {
            return None;
        }
        let head = head_len(len);
        let first = from / BLOCK;
        let last = to.div_ceil(BLOCK);
        Some(Self {
            head,
            start: head + first * BLOCK,
            end: head + (last * BLOCK).min(len),
            len,
            first,
            from,
            to,
        })
    }
}

/// Bytes `from..to` of the value stored as `identity`, from the `head` and the covering blocks
/// `body` fetched as `plan` says, of an entry that is `entry_len` bytes long in all.
pub(crate) fn open_span(
    keys: &ClusterKeys,
    identity: &[u8],
    plan: &SpanPlan,
    (head, entry_len, body): (&[u8], usize, &Bytes),
) -> Result<Bytes, Unsealed> {
    let (len, digests) = open_head(keys, identity, head)?;
    if len != plan.len || entry_len != plan.head + len || body.len() != plan.end - plan.start {
        return Err("length");
    }
    if !blocks_match(digests, plan.first, body) {
        return Err("block");
    }
    let skip = plan.first * BLOCK;
    Ok(body.slice(plan.from - skip..plan.to - skip))
}

#[cfg(test)]
#[path = "keyed_tests.rs"]
mod tests;
