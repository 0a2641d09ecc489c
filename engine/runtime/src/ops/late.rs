//! Records that arrive for windows already closed (older than stream time minus the grace
//! period): dropped, counted in `weir_skipped_records_total{reason="late", processor}` and,
//! when the task has a dead-letter topic (`processing.exception.handler=dead_letter`), written
//! there with the reason and the record's origin (the same headers as any dead letter).

use metrics::Counter;

use crate::collector::ProducedRecord;
use crate::handler::dead_letter_headers;
use crate::node::{Ctx, InitCtx, Msg};
use weir_core::error::StreamsError;
use weir_core::serde::SerdeRef;
use weir_core::window::Window;

/// How a windowed operator drops its late records.
pub struct LateRecords<K, V> {
    key: SerdeRef<K>,
    /// The record's value serde, when known: a dead letter without it has no value.
    value: Option<SerdeRef<V>>,
    counter: Option<Counter>,
}

impl<K: 'static, V: 'static> LateRecords<K, V> {
    pub fn new(key: SerdeRef<K>, value: Option<SerdeRef<V>>) -> Self {
        LateRecords {
            key,
            value,
            counter: None,
        }
    }

    /// Registers the counter of the operator's node.
    pub fn init(&mut self, ctx: &InitCtx<'_>) {
        self.counter = Some(weir_core::metrics::late_counter(
            ctx.application_id,
            ctx.name,
        ));
    }

    /// Drops the record `msg` (key `key`, value `value`) whose window `window` closed at
    /// `close` (stream time minus grace).
    pub fn dropped(
        &self,
        ctx: &mut Ctx<'_>,
        key: &K,
        value: &V,
        msg: &Msg,
        window: Window,
        close: i64,
    ) -> Result<(), StreamsError> {
        if let Some(c) = &self.counter {
            c.increment(1);
        }
        let reason = format!(
            "late record: timestamp {} is for window [{}, {}], closed at stream time minus grace = {close}",
            msg.timestamp, window.start, window.end
        );
        tracing::debug!(processor = ctx.node_name(), "{reason}");
        let Some(topic) = ctx.dead_letter.map(str::to_owned) else {
            return Ok(());
        };
        let (src_topic, partition, offset) = match ctx.meta {
            Some(m) => (m.topic.clone(), m.partition, m.offset),
            None => (String::new(), -1, -1),
        };
        let error = StreamsError::Process {
            processor: ctx.node_name().to_owned(),
            source: reason.into(),
        };
        let key = Some(self.key.serialize(&src_topic, key)?);
        let value = match &self.value {
            Some(s) => Some(s.serialize(&src_topic, value)?),
            None => None,
        };
        let headers = dead_letter_headers(&msg.headers, &error, &src_topic, partition, offset);
        ctx.collector.send(ProducedRecord {
            topic,
            partition: None,
            key,
            value,
            timestamp: msg.timestamp,
            headers,
        })
    }
}
