//! Blocking playlist reload and delta updates (RFC 8216bis §6.2.5.2, §6.2.5.1): the
//! `_HLS_msn`, `_HLS_part` and `_HLS_skip` query parameters, what makes one invalid (a 400),
//! how far ahead a client may ask (the Advance Part Limit), and when a held request is
//! answered. The waiting itself, and the 503 after three target durations, belong to the
//! server; this is the arithmetic, total on any input.

/// What an LL playlist request asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LlQuery {
    /// `_HLS_msn` and `_HLS_part`: hold the answer until the playlist holds this segment (or
    /// this part of it) or a later one.
    pub block: Option<Position>,
    /// `_HLS_skip`: a delta update is asked for.
    pub skip: Skip,
}

/// A point in a live rendition: segment `msn`, and within it part `part` (`None`: the whole
/// segment, i.e. it is complete).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    pub msn: u64,
    pub part: Option<u64>,
}

/// `_HLS_skip`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Skip {
    #[default]
    No,
    /// `YES`: skip older segments.
    Yes,
    /// `v2`: also skip old date ranges (reelay writes none, so it answers as for `YES`).
    V2,
}

/// Why an LL query is refused with 400 (RFC 8216bis §6.2.5.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LlQueryError {
    /// `_HLS_part` without `_HLS_msn`.
    PartWithoutMsn,
    /// A value that is not a decimal integer (or is given twice).
    BadNumber(&'static str),
    /// `_HLS_skip` other than `YES` or `v2`.
    BadSkip,
    /// Further ahead of the live edge than the RFC lets a client wait for.
    TooFarAhead,
}

impl std::fmt::Display for LlQueryError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::PartWithoutMsn => f.write_str("_HLS_part needs _HLS_msn"),
            Self::BadNumber(name) => write!(f, "{name} must be one non-negative integer"),
            Self::BadSkip => f.write_str("_HLS_skip must be YES or v2"),
            Self::TooFarAhead => f.write_str("the requested segment or part is too far ahead"),
        }
    }
}

impl std::error::Error for LlQueryError {}

/// Reads the LL parameters of a raw query string; other parameters (signatures, tokens) are
/// left alone.
pub fn parse_ll_query(query: Option<&str>) -> Result<LlQuery, LlQueryError> {
    let (mut msn, mut part, mut skip) = (None, None, None);
    for pair in query.unwrap_or("").split('&') {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        let (name, slot) = match name {
            "_HLS_msn" => ("_HLS_msn", &mut msn),
            "_HLS_part" => ("_HLS_part", &mut part),
            "_HLS_skip" => {
                if skip.replace(value).is_some() {
                    return Err(LlQueryError::BadSkip);
                }
                continue;
            }
            _ => continue,
        };
        if slot.replace(number(name, value)?).is_some() {
            return Err(LlQueryError::BadNumber(name));
        }
    }
    let skip = match skip {
        None => Skip::No,
        Some("YES") => Skip::Yes,
        Some("v2") => Skip::V2,
        Some(_) => return Err(LlQueryError::BadSkip),
    };
    let block = match (msn, part) {
        (None, Some(_)) => return Err(LlQueryError::PartWithoutMsn),
        (None, None) => None,
        (Some(msn), part) => Some(Position { msn, part }),
    };
    Ok(LlQuery { block, skip })
}

/// A decimal-integer (RFC 8216bis §4.2): 1-20 digits, at most 2^64-1.
fn number(name: &'static str, value: &str) -> Result<u64, LlQueryError> {
    let digits =
        !value.is_empty() && value.len() <= 20 && value.bytes().all(|b| b.is_ascii_digit());
    digits
        .then(|| value.parse().ok())
        .flatten()
        .ok_or(LlQueryError::BadNumber(name))
}

/// Where a live rendition stands: its newest complete segment and its newest published part.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LiveEdge {
    /// The media sequence number the next complete segment will have.
    pub next_msn: u64,
    /// The newest part published: (segment, index); `None` before any.
    pub last_part: Option<(u64, u64)>,
    pub part_target_ms: u64,
}

impl LiveEdge {
    /// The RFC's Advance Part Limit: how many parts past the newest a client may wait for —
    /// three seconds' worth when parts are under a second long, else three.
    pub fn advance_part_limit(&self) -> u64 {
        if self.part_target_ms > 0 && self.part_target_ms < 1000 {
            3000 / self.part_target_ms
        } else {
            3
        }
    }

    /// Refuses a wait the RFC says to answer with 400: a segment more than two past the newest
    /// complete one, or a part more than the Advance Part Limit past the newest part.
    pub fn check(&self, at: Position) -> Result<(), LlQueryError> {
        // The newest complete segment is next_msn - 1: at most next_msn + 1 may be waited for.
        if at.msn > self.next_msn.saturating_add(1) {
            return Err(LlQueryError::TooFarAhead);
        }
        let (Some(part), Some((last_msn, last_index))) = (at.part, self.last_part) else {
            return Ok(());
        };
        let limit = self.advance_part_limit();
        let ahead = match at.msn.checked_sub(last_msn) {
            None | Some(0) => part.saturating_sub(last_index),
            // Parts of a later segment: counted from that segment's first part.
            Some(1) => part.saturating_add(1),
            Some(_) => return Err(LlQueryError::TooFarAhead),
        };
        if ahead > limit {
            return Err(LlQueryError::TooFarAhead);
        }
        Ok(())
    }

