//! Key ranges in one normal form, shared by every store implementation.
//!
//! Owns: turning the trait's `(Bound, Bound)` pairs and prefixes into a half-open byte range
//! `[lo, hi)` ([`KeyRange`]). Keys order lexicographically by bytes, so the successor of a key `k`
//! is `k ++ [0x00]`: `Excluded(a)` as a lower bound becomes `lo = a ++ [0]`, `Included(b)` as an
//! upper bound becomes `hi = b ++ [0]`. Invariant: a [`KeyRange`] that [`KeyRange::is_empty`]
//! must not be handed to `BTreeMap::range` (which panics on inverted bounds); stores check first.

use std::ops::Bound;

/// A half-open key range `[lo, hi)`; `hi == None` means unbounded above.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct KeyRange {
    /// Smallest key in the range (the empty key is the smallest of all keys).
    pub(crate) lo: Vec<u8>,
    /// First key above the range, if any.
    pub(crate) hi: Option<Vec<u8>>,
}

impl KeyRange {
    /// The range the trait's bounds describe.
    pub(crate) fn new(from: Bound<&[u8]>, to: Bound<&[u8]>) -> Self {
        let lo = match from {
            Bound::Included(k) => k.to_vec(),
            Bound::Excluded(k) => successor(k),
            Bound::Unbounded => Vec::new(),
        };
        let hi = match to {
            Bound::Included(k) => Some(successor(k)),
            Bound::Excluded(k) => Some(k.to_vec()),
            Bound::Unbounded => None,
        };
        Self { lo, hi }
    }

    /// Every key starting with `prefix`.
    pub(crate) fn prefix(prefix: &[u8]) -> Self {
        Self {
            lo: prefix.to_vec(),
            hi: prefix_end(prefix),
        }
    }

    /// True when no key lies in the range.
    pub(crate) fn is_empty(&self) -> bool {
        self.hi
            .as_deref()
            .is_some_and(|hi| hi <= self.lo.as_slice())
    }

    /// True when `key` lies in the range.
    #[cfg(test)]
    pub(crate) fn contains(&self, key: &[u8]) -> bool {
        key >= self.lo.as_slice() && !self.above(key)
    }

    /// True when `key` lies at or above the range's upper end.
    pub(crate) fn above(&self, key: &[u8]) -> bool {
        self.hi.as_deref().is_some_and(|hi| key >= hi)
    }

    /// The range as `BTreeMap::range` bounds. Call only when not [`KeyRange::is_empty`].
    pub(crate) fn as_bounds(&self) -> (Bound<&[u8]>, Bound<&[u8]>) {
        let hi = match &self.hi {
            Some(hi) => Bound::Excluded(hi.as_slice()),
            None => Bound::Unbounded,
        };
        (Bound::Included(self.lo.as_slice()), hi)
    }
}

/// The smallest key greater than `key`.
fn successor(key: &[u8]) -> Vec<u8> {
    let mut next = Vec::with_capacity(key.len() + 1);
    next.extend_from_slice(key);
    next.push(0);
    next
}

/// The smallest key greater than every key starting with `prefix`; `None` when there is none
/// (the prefix is empty or all `0xff`).
fn prefix_end(prefix: &[u8]) -> Option<Vec<u8>> {
    let last = prefix.iter().rposition(|&b| b != 0xff)?;
    let mut end = prefix[..=last].to_vec();
    end[last] += 1;
    Some(end)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_normalise_to_half_open() {
        let r = KeyRange::new(Bound::Excluded(b"a"), Bound::Included(b"c"));
        assert_eq!(
            r,
            KeyRange {
                lo: b"a\0".to_vec(),
                hi: Some(b"c\0".to_vec())
            }
        );
        assert!(!r.contains(b"a"));
        assert!(r.contains(b"a\0"));
        assert!(r.contains(b"c"));
        assert!(!r.contains(b"c\0"));
        assert!(KeyRange::new(Bound::Excluded(b"a"), Bound::Excluded(b"a")).is_empty());
        assert!(KeyRange::new(Bound::Included(b"b"), Bound::Included(b"a")).is_empty());
        assert!(!KeyRange::new(Bound::Included(b"a"), Bound::Included(b"a")).is_empty());
        assert!(!KeyRange::new(Bound::Unbounded, Bound::Unbounded).is_empty());
    }

    #[test]
    fn prefix_ends() {
        assert_eq!(prefix_end(b"ab"), Some(b"ac".to_vec()));
        assert_eq!(prefix_end(&[0x01, 0xff]), Some(vec![0x02]));
        assert_eq!(prefix_end(&[0xff, 0xff]), None);
        assert_eq!(prefix_end(b""), None);
        let r = KeyRange::prefix(&[0xff]);
        assert!(r.contains(&[0xff]) && r.contains(&[0xff, 0x00]) && !r.contains(&[0xfe]));
    }
}
