//! [`WindowStore`]: windows (user key, window start) → value, over any [`KeyValueStore`] stack.
//!
//! Owns the window key layout's use (`layout.rs`), the duplicate numbering of stores that retain
//! duplicates, and the window queries. Time bookkeeping and expiry are [`Segments`]'; the bytes,
//! change logging, caching, checkpoints and restore are the key-value stack's, unchanged.
//!
//! The store holds no data: every method takes the key-value store the runtime owns (the same
//! one every time). Semantics follow Kafka Streams' segmented window stores: see
//! [`WindowStore::put`]. Ordering of results: by window start, then key bytes; the duplicates of
//! one window in the order they were put. (Stored keys do not sort by key then time across keys
//! — user keys have no length prefix — so multi-key scans sort what they collected.)
//!
//! Invariant: the key-value store is written only through this type, or restored before
//! [`WindowStore::open`]; then no stored window starts after the observed stream time, and scans
//! need not look past it.

use std::cell::Cell;
use std::ops::Bound;

use super::key_range::key_range_hi;
use super::layout::{self, decode_window, segment_prefix};
use super::segments::{Segments, Span, each_segment};
use crate::{KeyValueStore, StateError};

/// Kafka Streams' default segment interval for a retention: half of it, at least a minute.
pub(crate) fn default_segment_interval(retention_ms: i64) -> i64 {
    (retention_ms / 2).max(60_000)
}

/// How a [`WindowStore`] keeps and expires windows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WindowStoreConfig {
    /// How long windows are kept: a window starting at or before `observed stream time -
    /// retention_ms` is expired (Kafka Streams requires at least window size + grace).
    pub retention_ms: i64,
    /// The span of time one segment covers; expired data is dropped a segment at a time. Must
    /// not change for an existing store (its keys encode segment ids): [`WindowStore::open`]
    /// refuses a store written with another interval.
    pub segment_interval_ms: i64,
    /// Keep every put of the same key and window start instead of overwriting (stream–stream
    /// join buffers); deletes are then ignored, as in Kafka Streams.
    pub retain_duplicates: bool,
}

impl WindowStoreConfig {
    /// A config with Kafka Streams' default segment interval, `max(retention / 2, 60 s)`.
    pub fn new(retention_ms: i64, retain_duplicates: bool) -> Self {
        Self {
            retention_ms,
            segment_interval_ms: default_segment_interval(retention_ms),
            retain_duplicates,
        }
    }
}

/// Key buffers reused between calls, so puts and point reads allocate no key.
#[derive(Default)]
struct Scratch {
    lo: Vec<u8>,
    hi: Vec<u8>,
}

/// A window store laid over a key-value store. `Send`, not `Sync` (like the stores below it).
pub struct WindowStore {
    config: WindowStoreConfig,
    segments: Segments,
    scratch: Cell<Scratch>,
}

impl std::fmt::Debug for WindowStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WindowStore")
            .field("config", &self.config)
            .field("segments", &self.segments)
            .finish_non_exhaustive()
    }
}

impl WindowStore {
    /// Opens the window store kept in `kv`: checks the config, recovers the observed stream
    /// time from the contents (the largest window start of the highest segment — after a
    /// restore, or a reopen) and drops the segments it makes expired.
    pub fn open(config: WindowStoreConfig, kv: &mut dyn KeyValueStore) -> Result<Self, StateError> {
        let mut segments =
            Segments::new(kv.name(), config.retention_ms, config.segment_interval_ms)?;
        segments.recover(kv, |raw| decode_window(raw).map(|w| (w.segment, w.start)))?;
        segments.drop_expired(kv)?;
        Ok(Self {
            config,
            segments,
            scratch: Cell::default(),
        })
    }

