//! [`Segments`]: time split into segments, the observed stream time, and expiry.
//!
//! Owns the arithmetic and bookkeeping both window and session stores share: which segment a
//! time falls in, which times and segments are expired, which segments a time range touches, and
//! dropping expired segments from the key-value store. Does not own key layouts beyond the
//! segment prefix (`layout.rs`) nor what the stored time means (window start, session end).
//!
//! Rules, as in Kafka Streams' segmented stores, with `observed` the largest time seen:
//! * segment of time `t` = `floor(t / segment_interval)` (negative times included);
//! * a record is **expired** when `t <= observed - retention`, i.e. `t < live_from`;
//! * a **segment** is expired when it lies wholly below `live_from`'s segment (the *live
//!   segment*); expired segments are deleted from the store with one
//!   [`KeyValueStore::delete_range`] from the last cleaned segment up to the live one, whenever
//!   the live segment moves up. Records of the live segment below `live_from` stay on disk until
//!   their segment goes, but are never returned.
//!
//! Invariants: `cleaned`, when set, is a segment below which the store holds no key of this
//! store's layout; nothing here overflows (times are clamped, bounds computed in `i128`).

use std::ops::Bound;

use crate::{KeyValueStore, StateError};

use super::layout::segment_prefix;

/// The segments of one window or session store and its observed stream time.
#[derive(Debug, Clone)]
pub(crate) struct Segments {
    retention: i64,
    interval: i64,
    /// The largest time seen (window start, session end, or an observed stream time); `None`
    /// until something is seen.
    observed: Option<i64>,
    /// Every segment below this one has been deleted from the store.
    cleaned: Option<i64>,
}

/// The part of a time range that can hold live records, and the segments it spans.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Span {
    pub(crate) from: i64,
    pub(crate) to: i64,
    pub(crate) first_segment: i64,
    pub(crate) last_segment: i64,
}

impl Segments {
    /// Checks the configuration: retention `>= 0`, segment interval `>= 1`.
    pub(crate) fn new(store: &str, retention: i64, interval: i64) -> Result<Self, StateError> {
        let invalid = |detail: String| StateError::InvalidConfig {
            store: store.to_owned(),
            detail,
        };
        if retention < 0 {
            return Err(invalid(format!("retention {retention} ms is negative")));
        }
        if interval < 1 {
            return Err(invalid(format!(
                "segment interval {interval} ms is not positive"
            )));
        }
        Ok(Self {
            retention,
            interval,
            observed: None,
            cleaned: None,
        })
    }

    /// The segment `t` falls in.
    pub(crate) fn segment_of(&self, t: i64) -> i64 {
        t.div_euclid(self.interval)
    }

    /// The largest time seen.
    /// Takes `t` as the observed time without touching any store (a read-only view).
    pub(crate) fn assume_observed(&mut self, t: i64) {
        self.observed = Some(self.observed.map_or(t, |o| o.max(t)));
    }

    pub(crate) fn observed(&self) -> Option<i64> {
        self.observed
    }

    /// The earliest live time; `None` while nothing can be expired.
    fn live_from(&self) -> Option<i64> {
        let observed = i128::from(self.observed?);
        let live_from = observed - i128::from(self.retention) + 1;
        // Nothing is expired while the bound lies at or below i64::MIN; above i64::MAX (observed
        // i64::MAX, retention 0) it is clamped.
        (live_from > i128::from(i64::MIN)).then_some(i64::try_from(live_from).unwrap_or(i64::MAX))
    }

    /// True when a record at `t` is expired (never returned; [`Segments::span`] leaves it out).
    #[cfg(test)]
    pub(crate) fn is_expired(&self, t: i64) -> bool {
        self.live_from().is_some_and(|live_from| t < live_from)
    }

    /// True when `t`'s segment is expired (a write at `t` is refused).
    pub(crate) fn is_segment_expired(&self, t: i64) -> bool {
        self.live_from()
            .is_some_and(|live_from| self.segment_of(t) < self.segment_of(live_from))
    }

    /// Raises the observed time to `t` (never lowers it) and deletes the segments that became
    /// expired.
    pub(crate) fn observe(&mut self, kv: &mut dyn KeyValueStore, t: i64) -> Result<(), StateError> {
        if self.observed.is_none_or(|observed| t > observed) {
            self.observed = Some(t);
        }
        self.drop_expired(kv)
    }

    /// Deletes every segment below the live one not deleted yet, in one range delete.
    pub(crate) fn drop_expired(&mut self, kv: &mut dyn KeyValueStore) -> Result<(), StateError> {
        let Some(live) = self.live_from().map(|t| self.segment_of(t)) else {
            return Ok(());
        };
        if self.cleaned.is_some_and(|cleaned| cleaned >= live) {
            return Ok(());
        }
        let from = segment_prefix(self.cleaned.unwrap_or(i64::MIN));
        kv.delete_range(&from, &segment_prefix(live))?;
        self.cleaned = Some(live);
        Ok(())
    }

