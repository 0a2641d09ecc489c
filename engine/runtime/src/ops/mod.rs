//! The built-in processor nodes the DSL wires up: sources and sinks, stateless operators, table
//! operators, joins and aggregations. Each is a [`Node`](crate::node::Node) over the
//! concrete types its DSL call fixed; user functions are `Arc`'d so every task shares them.

pub mod aggregate;
pub mod join;
pub mod late;
pub mod lookup_many;
pub mod session_aggregate;
pub mod sliding_aggregate;
pub mod source_sink;
pub mod stateless;
pub mod stream_join;
pub mod suppress;
pub mod table;
pub mod time_key;
pub mod ttl;
pub mod window_aggregate;
pub mod window_lookup;

use weir_core::error::{KeyOrValue, StreamsError};

/// Re-labels a serde error as concerning the key.
pub fn as_key(e: StreamsError) -> StreamsError {
    match e {
        StreamsError::Serialize { topic, source, .. } => StreamsError::Serialize {
            topic,
            what: KeyOrValue::Key,
            source,
        },
        StreamsError::Deserialize { topic, source, .. } => StreamsError::Deserialize {
            topic,
            what: KeyOrValue::Key,
            source,
        },
        other => other,
    }
}

/// Counts a record an operator dropped because it could not apply to it (a null value), in
/// `weir_skipped_records_total{reason="null_value", processor}` through the task's handles.
pub fn count_skipped(ctx: &crate::node::Ctx<'_>) {
    ctx.counters.null_value(ctx.node);
}

/// Counts a record an operator dropped because it needs a key and the record has none, in
/// `weir_skipped_records_total{reason="null_key", processor}`.
pub fn count_null_key(ctx: &crate::node::Ctx<'_>) {
    ctx.counters.null_key(ctx.node);
}