    /// A window store to read `kv` with and never write (the state endpoint reads a task's
    /// store between its records): the observed stream time is recovered as by
    /// [`WindowStore::open`], so expired windows stay invisible, but nothing is dropped.
    pub fn read_only(
        config: WindowStoreConfig,
        kv: &dyn KeyValueStore,
    ) -> Result<Self, StateError> {
        let mut segments =
            Segments::new(kv.name(), config.retention_ms, config.segment_interval_ms)?;
        segments.recover(kv, |raw| decode_window(raw).map(|w| (w.segment, w.start)))?;
        Ok(Self {
            config,
            segments,
            scratch: Cell::default(),
        })
    }

    /// A window store to read the store named `store` with, at a stream time the caller knows
    /// (`observed`: a task's stream time): nothing is scanned to recover it, so this costs
    /// nothing per use — for operators that read another operator's window store on every
    /// record. Windows expired by `observed` and windows starting after it are invisible.
    pub fn view_at(
        config: WindowStoreConfig,
        store: &str,
        observed: i64,
    ) -> Result<Self, StateError> {
        let mut segments = Segments::new(store, config.retention_ms, config.segment_interval_ms)?;
        segments.assume_observed(observed);
        Ok(Self {
            config,
            segments,
            scratch: Cell::default(),
        })
    }

    /// The store's config.
    pub fn config(&self) -> &WindowStoreConfig {
        &self.config
    }

    /// The largest window start or stream time seen; `i64::MIN` before any (so
    /// `observed_stream_time().saturating_sub(grace)` closes nothing yet).
    pub fn observed_stream_time(&self) -> i64 {
        self.segments.observed().unwrap_or(i64::MIN)
    }

    /// Advances the observed stream time to `stream_time` (never back) and drops the segments
    /// that expire, so a task expires windows even when it writes none.
    pub fn observe(
        &mut self,
        kv: &mut dyn KeyValueStore,
        stream_time: i64,
    ) -> Result<(), StateError> {
        self.segments.observe(kv, stream_time)
    }

    /// Writes `value` for (`key`, `window_start`); `None` deletes it. As Kafka Streams'
    /// segmented store: the observed stream time first rises to `window_start` (dropping the
    /// segments that expire); then, if the window's segment is expired, nothing is written and
    /// the result is `Ok(false)` (the runtime counts it as an expired record). A window of the
    /// live segment that is itself already expired is written but never read back.
    ///
    /// With `retain_duplicates`, every put adds a new entry after those of the same window, and
    /// `None` does nothing at all (not even observe the time).
    pub fn put(
        &mut self,
        kv: &mut dyn KeyValueStore,
        key: &[u8],
        window_start: i64,
        value: Option<&[u8]>,
    ) -> Result<bool, StateError> {
        if self.config.retain_duplicates && value.is_none() {
            return Ok(!self.segments.is_segment_expired(window_start));
        }
        self.segments.observe(kv, window_start)?;
        if self.segments.is_segment_expired(window_start) {
            return Ok(false);
        }
        let segment = self.segments.segment_of(window_start);
        let mut scratch = self.scratch.take();
        let written = self.write(kv, &mut scratch, segment, key, window_start, value);
        self.scratch.set(scratch);
        written.map(|()| true)
    }

    fn write(
        &self,
        kv: &mut dyn KeyValueStore,
        scratch: &mut Scratch,
        segment: i64,
        key: &[u8],
        start: i64,
        value: Option<&[u8]>,
    ) -> Result<(), StateError> {
        let seq = if self.config.retain_duplicates {
            // After the last duplicate stored for the window: insertion order survives reopens.
            layout::window_key(&mut scratch.lo, segment, key, start, 0);
            layout::window_key(&mut scratch.hi, segment, key, start, u32::MAX);
            let mut last = None;
            for entry in kv.reverse_range(
                Bound::Included(scratch.lo.as_slice()),
                Bound::Included(scratch.hi.as_slice()),
            )? {
                let (raw, _) = entry?;
                if let Some(w) = decode_window(&raw).filter(|w| w.key == key && w.start == start) {
                    last = Some(w.seq);
                    break;
                }
            }
            match last {
                None => 0,
                Some(seq) => seq.checked_add(1).ok_or_else(|| StateError::InvalidWrite {
                    store: kv.name().to_owned(),
                    detail: format!("window {start} of a key holds {} duplicates", u32::MAX),
                })?,
            }
        } else {
            0
        };
        layout::window_key(&mut scratch.lo, segment, key, start, seq);
        match value {
            Some(value) => kv.put(&scratch.lo, value),
            None => kv.delete(&scratch.lo),
        }
    }

