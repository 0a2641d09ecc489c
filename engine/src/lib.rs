//! weir's engine, every layer under one name: a Kafka Streams-style DSL, the topology graph it
//! builds, the runtime and test driver, the Kafka worker, serdes (Avro and Schema Registry
//! included), the state endpoint and topology definition files.
//!
//! Each layer is its own crate (see the README's layout table); this crate only re-exports
//! them, for applications that want all of weir. A crate that only builds and tests
//! topologies can depend on `weir-runtime` alone (no rdkafka, axum, cel or HTTP client).
//!
//! ```
//! use weir_engine::{StreamsBuilder, Consumed, Produced, Serdes};
//! use weir_engine::testkit::TopologyTestDriver;
//!
//! let b = StreamsBuilder::new("shout");
//! b.stream("words", Consumed::with(Serdes::string(), Serdes::string()))
//!     .map_values(|w| w.to_uppercase())
//!     .to("loud", Produced::default());
//! let mut driver = TopologyTestDriver::new(b.build().unwrap()).unwrap();
//! let input = driver.input_topic("words", Serdes::string(), Serdes::string());
//! let output = driver.output_topic("loud", Serdes::string(), Serdes::string());
//! input.pipe(&mut driver, "k".to_string(), "hi".to_string()).unwrap();
//! assert_eq!(output.read_key_values(&mut driver).unwrap(), vec![("k".to_string(), Some("HI".to_string()))]);
//! ```

pub use weir_core::{config, datum, error, now_ms, record, text};
pub use weir_definition as definition;
pub use weir_graph as graph;
pub use weir_http as http;
pub use weir_kafka as kafka;
pub use weir_runtime::{dsl, processor, store, testkit};

/// Serdes: the core's plain ones and the Avro ones (`weir-avro`).
pub mod serde {
    pub use weir_avro::{AvroSerde, AvroSerdes, registry};
    pub use weir_core::serde::*;
}

/// Tasks and the Kafka worker that runs them.
pub mod runtime {
    pub use weir_kafka::{KafkaStreams, WorkerStatus, status};
    pub use weir_runtime::{ProducedRecord, PunctuationType, RecordCollector, TaskId};
}

/// Metric names (`weir-core`) and the process's Prometheus exporter (`weir-kafka`).
pub mod metrics {
    pub use weir_core::metrics::*;
    pub use weir_kafka::install_prometheus;
}

pub use weir_avro::AvroSerdes;
pub use weir_core::{
    BoxError, ErrorHandling, ErrorKind, Headers, KeyOrValue, ProcessingGuarantee, Record,
    RecordMetadata, Serde, SerdeRef, Serdes, StreamsConfig, StreamsError,
};
pub use weir_graph::Topology;
pub use weir_kafka::KafkaStreams;
pub use weir_runtime::{
    BranchedKStream, Consumed, Datum, EmitStrategy, GlobalKTable, Grouped, InitContext,
    JoinWindows, KGroupedStream, KStream, KTable, Materialized, Processor, ProcessorContext,
    Produced, PunctuationId, PunctuationType, Repartitioned, SessionWindowedKStream,
    SessionWindows, SlidingWindows, StreamJoined, StreamsBuilder, Suppressed, TaskId,
    TimeWindowedKStream, TimeWindows, TypedStore, Window, Windowed, WindowedFormat, WindowedSerde,
};
