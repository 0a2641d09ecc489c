//! Punctuation schedules of a task: stream-time and wall-clock, as in Kafka Streams.
//!
//! Stream time is the largest record timestamp the task has seen; it never goes backwards.
//! Wall-clock time is given by the caller (the stream thread's clock, or the test driver's).

/// Which clock drives a punctuation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PunctuationType {
    StreamTime,
    WallClockTime,
}

#[derive(Debug, Clone)]
pub struct Schedule {
    pub node: usize,
    pub id: u32,
    pub kind: PunctuationType,
    pub interval_ms: i64,
    /// Next time it fires; `None` until the clock is first seen.
    pub next: Option<i64>,
    pub cancelled: bool,
}

/// The schedules of one task.
#[derive(Debug, Default)]
pub struct Punctuations {
    schedules: Vec<Schedule>,
}

impl Punctuations {
    /// Schedules a punctuation at `interval_ms`. Wall-clock schedules first fire one interval
    /// after `wall_clock` (the time of scheduling); stream-time schedules fire on the first record
    /// and then every interval of stream time, as in Kafka Streams.
    pub fn schedule(
        &mut self,
        node: usize,
        kind: PunctuationType,
        interval_ms: i64,
        wall_clock: i64,
    ) -> u32 {
        let id = self.schedules.len() as u32;
        let interval_ms = interval_ms.max(1);
        let next = match kind {
            PunctuationType::WallClockTime => Some(wall_clock.saturating_add(interval_ms)),
            PunctuationType::StreamTime => None,
        };
        self.schedules.push(Schedule {
            node,
            id,
            kind,
            interval_ms,
            next,
            cancelled: false,
        });
        id
    }

    pub fn cancel(&mut self, id: u32) {
        if let Some(s) = self.schedules.get_mut(id as usize) {
            s.cancelled = true;
        }
    }

    pub fn is_empty(&self) -> bool {
        self.schedules.is_empty()
    }

    /// The punctuations of `kind` due at time `now`, each as (node, id, fire time); advances their
    /// next fire time. A stream-time schedule fires the first time it is asked.
    pub fn due(&mut self, kind: PunctuationType, now: i64) -> Vec<(usize, u32, i64)> {
        let mut out = Vec::new();
        for s in self
            .schedules
            .iter_mut()
            .filter(|s| s.kind == kind && !s.cancelled)
        {
            match s.next {
                None => {
                    out.push((s.node, s.id, now));
                    s.next = Some(now.saturating_add(s.interval_ms));
                }
                Some(next) if next <= now => {
                    out.push((s.node, s.id, now));
                    // Skip missed intervals rather than firing a burst.
                    let missed = (now - next) / s.interval_ms + 1;
                    s.next = Some(next.saturating_add(missed.saturating_mul(s.interval_ms)));
                }
                Some(_) => {}
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fires_once_per_interval_and_skips_missed_ones() {
        let mut p = Punctuations::default();
        let id = p.schedule(3, PunctuationType::WallClockTime, 100, 0);
        assert!(p.due(PunctuationType::WallClockTime, 0).is_empty());
        assert!(p.due(PunctuationType::WallClockTime, 99).is_empty());
        assert_eq!(
            p.due(PunctuationType::WallClockTime, 100),
            vec![(3, id, 100)]
        );
        assert!(p.due(PunctuationType::StreamTime, 1000).is_empty());
        assert_eq!(p.due(PunctuationType::WallClockTime, 1000).len(), 1);
        assert!(p.due(PunctuationType::WallClockTime, 1050).is_empty());
        p.cancel(id);
        assert!(p.due(PunctuationType::WallClockTime, 5000).is_empty());
    }

    #[test]
    fn stream_time_fires_on_the_first_record_then_every_interval() {
        let mut p = Punctuations::default();
        let id = p.schedule(1, PunctuationType::StreamTime, 10, 0);
        assert_eq!(p.due(PunctuationType::StreamTime, 5), vec![(1, id, 5)]);
        assert!(p.due(PunctuationType::StreamTime, 14).is_empty());
        assert_eq!(p.due(PunctuationType::StreamTime, 15), vec![(1, id, 15)]);
    }
}
