//! Timestamps as store-key bytes that sort like the numbers (8 bytes, big-endian, sign bit
//! flipped), for the operator stores ordered by time: the suppression buffer, the stream join's
//! unmatched records, the TTL index.

/// `ts` as 8 bytes that sort like the numbers.
pub fn ordered(ts: i64) -> [u8; 8] {
    ((ts as u64) ^ (1 << 63)).to_be_bytes()
}

/// The timestamp at the start of `bytes`; `None` when there are fewer than 8.
pub fn from_ordered(bytes: &[u8]) -> Option<i64> {
    let a: [u8; 8] = bytes.get(..8)?.try_into().ok()?;
    Some((u64::from_be_bytes(a) ^ (1 << 63)) as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_sort_like_the_numbers_and_round_trip() {
        let ts = [i64::MIN, -5, -1, 0, 1, 7, i64::MAX];
        for w in ts.windows(2) {
            assert!(ordered(w[0]) < ordered(w[1]));
        }
        for t in ts {
            assert_eq!(from_ordered(&ordered(t)), Some(t));
        }
        assert_eq!(from_ordered(&[1, 2, 3]), None);
    }
}