    /// Whether the playlist now holds `at` or something later, so a held request is answered.
    pub fn satisfies(&self, at: Position) -> bool {
        // Segment msn is complete once the next complete one will be later than it.
        let complete = at.msn < self.next_msn;
        match at.part {
            None => complete,
            Some(part) => {
                complete
                    || self
                        .last_part
                        .is_some_and(|(m, i)| (m, i) >= (at.msn, part))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(text: &str) -> Result<LlQuery, LlQueryError> {
        parse_ll_query(Some(text))
    }

    #[test]
    fn queries_parse_with_other_parameters_around_them() {
        let got = q("exp=1&_HLS_msn=12&sig=ab&_HLS_part=3&_HLS_skip=YES").expect("valid");
        let at = Position {
            msn: 12,
            part: Some(3),
        };
        assert_eq!(
            got,
            LlQuery {
                block: Some(at),
                skip: Skip::Yes
            }
        );
        assert_eq!(parse_ll_query(None), Ok(LlQuery::default()));
        assert_eq!(q("_HLS_skip=v2").map(|q| q.skip), Ok(Skip::V2));
    }

    #[test]
    fn a_decimal_integer_is_up_to_twenty_digits_and_two_to_the_64_minus_one() {
        let at = |msn| Position { msn, part: None };
        let max = q("_HLS_msn=18446744073709551615").map(|q| q.block);
        assert_eq!(max, Ok(Some(at(u64::MAX))));
        let padded = q("_HLS_msn=00000000000000000007").map(|q| q.block);
        assert_eq!(padded, Ok(Some(at(7))));
        for bad in ["18446744073709551616", "000000000000000000007"] {
            let got = q(&format!("_HLS_msn={bad}"));
            assert_eq!(got, Err(LlQueryError::BadNumber("_HLS_msn")), "{bad}");
        }
        let edge = LiveEdge {
            next_msn: 5,
            last_part: Some((5, 0)),
            part_target_ms: 500,
        };
        assert_eq!(edge.check(at(u64::MAX)), Err(LlQueryError::TooFarAhead));
    }

    #[test]
    fn the_rfcs_invalid_combinations_are_refused() {
        assert_eq!(q("_HLS_part=1"), Err(LlQueryError::PartWithoutMsn));
        for bad in [
            "_HLS_msn=-1",
            "_HLS_msn=1.5",
            "_HLS_msn=",
            "_HLS_msn=99999999999999999999",
        ] {
            assert_eq!(q(bad), Err(LlQueryError::BadNumber("_HLS_msn")), "{bad}");
        }
        assert_eq!(
            q("_HLS_msn=1&_HLS_msn=2"),
            Err(LlQueryError::BadNumber("_HLS_msn"))
        );
        assert_eq!(
            q("_HLS_msn=1&_HLS_part=x"),
            Err(LlQueryError::BadNumber("_HLS_part"))
        );
        assert_eq!(q("_HLS_skip=NO"), Err(LlQueryError::BadSkip));
    }

    #[test]
    fn the_advance_limits_follow_the_rfc() {
        let edge = LiveEdge {
            next_msn: 10,
            last_part: Some((10, 2)),
            part_target_ms: 500,
        };
        assert_eq!(edge.advance_part_limit(), 6);
        let at = |msn, part| Position { msn, part };
        assert!(
            edge.check(at(11, None)).is_ok(),
            "two past the newest complete (9)"
        );
        assert_eq!(edge.check(at(12, None)), Err(LlQueryError::TooFarAhead));
        assert!(edge.check(at(10, Some(8))).is_ok());
        assert_eq!(edge.check(at(10, Some(9))), Err(LlQueryError::TooFarAhead));
        assert!(edge.check(at(11, Some(5))).is_ok());
        assert_eq!(edge.check(at(11, Some(6))), Err(LlQueryError::TooFarAhead));
        let slow = LiveEdge {
            part_target_ms: 2000,
            ..edge
        };
        assert_eq!(slow.advance_part_limit(), 3);
    }

    #[test]
    fn a_held_request_is_answered_by_its_part_or_anything_later() {
        let edge = LiveEdge {
            next_msn: 10,
            last_part: Some((10, 2)),
            part_target_ms: 500,
        };
        let at = |msn, part| Position { msn, part };
        assert!(edge.satisfies(at(9, None)));
        assert!(
            !edge.satisfies(at(10, None)),
            "segment 10 is still arriving"
        );
        assert!(edge.satisfies(at(10, Some(2))));
        assert!(!edge.satisfies(at(10, Some(3))));
        assert!(
            edge.satisfies(at(9, Some(7))),
            "a complete segment has every part"
        );
        assert!(!edge.satisfies(at(11, Some(0))));
    }
}
