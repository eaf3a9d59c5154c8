//! Fragmented MP4 (ISO/IEC 14496-12) as LL-HLS ingest needs it: the tracks' timescales and
//! defaults from an initialization segment ([`parse_init`]), and a media segment cut into its
//! fragments while it is still arriving ([`FragmentCutter`]) — each fragment (`moof` + `mdat`,
//! with the `styp`/`prft`/`sidx` boxes before it) a publishable part, with its duration and
//! whether it starts with a sync sample (`INDEPENDENT=YES`).
//!
//! The cutter never holds a segment: it buffers only box headers and the (small, bounded)
//! `moof`, and counts `mdat` bytes as they pass. Hostile input is an error, never a panic or
//! an unbounded buffer.

/// Largest `moof` (or `moov`) read into memory.
pub const MAX_META_BOX: u64 = 1 << 20;

/// What is wrong with the bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fmp4Error {
    /// A box header or size that cannot be (smaller than its header, `size = 0` mid-stream).
    BadBox { offset: u64 },
    /// A `moof` or `moov` over [`MAX_META_BOX`].
    TooLarge { offset: u64 },
    /// A `moof` whose contents do not parse.
    BadFragment { offset: u64 },
}

impl std::fmt::Display for Fmp4Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::BadBox { offset } => write!(f, "malformed box at byte {offset}"),
            Self::TooLarge { offset } => write!(f, "metadata box at byte {offset} is too large"),
            Self::BadFragment { offset } => write!(f, "malformed moof at byte {offset}"),
        }
    }
}

impl std::error::Error for Fmp4Error {}

/// A track of an initialization segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Track {
    pub id: u32,
    pub timescale: u32,
    /// `trex` defaults, used when a fragment gives none.
    pub default_duration: u32,
    pub default_flags: u32,
}

/// One fragment of a media segment, by byte span.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fragment {
    pub offset: u64,
    pub len: u64,
    /// Duration of the first track's samples, in milliseconds (0 when unknown).
    pub duration_ms: u64,
    /// Its first sample is a sync sample.
    pub independent: bool,
    /// The producer's wall clock from a `prft` box before it (ISO/IEC 14496-12 §8.16.5; ffmpeg
    /// `-write_prft`), unix milliseconds.
    pub producer_time_ms: Option<i64>,
}

/// Seconds from the NTP epoch (1900) to the unix epoch.
const NTP_TO_UNIX: u64 = 2_208_988_800;

/// The NTP timestamp of a `prft` box's payload as unix milliseconds.
fn producer_time(payload: &[u8]) -> Option<i64> {
    let ntp = u64::from_be_bytes(payload.get(8..16)?.try_into().ok()?);
    let secs = (ntp >> 32).checked_sub(NTP_TO_UNIX)?;
    let frac_ms = ((ntp & 0xffff_ffff) * 1000) >> 32;
    i64::try_from(secs.checked_mul(1000)?.checked_add(frac_ms)?).ok()
}

/// Boxes within `bytes`: (type, payload start, payload end), stopping at the first bad one.
fn boxes(bytes: &[u8]) -> impl Iterator<Item = ([u8; 4], usize, usize)> + '_ {
    let mut at = 0usize;
    std::iter::from_fn(move || {
        let (kind, header, size) = header(bytes.get(at..)?)?;
        let start = at.checked_add(header)?;
        let end = at.checked_add(usize::try_from(size).ok()?)?;
        if end > bytes.len() || start > end {
            return None;
        }
        at = end;
        Some((kind, start, end))
    })
}

/// A box header: type, header length, total size (`None`: incomplete or invalid).
fn header(bytes: &[u8]) -> Option<([u8; 4], usize, u64)> {
    let size = u32::from_be_bytes(bytes.get(0..4)?.try_into().ok()?);
    let kind: [u8; 4] = bytes.get(4..8)?.try_into().ok()?;
    let (header, size) = match size {
        1 => (16, u64::from_be_bytes(bytes.get(8..16)?.try_into().ok()?)),
        0 => return None,
        n => (8, u64::from(n)),
    };
    (size >= header as u64).then_some((kind, header, size))
}

