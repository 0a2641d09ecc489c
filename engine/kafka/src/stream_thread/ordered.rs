//! Input of a task that reads several partitions, processed in timestamp order (the queues are
//! `weir_runtime::queues`): what may be processed now, given what librdkafka knows of each empty
//! partition's lag; pausing a partition whose queue is full; and what the configured handler
//! does with a record that failed (shared with the record-at-a-time path).

use std::time::Instant;

use super::ThreadCore;
use crate::active_task::TaskState;
use crate::consumer::GroupConsumer;
use crate::metrics::thread::ThreadMetrics;
use crate::output::ProducerCollector;
use crate::producer::Producer;
use weir_core::config::StreamsConfig;
use weir_core::error::{ErrorKind, StreamsError};
use weir_runtime::handler::{Decision, dead_letter_headers, decide};
use weir_runtime::task::TaskId;

/// Records a task buffers per input partition before that partition is paused (Kafka Streams'
/// `buffered.records.per.partition`); it resumes when half of them are processed.
pub(super) const MAX_BUFFERED_PER_PARTITION: usize = 1000;

/// A record that failed, with what its dead letter needs.
pub(super) struct Failed<'a> {
    pub(super) task: TaskId,
    pub(super) topic: &'a str,
    pub(super) partition: i32,
    pub(super) offset: i64,
    pub(super) timestamp: i64,
    pub(super) key: Option<&'a [u8]>,
    pub(super) value: Option<&'a [u8]>,
    pub(super) headers: &'a weir_core::record::Headers,
}

/// What the configured handler says about a failed record: fail (the error, naming the
/// record), skip (counted) or a dead letter (sent with its provenance headers).
pub(super) fn on_record_error(
    config: &StreamsConfig,
    producer: &Producer,
    metrics: &mut ThreadMetrics,
    f: Failed<'_>,
    e: StreamsError,
) -> Result<(), StreamsError> {
    match decide(config, &e) {
        Decision::Fail => Err(StreamsError::AtRecord {
            task: f.task.to_string(),
            topic: f.topic.to_owned(),
            partition: f.partition,
            offset: f.offset,
            source: Box::new(e),
        }),
        Decision::Skip => {
            tracing::warn!(task = %f.task, topic = f.topic, partition = f.partition, offset = f.offset, error = %e, "skipped a record");
            metrics.skipped_error();
            Ok(())
        }
        Decision::DeadLetter(topic) => {
            let h = dead_letter_headers(f.headers, &e, f.topic, f.partition, f.offset);
            producer.send(&topic, None, f.key, f.value, f.timestamp, &h)?;
            metrics.dead_letter(f.topic);
            Ok(())
        }
    }
}

impl ThreadCore {
    /// Processes what task `id` has buffered, in timestamp order, as far as it may now (see
    /// `weir_runtime::queues`): an empty input partition with data on the broker is waited for.
    pub(super) fn process_buffered(
        &mut self,
        id: TaskId,
        consumer: &GroupConsumer,
    ) -> Result<(), StreamsError> {
        let Some(task) = self.tasks.get_mut(&id) else {
            return Ok(());
        };
        if !task.state.processes() {
            return Ok(());
        }
        loop {
            let (now, timed) = self.clock.tick();
            let starts = &self.starts;
            let mut lag = |t: &str, p: i32, next: Option<i64>| {
                let start = starts
                    .iter()
                    .find_map(|((st, sp), o)| (*sp == p && st == t).then_some(*o));
                consumer.lag(t, p, next, start)
            };
            let Some(mut q) = task.task.next_queued(now, &mut lag) else {
                break;
            };
            let raw = q.take_raw();
            let (topic, partition, offset, timestamp) =
                (q.topic.clone(), q.partition, q.offset, q.timestamp);
            let mut out = ProducerCollector {
                producer: &self.producer,
                metrics: &mut self.metrics.sinks,
                now_ms: now,
            };
            let started = timed.then(Instant::now);
            let processed = task.task.process_queued(q, now, &mut out);
            if let Some(started) = started {
                self.metrics.processed(started);
            }
            if let (Err(e), Some(raw)) = (processed, raw) {
                if e.kind() == ErrorKind::Fenced && self.producer.is_transactional() {
                    return self.recover(consumer.group(), &e);
                }
                let failed = Failed {
                    task: id,
                    topic: &topic,
                    partition,
                    offset,
                    timestamp,
                    key: raw.key.as_deref(),
                    value: raw.value.as_deref(),
                    headers: &raw.headers,
                };
                on_record_error(&self.config, &self.producer, &mut self.metrics, failed, e)?;
            }
            task.record_position(&topic, partition, offset + 1);
            task.dirty = true;
            self.metrics.consumed(id, &topic);
        }
        // Partitions paused because their queue was full fetch again once it has room.
        if !task.full.is_empty() {
            let (resume, keep): (Vec<_>, Vec<_>) = std::mem::take(&mut task.full)
                .into_iter()
                .partition(|(t, p)| task.task.buffered(t, *p) < MAX_BUFFERED_PER_PARTITION / 2);
            task.full = keep;
            if task.state == TaskState::Running {
                consumer.set_paused(&resume, false)?;
            }
        }
        Ok(())
    }

    /// [`ThreadCore::process_buffered`] for every task that buffers: time passes (an idle
    /// wait ends) and fetch responses update what is known of empty partitions between polls.
    pub(super) fn process_all_buffered(
        &mut self,
        consumer: &GroupConsumer,
    ) -> Result<(), StreamsError> {
        let ids: Vec<TaskId> = self
            .tasks
            .iter()
            .filter(|(_, t)| t.task.buffered_total() > 0)
            .map(|(id, _)| *id)
            .collect();
        for id in ids {
            self.process_buffered(id, consumer)?;
        }
        Ok(())
    }
}
