//! Start-up work a topology carries to its worker: per sink, the erased `prepare` of its key
//! and value serdes ([`SinkPrepare`], recorded by the DSL's `to`), and start hooks that need
//! the worker's final configuration ([`StartHook`], e.g. a definition file binding its Schema
//! Registry). [`Topology::prepare`] runs both, hooks first; `KafkaStreams::start` calls it
//! before anything else, so a Schema Registry that is down or a schema missing under
//! `auto.register.schemas=false` is a start-up error naming the sink, not a failed record.
//!
//! Owns: those two lists and the order they run in. Does not own: what a serde does in
//! `prepare` (`serde::registry`).

use std::sync::Arc;

use super::Topology;
use weir_core::config::StreamsConfig;
use weir_core::error::{KeyOrValue, StreamsError};
use weir_core::serde::SerdeRef;

/// Calls a serde's `prepare(topic)` without its type.
pub type PrepareFn = Arc<dyn Fn(&str) -> Result<(), StreamsError> + Send + Sync>;

/// The serdes of one sink with a fixed topic.
#[derive(Clone)]
pub struct SinkPrepare {
    /// The sink node's name (for errors).
    pub sink: String,
    pub topic: String,
    pub key: PrepareFn,
    pub value: PrepareFn,
}

impl SinkPrepare {
    /// The prepare of sink `sink` writing `topic` with these serdes.
    pub fn of<K: 'static, V: 'static>(
        sink: &str,
        topic: &str,
        key: &SerdeRef<K>,
        value: &SerdeRef<V>,
    ) -> SinkPrepare {
        let (k, v) = (key.clone(), value.clone());
        SinkPrepare {
            sink: sink.to_owned(),
            topic: topic.to_owned(),
            key: Arc::new(move |t: &str| k.prepare(t)),
            value: Arc::new(move |t: &str| v.prepare(t)),
        }
    }
}

/// Runs once at worker start, before the sinks' serdes are prepared, with the worker's config.
pub type StartHook = Arc<dyn Fn(&StreamsConfig) -> Result<(), StreamsError> + Send + Sync>;

impl Topology {
    /// Runs the start hooks with `config`, then `prepare(topic)` on every fixed-topic sink's
    /// key and value serde, in node order; the first failure is returned, naming the sink and
    /// the topic. Returns how many sinks were prepared. Sinks whose topic is chosen per record
    /// are prepared on their first record instead.
    pub fn prepare(&self, config: &StreamsConfig) -> Result<usize, StreamsError> {
        for hook in &self.start_hooks {
            hook(config)?;
        }
        for s in &self.sink_prepares {
            for (what, f) in [(KeyOrValue::Key, &s.key), (KeyOrValue::Value, &s.value)] {
                f(&s.topic).map_err(|e| {
                    StreamsError::SerdeSetup(format!(
                        "sink `{}` cannot write the {what}s of topic `{}`: {e}",
                        s.sink, s.topic
                    ))
                })?;
            }
        }
        Ok(self.sink_prepares.len())
    }

    /// Adds a start hook (see [`StartHook`]); definition files use it to bind their Schema
    /// Registry to the worker's `schema.registry.*` properties.
    pub fn add_start_hook(&mut self, hook: StartHook) {
        self.start_hooks.push(hook);
    }

    /// The topics whose sinks [`Topology::prepare`] prepares, in node order.
    pub fn prepared_sink_topics(&self) -> Vec<&str> {
        self.sink_prepares
            .iter()
            .map(|s| s.topic.as_str())
            .collect()
    }
}