fn be32(bytes: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(
        bytes.get(at..at.checked_add(4)?)?.try_into().ok()?,
    ))
}

/// The first box of type `kind` in `bytes`, as its payload.
fn child<'a>(bytes: &'a [u8], kind: &[u8; 4]) -> Option<&'a [u8]> {
    boxes(bytes)
        .find(|(k, _, _)| k == kind)
        .and_then(|(_, s, e)| bytes.get(s..e))
}

/// The tracks of an initialization segment (`moov`: each `trak`'s id and timescale, `trex`
/// defaults from `mvex`).
pub fn parse_init(bytes: &[u8]) -> Vec<Track> {
    let Some(moov) = child(bytes, b"moov") else {
        return Vec::new();
    };
    let mut tracks: Vec<Track> = boxes(moov)
        .filter(|(k, _, _)| k == b"trak")
        .filter_map(|(_, s, e)| {
            let trak = moov.get(s..e)?;
            let tkhd = child(trak, b"tkhd")?;
            let id = be32(tkhd, if tkhd.first() == Some(&1) { 20 } else { 12 })?;
            let mdhd = child(child(trak, b"mdia")?, b"mdhd")?;
            let timescale = be32(mdhd, if mdhd.first() == Some(&1) { 20 } else { 12 })?;
            Some(Track {
                id,
                timescale,
                default_duration: 0,
                default_flags: 0,
            })
        })
        .collect();
    if let Some(mvex) = child(moov, b"mvex") {
        for (_, s, e) in boxes(mvex).filter(|(k, _, _)| k == b"trex") {
            let Some(trex) = mvex.get(s..e) else { continue };
            let (Some(id), Some(duration), Some(flags)) =
                (be32(trex, 4), be32(trex, 12), be32(trex, 20))
            else {
                continue;
            };
            if let Some(t) = tracks.iter_mut().find(|t| t.id == id) {
                t.default_duration = duration;
                t.default_flags = flags;
            }
        }
    }
    tracks
}

/// `sample_is_non_sync_sample` in the sample flags.
const NON_SYNC: u32 = 0x0001_0000;

/// Duration (in the track's ticks) and first-sample flags of a `moof`'s first `traf`.
fn fragment_facts(moof: &[u8], tracks: &[Track]) -> Option<(u32, u64, u32)> {
    let traf = child(moof, b"traf")?;
    let tfhd = child(traf, b"tfhd")?;
    let tf_flags = be32(tfhd, 0)? & 0x00ff_ffff;
    let id = be32(tfhd, 4)?;
    let track = tracks.iter().find(|t| t.id == id);
    let mut at = 8usize;
    let mut skip = |flag: u32, len: usize| -> Option<Option<u32>> {
        if tf_flags & flag == 0 {
            return Some(None);
        }
        let value = if len == 4 { be32(tfhd, at) } else { Some(0) };
        at = at.checked_add(len)?;
        Some(value)
    };
    skip(0x01, 8)?; // base-data-offset
    skip(0x02, 4)?; // sample-description-index
    let default_duration = skip(0x08, 4)?.or(track.map(|t| t.default_duration));
    skip(0x10, 4)?; // default-sample-size
    let default_flags = skip(0x20, 4)?.or(track.map(|t| t.default_flags));
    let mut ticks = 0u64;
    let mut first_flags = None;
    for (_, s, e) in boxes(traf).filter(|(k, _, _)| k == b"trun") {
        let trun = traf.get(s..e)?;
        let (duration, flags) = trun_facts(
            trun,
            default_duration.unwrap_or(0),
            default_flags.unwrap_or(0),
        )?;
        ticks = ticks.saturating_add(duration);
        first_flags = first_flags.or(Some(flags));
    }
    Some((id, ticks, first_flags.or(default_flags)?))
}