    /// The value of (`key`, `window_start`) — with duplicates, the first one put — or `None`
    /// when absent or expired.
    pub fn fetch(
        &self,
        kv: &dyn KeyValueStore,
        key: &[u8],
        window_start: i64,
    ) -> Result<Option<Vec<u8>>, StateError> {
        if self.segments.span(window_start, window_start).is_none() {
            return Ok(None);
        }
        if self.config.retain_duplicates {
            let first = self.scan_key(kv, key, window_start, window_start, false, Some(1))?;
            return Ok(first.into_iter().next().map(|(_, value)| value));
        }
        let segment = self.segments.segment_of(window_start);
        let mut scratch = self.scratch.take();
        layout::window_key(&mut scratch.lo, segment, key, window_start, 0);
        let value = kv.get(&scratch.lo);
        self.scratch.set(scratch);
        value
    }

    /// `key`'s live windows starting in `[time_from, time_to]`, ascending by start (duplicates
    /// in the order they were put). Empty when `time_from > time_to`.
    pub fn fetch_range(
        &self,
        kv: &dyn KeyValueStore,
        key: &[u8],
        time_from: i64,
        time_to: i64,
    ) -> Result<Vec<(i64, Vec<u8>)>, StateError> {
        self.scan_key(kv, key, time_from, time_to, false, None)
    }

    /// [`WindowStore::fetch_range`] in descending order (duplicates last put first).
    pub fn backward_fetch_range(
        &self,
        kv: &dyn KeyValueStore,
        key: &[u8],
        time_from: i64,
        time_to: i64,
    ) -> Result<Vec<(i64, Vec<u8>)>, StateError> {
        self.scan_key(kv, key, time_from, time_to, true, None)
    }

    /// Live windows of the keys in `[key_from, key_to]` starting in `[time_from, time_to]`, as
    /// (key, start, value), ordered by start, then key. Empty when either range is reversed.
    pub fn fetch_key_range(
        &self,
        kv: &dyn KeyValueStore,
        key_from: &[u8],
        key_to: &[u8],
        time_from: i64,
        time_to: i64,
    ) -> Result<Vec<(Vec<u8>, i64, Vec<u8>)>, StateError> {
        let Some(span) = self.segments.span(time_from, time_to) else {
            return Ok(Vec::new());
        };
        if key_from > key_to {
            return Ok(Vec::new());
        }
        let mut out = Vec::new();
        let mut scratch = self.scratch.take();
        let scanned = each_segment(span.first_segment, span.last_segment, false, |segment| {
            scratch.lo.clear();
            scratch.lo.extend_from_slice(&segment_prefix(segment));
            scratch.lo.extend_from_slice(key_from);
            key_range_hi(&mut scratch.hi, segment, key_from, key_to, span.to);
            let entries = kv.range(
                Bound::Included(scratch.lo.as_slice()),
                Bound::Included(scratch.hi.as_slice()),
            )?;
            collect_windows(
                entries,
                span,
                |key| key_from <= key && key <= key_to,
                &mut out,
            )
        });
        self.scratch.set(scratch);
        scanned?;
        sort_windows(&mut out);
        Ok(out)
    }

