//! weir's lowest layer, shared by every other crate: records and headers, keys and values
//! without their types ([`datum`]), the [`Serde`](serde::Serde) trait with the plain serdes,
//! typed configuration, the engine's error type and its kinds, metric names, text helpers.
//!
//! Nothing here knows about graphs, tasks, brokers or HTTP.

pub mod config;
pub mod datum;
pub mod error;
pub mod metrics;
pub mod record;
pub mod serde;
pub mod text;
pub mod window;

pub use config::{ErrorHandling, ProcessingGuarantee, StreamsConfig};
pub use error::{BoxError, ErrorKind, KeyOrValue, StreamsError};
pub use record::{Headers, Record, RecordMetadata};
pub use serde::{Serde, SerdeRef, Serdes};
pub use window::{Window, Windowed, WindowedFormat, WindowedSerde};

/// Wall-clock time in ms since the epoch.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}