/// A `trun`'s total duration and its first sample's flags.
fn trun_facts(trun: &[u8], default_duration: u32, default_flags: u32) -> Option<(u64, u32)> {
    let flags = be32(trun, 0)? & 0x00ff_ffff;
    let count = be32(trun, 4)?;
    let mut at = 8usize;
    if flags & 0x01 != 0 {
        at += 4; // data-offset
    }
    let first_sample_flags = if flags & 0x04 != 0 {
        let f = be32(trun, at)?;
        at += 4;
        Some(f)
    } else {
        None
    };
    let per_sample = [0x100, 0x200, 0x400, 0x800]
        .iter()
        .filter(|f| flags & **f != 0)
        .count();
    let entry = per_sample.checked_mul(4)?;
    let needed = usize::try_from(count).ok()?.checked_mul(entry)?;
    if trun.len() < at.checked_add(needed)? {
        return None;
    }
    let mut ticks = 0u64;
    let mut first = first_sample_flags;
    for i in 0..count as usize {
        let mut field = at + i * entry;
        let duration = if flags & 0x100 != 0 {
            let d = be32(trun, field)?;
            field += 4;
            d
        } else {
            default_duration
        };
        if flags & 0x200 != 0 {
            field += 4;
        }
        if i == 0 && first.is_none() {
            first = Some(if flags & 0x400 != 0 {
                be32(trun, field)?
            } else {
                default_flags
            });
        }
        ticks = ticks.saturating_add(u64::from(duration));
    }
    Some((ticks, first.unwrap_or(default_flags)))
}

/// Cuts a media segment into fragments as its bytes arrive (see the module docs).
#[derive(Debug)]
pub struct FragmentCutter {
    tracks: Vec<Track>,
    /// Bytes of the current box header, or of the `moof` being read.
    pending: Vec<u8>,
    /// Where the next byte fed sits in the segment.
    offset: u64,
    /// Where the fragment being assembled starts (its first box).
    fragment_start: u64,
    /// The facts of its `moof`, once read.
    facts: Option<(u64, bool)>,
    /// The current kept box is a `prft` (not a `moof`); the last one's time.
    in_prft: bool,
    producer_ms: Option<i64>,
    /// Bytes of the current box still to pass, and whether they are being kept (`moof`).
    remaining: u64,
    keeping: bool,
    /// The current box is an `mdat`: the fragment ends with it.
    in_mdat: bool,
    box_start: u64,
}

impl FragmentCutter {
    /// A cutter for segments of the tracks `tracks` (from [`parse_init`]).
    pub fn new(tracks: Vec<Track>) -> Self {
        Self {
            tracks,
            pending: Vec::new(),
            offset: 0,
            fragment_start: 0,
            facts: None,
            in_prft: false,
            producer_ms: None,
            remaining: 0,
            keeping: false,
            in_mdat: false,
            box_start: 0,
        }
    }

    /// Feeds the next bytes; returns the fragments they complete, in order.
    pub fn feed(&mut self, mut bytes: &[u8]) -> Result<Vec<Fragment>, Fmp4Error> {
        let mut done = Vec::new();
        while !bytes.is_empty() {
            if self.remaining == 0 {
                let (rest, closed) = self.read_header(bytes)?;
                done.extend(closed);
                bytes = rest;
                continue;
            }
            let take = usize::try_from(self.remaining.min(bytes.len() as u64)).unwrap_or(0);
            let (now, rest) = bytes.split_at(take);
            if self.keeping {
                self.pending.extend_from_slice(now);
            }
            self.remaining -= take as u64;
            self.offset += take as u64;
            bytes = rest;
            if self.remaining == 0
                && let Some(fragment) = self.box_done()?
            {
                done.push(fragment);
            }
        }
        Ok(done)
    }

