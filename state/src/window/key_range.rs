//! The inclusive upper scan bound of a window key-range query within one segment.
//!
//! Owns one computation, [`key_range_hi`]: because user keys are stored without a length prefix,
//! the windows of the keys in `[key_from, key_to]` do not all lie below `key_to`'s own largest
//! stored key — a shorter key that is a prefix of `key_to` is followed directly by its time
//! bytes, which can sort above the rest of `key_to`. The bound is the largest of the candidates.
//! Scans still filter every decoded key: the bound only keeps them from missing any.

use std::cmp::Ordering;

use super::layout::{self, WINDOW_TAIL, time_bytes};

/// Writes into `out` the largest stored key that a window of a key in `[key_from, key_to]`
/// starting at or before `to` can have in `segment`: the largest of `p ++ time(to) ++ seq::MAX`
/// over `key_to` and its prefixes `p` that are still `>= key_from` (`"a" ++ 0xff..` sorts above
/// `"ab" ++ ..`).
pub(crate) fn key_range_hi(
    out: &mut Vec<u8>,
    segment: i64,
    key_from: &[u8],
    key_to: &[u8],
    to: i64,
) {
    let mut tail = [0xff; WINDOW_TAIL];
    tail[..8].copy_from_slice(&time_bytes(to));
    let encoded = |len: usize| key_to[..len].iter().chain(tail.iter());
    let mut best = key_to.len();
    // Shorter prefixes are smaller keys: stop at the first one below `key_from`.
    for len in (0..key_to.len()).rev() {
        if &key_to[..len] < key_from {
            break;
        }
        if encoded(len).cmp(encoded(best)) == Ordering::Greater {
            best = len;
        }
    }
    layout::window_key(out, segment, &key_to[..best], to, u32::MAX);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_range_upper_bound_covers_keys_that_prefix_key_to() {
        let mut hi = Vec::new();
        let mut raw = Vec::new();
        // Every key in range, at the largest start and seq, must lie at or below the bound.
        let cases: [(&[u8], &[u8], &[&[u8]]); 4] = [
            (b"a", b"ab", &[b"a", b"aa", b"ab", b"a\x00\xff"]),
            (b"", b"b\x00", &[b"", b"a", b"b", b"b\x00"]),
            (b"ab", b"ab", &[b"ab"]),
            (b"b", b"bcd", &[b"b", b"bc", b"bcd", b"bb\xff\xff"]),
        ];
        for (from, to, inside) in cases {
            for to_time in [i64::MIN, -1, 0, i64::MAX] {
                key_range_hi(&mut hi, 3, from, to, to_time);
                for &key in inside {
                    layout::window_key(&mut raw, 3, key, to_time, u32::MAX);
                    assert!(raw <= hi, "{key:?} in {from:?}..={to:?} at {to_time}");
                }
            }
        }
        // Prefixes below `key_from` do not widen the bound.
        key_range_hi(&mut hi, 0, b"ab", b"abc", 0);
        let mut exact = Vec::new();
        layout::window_key(&mut exact, 0, b"abc", 0, u32::MAX);
        let mut with_ab = Vec::new();
        layout::window_key(&mut with_ab, 0, b"ab", 0, u32::MAX);
        assert_eq!(hi, exact.max(with_ab));
    }
}
