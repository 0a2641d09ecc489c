//! [`SessionStore`]: sessions (user key, start, end) → value, over any [`KeyValueStore`] stack.
//!
//! Owns the session key layout's use (`layout.rs`) and the session queries. Sessions are
//! segmented, and expire, by their **end**: a session ending at or before `observed stream time -
//! retention` is expired. Time bookkeeping and expiry are [`Segments`]'; bytes, change logging,
//! caching, checkpoints and restore are the key-value stack's, unchanged.
//!
//! As for [`crate::WindowStore`], every method takes the key-value store the runtime owns, and
//! that store is written only through this type (or restored before [`SessionStore::open`]).
//! Results are ordered by session end, then start (then key, for the whole-store scan).

use std::cell::Cell;
use std::ops::Bound;

use super::layout::{self, decode_session, segment_prefix};
use super::segments::{Segments, each_segment};
use super::window_store::default_segment_interval;
use crate::{KeyValueStore, StateError};

/// How a [`SessionStore`] keeps and expires sessions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionStoreConfig {
    /// How long sessions are kept: a session ending at or before `observed stream time -
    /// retention_ms` is expired (Kafka Streams requires at least inactivity gap + grace).
    pub retention_ms: i64,
    /// The span of session ends one segment covers. Must not change for an existing store.
    pub segment_interval_ms: i64,
}

impl SessionStoreConfig {
    /// A config with Kafka Streams' default segment interval, `max(retention / 2, 60 s)`.
    pub fn new(retention_ms: i64) -> Self {
        Self {
            retention_ms,
            segment_interval_ms: default_segment_interval(retention_ms),
        }
    }
}

/// Key buffers reused between calls.
#[derive(Default)]
struct Scratch {
    lo: Vec<u8>,
    hi: Vec<u8>,
}

/// A session store laid over a key-value store. `Send`, not `Sync`.
pub struct SessionStore {
    config: SessionStoreConfig,
    segments: Segments,
    scratch: Cell<Scratch>,
}

impl std::fmt::Debug for SessionStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionStore")
            .field("config", &self.config)
            .field("segments", &self.segments)
            .finish_non_exhaustive()
    }
}

impl SessionStore {
    /// Opens the session store kept in `kv`: checks the config, recovers the observed stream
    /// time from the contents (the largest session end of the highest segment) and drops the
    /// segments it makes expired.
    pub fn open(
        config: SessionStoreConfig,
        kv: &mut dyn KeyValueStore,
    ) -> Result<Self, StateError> {
        let mut segments =
            Segments::new(kv.name(), config.retention_ms, config.segment_interval_ms)?;
        segments.recover(kv, |raw| decode_session(raw).map(|s| (s.segment, s.end)))?;
        segments.drop_expired(kv)?;
        Ok(Self {
            config,
            segments,
            scratch: Cell::default(),
        })
    }

    /// A session store to read `kv` with and never write (see [`WindowStore::read_only`](
    /// crate::WindowStore::read_only)).
    pub fn read_only(
        config: SessionStoreConfig,
        kv: &dyn KeyValueStore,
    ) -> Result<Self, StateError> {
        let mut segments =
            Segments::new(kv.name(), config.retention_ms, config.segment_interval_ms)?;
        segments.recover(kv, |raw| decode_session(raw).map(|s| (s.segment, s.end)))?;
        Ok(Self {
            config,
            segments,
            scratch: Cell::default(),
        })
    }

    /// The store's config.
    pub fn config(&self) -> &SessionStoreConfig {
        &self.config
    }

    /// The largest session end or stream time seen; `i64::MIN` before any (so
    /// `observed_stream_time().saturating_sub(grace)` closes nothing yet).
    pub fn observed_stream_time(&self) -> i64 {
        self.segments.observed().unwrap_or(i64::MIN)
    }

    /// Advances the observed stream time to `stream_time` (never back) and drops the segments
    /// that expire.
    pub fn observe(
        &mut self,
        kv: &mut dyn KeyValueStore,
        stream_time: i64,
    ) -> Result<(), StateError> {
        self.segments.observe(kv, stream_time)
    }