    /// Takes header bytes from `bytes`; once a header is whole, starts its box (and, for an
    /// empty box, ends it: an empty `mdat` still closes its fragment).
    fn read_header<'a>(
        &mut self,
        bytes: &'a [u8],
    ) -> Result<(&'a [u8], Option<Fragment>), Fmp4Error> {
        let want = if self.pending.len() >= 4 && self.pending[0..4] == [0, 0, 0, 1] {
            16
        } else {
            8
        };
        let take = (want - self.pending.len().min(want)).min(bytes.len());
        self.pending.extend_from_slice(&bytes[..take]);
        self.offset += take as u64;
        let rest = &bytes[take..];
        if self.pending.len() < want {
            return Ok((rest, None));
        }
        let bad = Fmp4Error::BadBox {
            offset: self.offset - want as u64,
        };
        let Some((kind, header, size)) = header(&self.pending) else {
            return if want == 8 && self.pending[0..4] == [0, 0, 0, 1] {
                Ok((rest, None)) // a 64-bit size follows
            } else {
                Err(bad)
            };
        };
        self.box_start = self.offset - header as u64;
        self.remaining = size - header as u64;
        self.in_mdat = &kind == b"mdat";
        self.in_prft = &kind == b"prft";
        self.keeping = &kind == b"moof" || self.in_prft;
        if self.keeping && size > MAX_META_BOX {
            return Err(Fmp4Error::TooLarge {
                offset: self.box_start,
            });
        }
        if self.keeping {
            self.pending.drain(..header);
        } else {
            self.pending.clear();
        }
        if self.remaining == 0 {
            return Ok((rest, self.box_done()?));
        }
        Ok((rest, None))
    }

    /// The current box has passed whole: read a `moof`, close a fragment at its `mdat`.
    fn box_done(&mut self) -> Result<Option<Fragment>, Fmp4Error> {
        if self.keeping && self.in_prft {
            // A malformed one is no reason to drop the fragment: it just says nothing.
            self.producer_ms = producer_time(&self.pending);
            self.pending.clear();
            self.keeping = false;
            self.in_prft = false;
            return Ok(None);
        }
        if self.keeping {
            let start = self.box_start;
            let (id, ticks, flags) = fragment_facts(&self.pending, &self.tracks)
                .ok_or(Fmp4Error::BadFragment { offset: start })?;
            let timescale = self
                .tracks
                .iter()
                .find(|t| t.id == id)
                .map_or(0, |t| u64::from(t.timescale));
            let ms = ticks
                .saturating_mul(1000)
                .checked_div(timescale)
                .unwrap_or(0);
            self.facts = Some((ms, flags & NON_SYNC == 0));
            self.pending.clear();
            self.keeping = false;
            return Ok(None);
        }
        if !self.in_mdat {
            return Ok(None);
        }
        self.in_mdat = false;
        let Some((duration_ms, independent)) = self.facts.take() else {
            return Ok(None); // an mdat without a moof: not a fragment; keep going
        };
        let fragment = Fragment {
            offset: self.fragment_start,
            len: self.offset - self.fragment_start,
            duration_ms,
            independent,
            producer_time_ms: self.producer_ms.take(),
        };
        self.fragment_start = self.offset;
        Ok(Some(fragment))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_prft_timestamp_is_read_as_unix_milliseconds() {
        // 2026-01-01T00:00:00.500Z: unix 1767225600 s, half a second of NTP fraction.
        let ntp = ((1_767_225_600u64 + NTP_TO_UNIX) << 32) | (1u64 << 31);
        let mut payload = vec![0u8; 8];
        payload.extend_from_slice(&ntp.to_be_bytes());
        payload.extend_from_slice(&[0; 4]);
        assert_eq!(producer_time(&payload), Some(1_767_225_600_500));
        assert_eq!(producer_time(&payload[..12]), None, "truncated");
        assert_eq!(producer_time(&[0; 16]), None, "before 1970");
    }
}