    /// The live part of `[from, to]` (inclusive; also cut at the observed time, above which
    /// nothing is stored) and its segments; `None` when it holds no live time.
    pub(crate) fn span(&self, from: i64, to: i64) -> Option<Span> {
        let observed = self.observed?;
        let from = self
            .live_from()
            .map_or(from, |live_from| from.max(live_from));
        let to = to.min(observed);
        (from <= to).then(|| Span {
            from,
            to,
            first_segment: self.segment_of(from),
            last_segment: self.segment_of(to),
        })
    }

    /// Sets the observed time from a store's contents: `decode` returns the segment
    /// and time of a stored key (`None` for keys not of the layout). Reads the highest segment
    /// only, from the end of the store. Fails when a stored key's segment does not match its
    /// time, i.e. the store was written with another segment interval.
    pub(crate) fn recover(
        &mut self,
        kv: &dyn KeyValueStore,
        decode: impl Fn(&[u8]) -> Option<(i64, i64)>,
    ) -> Result<(), StateError> {
        let mut top: Option<(i64, i64)> = None;
        for entry in kv.reverse_range(Bound::Unbounded, Bound::Unbounded)? {
            let (key, _) = entry?;
            let Some((segment, t)) = decode(&key) else {
                continue;
            };
            match top {
                None if segment != self.segment_of(t) => {
                    return Err(StateError::InvalidConfig {
                        store: kv.name().to_owned(),
                        detail: format!(
                            "stored time {t} lies in segment {segment}, but the segment interval \
                             {} ms puts it in {}: the store was written with another segment \
                             interval (wipe it and restore it from its changelog)",
                            self.interval,
                            self.segment_of(t)
                        ),
                    });
                }
                None => top = Some((segment, t)),
                Some((top_segment, max)) if segment == top_segment => {
                    top = Some((top_segment, max.max(t)));
                }
                Some(_) => break,
            }
        }
        if let Some((_, max)) = top {
            self.observed = Some(self.observed.map_or(max, |observed| observed.max(max)));
        }
        Ok(())
    }
}

/// Runs `visit` on segments `first..=last`, ascending or descending, stopping at the first error.
pub(crate) fn each_segment(
    first: i64,
    last: i64,
    reverse: bool,
    mut visit: impl FnMut(i64) -> Result<(), StateError>,
) -> Result<(), StateError> {
    if reverse {
        (first..=last).rev().try_for_each(&mut visit)
    } else {
        (first..=last).try_for_each(&mut visit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::InMemoryStore;

    #[test]
    fn invalid_configurations_are_refused() {
        assert!(matches!(
            Segments::new("s", -1, 10),
            Err(StateError::InvalidConfig { .. })
        ));
        assert!(Segments::new("s", 10, 0).is_err());
        assert!(Segments::new("s", 0, 1).is_ok());
    }

    #[test]
    fn expiry_follows_observed_time() {
        let mut kv = InMemoryStore::new("s");
        let mut s = Segments::new("s", 100, 50).unwrap();
        assert!(!s.is_expired(i64::MIN));
        assert_eq!(
            s.span(i64::MIN, i64::MAX),
            None,
            "nothing observed, nothing stored"
        );
        s.observe(&mut kv, 249).unwrap();
        // live_from = 150: times up to 149 are expired; segment 2 (100..150) is expired, 3 live.
        assert!(s.is_expired(149) && !s.is_expired(150));
        assert!(s.is_segment_expired(149) && !s.is_segment_expired(150));
        s.observe(&mut kv, 10).unwrap(); // never goes back
        assert_eq!(s.observed(), Some(249));
        s.observe(&mut kv, 260).unwrap(); // live_from 161, still segment 3
        assert!(s.is_expired(160) && !s.is_segment_expired(160));
        assert_eq!(
            s.span(0, 1_000),
            Some(Span {
                from: 161,
                to: 260,
                first_segment: 3,
                last_segment: 5
            })
        );
        assert_eq!(s.span(300, 400), None);
        assert_eq!(s.span(100, 120), None);
    }

    #[test]
    fn extreme_times_do_not_overflow() {
        let mut kv = InMemoryStore::new("s");
        let mut s = Segments::new("s", i64::MAX, 1).unwrap();
        s.observe(&mut kv, i64::MIN).unwrap();
        assert!(!s.is_expired(i64::MIN));
        s.observe(&mut kv, i64::MAX).unwrap();
        assert!(s.is_expired(i64::MIN) && !s.is_expired(1));
        assert_eq!(s.segment_of(-1), -1);
        let mut s = Segments::new("s", 0, 1).unwrap();
        s.observe(&mut kv, i64::MIN).unwrap();
        assert!(s.is_expired(i64::MIN));
        assert_eq!(s.span(i64::MIN, i64::MAX), None);
    }

    #[test]
    fn each_segment_in_both_directions() {
        let mut seen = Vec::new();
        each_segment(-1, 1, false, |s| {
            seen.push(s);
            Ok(())
        })
        .unwrap();
        each_segment(-1, 1, true, |s| {
            seen.push(s);
            Ok(())
        })
        .unwrap();
        assert_eq!(seen, [-1, 0, 1, 1, 0, -1]);
    }
}