    /// Writes `value` for the session (`key`, `start`, `end`); `None` removes it. The observed
    /// stream time first rises to `end`; if the session's segment is expired nothing is written
    /// and the result is `Ok(false)`. A session with `start > end` is refused with
    /// [`StateError::InvalidWrite`].
    pub fn put(
        &mut self,
        kv: &mut dyn KeyValueStore,
        key: &[u8],
        start: i64,
        end: i64,
        value: Option<&[u8]>,
    ) -> Result<bool, StateError> {
        if start > end {
            return Err(StateError::InvalidWrite {
                store: kv.name().to_owned(),
                detail: format!("session [{start}, {end}] ends before it starts"),
            });
        }
        self.segments.observe(kv, end)?;
        if self.segments.is_segment_expired(end) {
            return Ok(false);
        }
        let mut scratch = self.scratch.take();
        layout::session_key(
            &mut scratch.lo,
            self.segments.segment_of(end),
            key,
            end,
            start,
        );
        let written = match value {
            Some(value) => kv.put(&scratch.lo, value),
            None => kv.delete(&scratch.lo),
        };
        self.scratch.set(scratch);
        written.map(|()| true)
    }

    /// The value of the session (`key`, `start`, `end`), or `None` when absent or expired.
    pub fn fetch_session(
        &self,
        kv: &dyn KeyValueStore,
        key: &[u8],
        start: i64,
        end: i64,
    ) -> Result<Option<Vec<u8>>, StateError> {
        if start > end || self.segments.span(end, end).is_none() {
            return Ok(None);
        }
        let mut scratch = self.scratch.take();
        layout::session_key(
            &mut scratch.lo,
            self.segments.segment_of(end),
            key,
            end,
            start,
        );
        let value = kv.get(&scratch.lo);
        self.scratch.set(scratch);
        value
    }

    /// `key`'s live sessions with `end >= earliest_session_end` and `start <=
    /// latest_session_start` — those that overlap or touch `[earliest_session_end,
    /// latest_session_start]` (Kafka Streams' `findSessions`) — as ((start, end), value),
    /// ordered by end, then start.
    pub fn find_sessions(
        &self,
        kv: &dyn KeyValueStore,
        key: &[u8],
        earliest_session_end: i64,
        latest_session_start: i64,
    ) -> Result<Vec<((i64, i64), Vec<u8>)>, StateError> {
        // A session's start bounds nothing about its end: every segment from the earliest end up
        // can hold a match.
        let Some(span) = self.segments.span(earliest_session_end, i64::MAX) else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        let mut scratch = self.scratch.take();
        let scanned = each_segment(span.first_segment, span.last_segment, false, |segment| {
            layout::session_key(&mut scratch.lo, segment, key, span.from, i64::MIN);
            layout::session_key(&mut scratch.hi, segment, key, span.to, i64::MAX);
            let entries = kv.range(
                Bound::Included(scratch.lo.as_slice()),
                Bound::Included(scratch.hi.as_slice()),
            )?;
            for entry in entries {
                let (raw, value) = entry?;
                // The byte range also holds keys extending `key`: keep exact matches only.
                let Some(s) = decode_session(&raw) else {
                    continue;
                };
                if s.key == key
                    && (span.from..=span.to).contains(&s.end)
                    && s.start <= latest_session_start
                {
                    out.push(((s.start, s.end), value));
                }
            }
            Ok(())
        });
        self.scratch.set(scratch);
        scanned.map(|()| out)
    }

    /// Every live session of `key`, ordered by end, then start.
    pub fn fetch(
        &self,
        kv: &dyn KeyValueStore,
        key: &[u8],
    ) -> Result<Vec<((i64, i64), Vec<u8>)>, StateError> {
        self.find_sessions(kv, key, i64::MIN, i64::MAX)
    }

    /// Every live session, as (key, (start, end), value), ordered by end, then key, then start
    /// (for inspection).
    pub fn all(
        &self,
        kv: &dyn KeyValueStore,
    ) -> Result<Vec<(Vec<u8>, (i64, i64), Vec<u8>)>, StateError> {
        let Some(span) = self.segments.span(i64::MIN, i64::MAX) else {
            return Ok(Vec::new());
        };
        let lo = segment_prefix(span.first_segment);
        let mut out = Vec::new();
        for entry in kv.range(Bound::Included(lo.as_slice()), Bound::Unbounded)? {
            let (raw, value) = entry?;
            let Some(s) = decode_session(&raw) else {
                continue;
            };
            if (span.from..=span.to).contains(&s.end) && s.start <= s.end {
                out.push((s.key.to_vec(), (s.start, s.end), value));
            }
        }
        // Stored keys do not sort by key then time across keys (no length prefix): sort here.
        out.sort_by(|a, b| (a.1.1, &a.0, a.1.0).cmp(&(b.1.1, &b.0, b.1.0)));
        Ok(out)
    }
}