    /// Every live window starting in `[time_from, time_to]`, as (key, start, value), ordered by
    /// start, then key.
    pub fn fetch_all(
        &self,
        kv: &dyn KeyValueStore,
        time_from: i64,
        time_to: i64,
    ) -> Result<Vec<(Vec<u8>, i64, Vec<u8>)>, StateError> {
        let Some(span) = self.segments.span(time_from, time_to) else {
            return Ok(Vec::new());
        };
        let lo = segment_prefix(span.first_segment);
        let hi = span.last_segment.checked_add(1).map(segment_prefix);
        let hi = hi
            .as_ref()
            .map_or(Bound::Unbounded, |hi| Bound::Excluded(hi.as_slice()));
        let mut out = Vec::new();
        collect_windows(
            kv.range(Bound::Included(lo.as_slice()), hi)?,
            span,
            |_| true,
            &mut out,
        )?;
        sort_windows(&mut out);
        Ok(out)
    }

    /// Every live window, as [`WindowStore::fetch_all`] over all times.
    pub fn all(&self, kv: &dyn KeyValueStore) -> Result<Vec<(Vec<u8>, i64, Vec<u8>)>, StateError> {
        self.fetch_all(kv, i64::MIN, i64::MAX)
    }

    /// One key's windows in `[from, to]`, segment by segment, at most `limit` of them.
    fn scan_key(
        &self,
        kv: &dyn KeyValueStore,
        key: &[u8],
        from: i64,
        to: i64,
        reverse: bool,
        limit: Option<usize>,
    ) -> Result<Vec<(i64, Vec<u8>)>, StateError> {
        let Some(span) = self.segments.span(from, to) else {
            return Ok(Vec::new());
        };
        let limit = limit.unwrap_or(usize::MAX);
        let mut out = Vec::new();
        let mut scratch = self.scratch.take();
        let scanned = each_segment(span.first_segment, span.last_segment, reverse, |segment| {
            if out.len() >= limit {
                return Ok(());
            }
            layout::window_key(&mut scratch.lo, segment, key, span.from, 0);
            layout::window_key(&mut scratch.hi, segment, key, span.to, u32::MAX);
            let (lo, hi) = (
                Bound::Included(scratch.lo.as_slice()),
                Bound::Included(scratch.hi.as_slice()),
            );
            let entries = if reverse {
                kv.reverse_range(lo, hi)?
            } else {
                kv.range(lo, hi)?
            };
            for entry in entries {
                let (raw, value) = entry?;
                // The byte range also holds keys extending `key`: keep exact matches only.
                let Some(w) = decode_window(&raw) else {
                    continue;
                };
                if w.key == key && (span.from..=span.to).contains(&w.start) {
                    out.push((w.start, value));
                    if out.len() >= limit {
                        break;
                    }
                }
            }
            Ok(())
        });
        self.scratch.set(scratch);
        scanned.map(|()| out)
    }
}

/// Orders windows by start, then key; stable, so duplicates keep their scan (insertion) order.
fn sort_windows(windows: &mut [(Vec<u8>, i64, Vec<u8>)]) {
    windows.sort_by(|a, b| a.1.cmp(&b.1).then_with(|| a.0.cmp(&b.0)));
}

/// Decodes scanned entries, keeping those whose key passes `keep` and whose start lies in `span`.
fn collect_windows(
    entries: crate::KvIter<'_>,
    span: Span,
    keep: impl Fn(&[u8]) -> bool,
    out: &mut Vec<(Vec<u8>, i64, Vec<u8>)>,
) -> Result<(), StateError> {
    for entry in entries {
        let (raw, value) = entry?;
        let Some(w) = decode_window(&raw) else {
            continue;
        };
        if keep(w.key) && (span.from..=span.to).contains(&w.start) {
            out.push((w.key.to_vec(), w.start, value));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_segment_interval_is_half_the_retention_at_least_a_minute() {
        assert_eq!(
            WindowStoreConfig::new(1_000, false).segment_interval_ms,
            60_000
        );
        assert_eq!(
            WindowStoreConfig::new(600_000, true).segment_interval_ms,
            300_000
        );
    }
}
