//! Window specifications, named as in Kafka Streams: [`TimeWindows`] (tumbling, hopping),
//! [`SlidingWindows`], [`SessionWindows`], [`JoinWindows`], and the [`EmitStrategy`] of a
//! windowed aggregation. Durations are whole milliseconds; the grace period is how long after
//! a window's end records are still accepted (by stream time), 0 with `..._with_no_grace`.

use std::time::Duration;

fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// Fixed-size windows `[start, start + size)`: tumbling (a new one every `size`) or, with
/// [`TimeWindows::advance_by`], hopping (a new one every `advance`, overlapping).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeWindows {
    pub size_ms: i64,
    pub advance_ms: i64,
    pub grace_ms: i64,
}

impl TimeWindows {
    pub fn of_size_with_no_grace(size: Duration) -> Self {
        Self::of_size_and_grace(size, Duration::ZERO)
    }
    pub fn of_size_and_grace(size: Duration, grace: Duration) -> Self {
        let size_ms = ms(size).max(1);
        TimeWindows {
            size_ms,
            advance_ms: size_ms,
            grace_ms: ms(grace),
        }
    }
    /// Hopping windows: a new window every `advance` (at most the size).
    pub fn advance_by(mut self, advance: Duration) -> Self {
        self.advance_ms = ms(advance).clamp(1, self.size_ms);
        self
    }
}

/// Windows of a fixed time difference around each record, `[t - difference, t]` (both ends
/// inclusive), that exist only where records are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SlidingWindows {
    pub difference_ms: i64,
    pub grace_ms: i64,
}

impl SlidingWindows {
    pub fn of_time_difference_with_no_grace(difference: Duration) -> Self {
        Self::of_time_difference_and_grace(difference, Duration::ZERO)
    }
    pub fn of_time_difference_and_grace(difference: Duration, grace: Duration) -> Self {
        SlidingWindows {
            difference_ms: ms(difference).max(1),
            grace_ms: ms(grace),
        }
    }
}

/// Sessions: runs of records of a key with at most `gap` between neighbours.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionWindows {
    pub gap_ms: i64,
    pub grace_ms: i64,
}

impl SessionWindows {
    pub fn of_inactivity_gap_with_no_grace(gap: Duration) -> Self {
        Self::of_inactivity_gap_and_grace(gap, Duration::ZERO)
    }
    pub fn of_inactivity_gap_and_grace(gap: Duration, grace: Duration) -> Self {
        SessionWindows {
            gap_ms: ms(gap).max(1),
            grace_ms: ms(grace),
        }
    }
}

/// Which records of two streams join: the other side's records from `before` before to `after`
/// after a record's timestamp (both ends inclusive).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JoinWindows {
    pub before_ms: i64,
    pub after_ms: i64,
    pub grace_ms: i64,
}

impl JoinWindows {
    pub fn of_time_difference_with_no_grace(difference: Duration) -> Self {
        Self::of_time_difference_and_grace(difference, Duration::ZERO)
    }
    pub fn of_time_difference_and_grace(difference: Duration, grace: Duration) -> Self {
        let d = ms(difference);
        JoinWindows {
            before_ms: d,
            after_ms: d,
            grace_ms: ms(grace),
        }
    }
    /// Only records at most `before` earlier join (the window's start).
    pub fn before(mut self, before: Duration) -> Self {
        self.before_ms = ms(before);
        self
    }
    /// Only records at most `after` later join (the window's end).
    pub fn after(mut self, after: Duration) -> Self {
        self.after_ms = ms(after);
        self
    }
}

/// When a windowed aggregation forwards its results.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum EmitStrategy {
    /// Every update of every window (Kafka Streams' default).
    #[default]
    OnWindowUpdate,
    /// Each window's final result once, when it closes (after its grace period).
    OnWindowClose,
}

/// What `KTable::suppress` may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Suppressed {
    /// Kafka Streams' `Suppressed.untilWindowCloses(unbounded())`: each window's final result
    /// once, when the window closes.
    UntilWindowCloses,
}

impl Suppressed {
    pub fn until_window_closes() -> Self {
        Suppressed::UntilWindowCloses
    }
}
