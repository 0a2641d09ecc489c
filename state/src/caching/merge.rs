//! Merging a caching layer's uncommitted writes into a scan of the store below it.
//!
//! Owns: [`MergeIter`], which walks two sorted streams — the dirty entries of the range and the
//! inner store's iterator over the same range — in the same direction and yields their union in
//! order. On equal keys the dirty entry wins; a dirty `None` (a pending delete) hides the key.
//! An error from the inner iterator is yielded once and ends the iteration.

use std::cmp::Ordering;
use std::iter::Peekable;

use crate::{KvIter, StateError};

/// Dirty entries of a range, in scan order.
pub(crate) type DirtyIter<'a> = Box<dyn Iterator<Item = (&'a Vec<u8>, &'a Option<Vec<u8>>)> + 'a>;

/// The union of dirty entries and an inner scan, both in the same direction.
pub(crate) struct MergeIter<'a> {
    dirty: Peekable<DirtyIter<'a>>,
    inner: KvIter<'a>,
    /// The inner iterator's next entry, already pulled.
    head: Option<(Vec<u8>, Vec<u8>)>,
    inner_done: bool,
    failed: bool,
    reverse: bool,
}

impl<'a> MergeIter<'a> {
    /// Merges `dirty` into `inner`; `reverse` when both run from the largest key down.
    pub(crate) fn new(dirty: DirtyIter<'a>, inner: KvIter<'a>, reverse: bool) -> Self {
        Self {
            dirty: dirty.peekable(),
            inner,
            head: None,
            inner_done: false,
            failed: false,
            reverse,
        }
    }
}

impl Iterator for MergeIter<'_> {
    type Item = Result<(Vec<u8>, Vec<u8>), StateError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if self.failed {
                return None;
            }
            if self.head.is_none() && !self.inner_done {
                match self.inner.next() {
                    Some(Ok(entry)) => self.head = Some(entry),
                    Some(Err(e)) => {
                        self.failed = true;
                        return Some(Err(e));
                    }
                    None => self.inner_done = true,
                }
            }
            let order = match (self.dirty.peek(), &self.head) {
                (None, None) => return None,
                (Some(_), None) => Ordering::Less,
                (None, Some(_)) => Ordering::Greater,
                (Some((dirty_key, _)), Some((inner_key, _))) => {
                    let order = dirty_key.as_slice().cmp(inner_key.as_slice());
                    if self.reverse { order.reverse() } else { order }
                }
            };
            // `Less`: the dirty entry comes first; `Equal`: it replaces the inner one.
            if order == Ordering::Greater {
                return self.head.take().map(Ok);
            }
            if order == Ordering::Equal {
                self.head = None;
            }
            if let Some((key, Some(value))) = self.dirty.next() {
                return Some(Ok((key.clone(), value.clone())));
            }
            // A pending delete: nothing to yield for this key.
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn merged(
        dirty: &BTreeMap<Vec<u8>, Option<Vec<u8>>>,
        inner: &[(&str, &str)],
        reverse: bool,
    ) -> Vec<(String, String)> {
        let mut inner: Vec<_> = inner
            .iter()
            .map(|(k, v)| Ok((k.as_bytes().to_vec(), v.as_bytes().to_vec())))
            .collect();
        let dirty: DirtyIter<'_> = if reverse {
            Box::new(dirty.iter().rev())
        } else {
            Box::new(dirty.iter())
        };
        if reverse {
            inner.reverse();
        }
        MergeIter::new(dirty, Box::new(inner.into_iter()), reverse)
            .map(|r| {
                let (k, v) = r.unwrap();
                (String::from_utf8(k).unwrap(), String::from_utf8(v).unwrap())
            })
            .collect()
    }

    #[test]
    fn dirty_wins_and_deletes_hide_in_both_directions() {
        let dirty = BTreeMap::from([
            (b"a".to_vec(), Some(b"A".to_vec())),
            (b"c".to_vec(), None),
            (b"d".to_vec(), Some(b"D".to_vec())),
            (b"z".to_vec(), None),
        ]);
        let inner = [("b", "1"), ("c", "2"), ("d", "3"), ("e", "4")];
        let s = |k: &str, v: &str| (k.to_string(), v.to_string());
        let forward = vec![s("a", "A"), s("b", "1"), s("d", "D"), s("e", "4")];
        assert_eq!(merged(&dirty, &inner, false), forward);
        let mut backward = forward;
        backward.reverse();
        assert_eq!(merged(&dirty, &inner, true), backward);
    }

    #[test]
    fn an_inner_error_ends_the_iteration() {
        let dirty = BTreeMap::from([(b"a".to_vec(), Some(b"A".to_vec()))]);
        let inner: Vec<<MergeIter<'_> as Iterator>::Item> =
            vec![Err(StateError::Closed { store: "s".into() })];
        let mut it = MergeIter::new(Box::new(dirty.iter()), Box::new(inner.into_iter()), false);
        assert!(matches!(it.next(), Some(Err(StateError::Closed { .. }))));
        assert!(it.next().is_none());
    }
}
