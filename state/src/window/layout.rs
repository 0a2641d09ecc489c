//! The byte layout of the keys window and session stores write into their key-value store.
//!
//! Owns: encoding and decoding of stored keys, nothing else (no segment arithmetic, no I/O).
//!
//! ```text
//!   window key:   [segment: 8][user key: n][window start: 8][seq: 4]
//!   session key:  [segment: 8][user key: n][session end: 8][session start: 8]
//! ```
//!
//! Every number is big-endian; times and segment ids are `i64`s with the sign bit flipped
//! ([`time_bytes`]), so byte order is numeric order, negative values included. Hence keys sort
//! by segment first (an expired segment is one contiguous key range, dropped with one range
//! delete), then by user key, then by time.
//!
//! Invariants: decoding never panics; a key too short for the layout decodes to `None` (the
//! stores skip it). The user key has no length prefix: it is whatever lies between the fixed-size
//! head and tail, so a scan for the user key `k` must check that the decoded key *equals* `k` —
//! the scanned byte range also holds keys that merely start with `k` (`"a"` vs `"ab"`).

/// Bytes of the segment id every key starts with.
pub(crate) const SEGMENT_LEN: usize = 8;
/// Bytes after the user key in a window key: window start and sequence number.
pub(crate) const WINDOW_TAIL: usize = 12;
/// Bytes after the user key in a session key: session end and session start.
pub(crate) const SESSION_TAIL: usize = 16;

/// `t` in 8 bytes whose byte order is the numeric order of `i64`s.
pub(crate) fn time_bytes(t: i64) -> [u8; 8] {
    ((t as u64) ^ (1 << 63)).to_be_bytes()
}

/// The inverse of [`time_bytes`].
pub(crate) fn time_from_bytes(bytes: [u8; 8]) -> i64 {
    (u64::from_be_bytes(bytes) ^ (1 << 63)) as i64
}

/// The prefix every key of `segment` starts with.
pub(crate) fn segment_prefix(segment: i64) -> [u8; SEGMENT_LEN] {
    time_bytes(segment)
}

/// Appends the window key of (`segment`, `key`, `start`, `seq`) to `out`, cleared first.
pub(crate) fn window_key(out: &mut Vec<u8>, segment: i64, key: &[u8], start: i64, seq: u32) {
    out.clear();
    out.reserve(SEGMENT_LEN + key.len() + WINDOW_TAIL);
    out.extend_from_slice(&segment_prefix(segment));
    out.extend_from_slice(key);
    out.extend_from_slice(&time_bytes(start));
    out.extend_from_slice(&seq.to_be_bytes());
}

/// Appends the session key of (`segment`, `key`, `end`, `start`) to `out`, cleared first.
pub(crate) fn session_key(out: &mut Vec<u8>, segment: i64, key: &[u8], end: i64, start: i64) {
    out.clear();
    out.reserve(SEGMENT_LEN + key.len() + SESSION_TAIL);
    out.extend_from_slice(&segment_prefix(segment));
    out.extend_from_slice(key);
    out.extend_from_slice(&time_bytes(end));
    out.extend_from_slice(&time_bytes(start));
}

/// A decoded window key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct WindowKey<'a> {
    pub(crate) segment: i64,
    pub(crate) key: &'a [u8],
    pub(crate) start: i64,
    pub(crate) seq: u32,
}

/// Decodes a window key; `None` when `raw` is too short to be one.
pub(crate) fn decode_window(raw: &[u8]) -> Option<WindowKey<'_>> {
    let (segment, rest) = raw.split_first_chunk::<SEGMENT_LEN>()?;
    let (rest, seq) = rest.split_last_chunk::<4>()?;
    let (key, start) = rest.split_last_chunk::<8>()?;
    Some(WindowKey {
        segment: time_from_bytes(*segment),
        key,
        start: time_from_bytes(*start),
        seq: u32::from_be_bytes(*seq),
    })
}

/// A decoded session key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SessionKey<'a> {
    pub(crate) segment: i64,
    pub(crate) key: &'a [u8],
    pub(crate) end: i64,
    pub(crate) start: i64,
}

/// Decodes a session key; `None` when `raw` is too short to be one.
pub(crate) fn decode_session(raw: &[u8]) -> Option<SessionKey<'_>> {
    let (segment, rest) = raw.split_first_chunk::<SEGMENT_LEN>()?;
    let (rest, start) = rest.split_last_chunk::<8>()?;
    let (key, end) = rest.split_last_chunk::<8>()?;
    Some(SessionKey {
        segment: time_from_bytes(*segment),
        key,
        end: time_from_bytes(*end),
        start: time_from_bytes(*start),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_bytes_preserve_order_and_round_trip() {
        let times = [i64::MIN, -60_001, -1, 0, 1, 59_999, i64::MAX];
        for pair in times.windows(2) {
            assert!(time_bytes(pair[0]) < time_bytes(pair[1]), "{pair:?}");
        }
        for t in times {
            assert_eq!(time_from_bytes(time_bytes(t)), t);
        }
    }

    #[test]
    fn window_keys_round_trip_and_sort_by_segment_key_start_seq() {
        let mut raw = Vec::new();
        let cases: [(i64, &[u8], i64, u32); 3] = [
            (0, b"", 0, 0),
            (-3, b"a", -1, 7),
            (i64::MAX, &[0xff; 3], i64::MIN, u32::MAX),
        ];
        for (segment, key, start, seq) in cases {
            window_key(&mut raw, segment, key, start, seq);
            assert_eq!(raw.len(), SEGMENT_LEN + key.len() + WINDOW_TAIL);
            let decoded = decode_window(&raw).unwrap();
            assert_eq!(
                decoded,
                WindowKey {
                    segment,
                    key,
                    start,
                    seq
                }
            );
        }
        let encode = |segment, key: &[u8], start, seq| {
            let mut raw = Vec::new();
            window_key(&mut raw, segment, key, start, seq);
            raw
        };
        assert!(encode(-1, b"z", 9, 9) < encode(0, b"a", -9, 0));
        assert!(encode(0, b"a", 5, 9) < encode(0, b"a", 6, 0));
        assert!(encode(0, b"a", 5, 1) < encode(0, b"a", 5, 2));
    }

    #[test]
    fn session_keys_round_trip() {
        let mut raw = Vec::new();
        session_key(&mut raw, -2, b"user", 10, -5);
        let decoded = decode_session(&raw).unwrap();
        assert_eq!(
            decoded,
            SessionKey {
                segment: -2,
                key: b"user",
                end: 10,
                start: -5
            }
        );
    }

    #[test]
    fn short_or_foreign_keys_decode_to_none_without_panicking() {
        for len in 0..SEGMENT_LEN + WINDOW_TAIL {
            assert_eq!(decode_window(&vec![0xab; len]), None, "{len}");
        }
        for len in 0..SEGMENT_LEN + SESSION_TAIL {
            assert_eq!(decode_session(&vec![0xab; len]), None, "{len}");
        }
        assert!(
            decode_window(&[0; SEGMENT_LEN + WINDOW_TAIL])
                .unwrap()
                .key
                .is_empty()
        );
    }
}
