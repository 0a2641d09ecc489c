//! weir's engine: a Kafka Streams-style DSL, the topology graph it builds, the processing code
//! that runs it, serdes, and a broker-less test driver.
//!
//! The Kafka runtime is [`KafkaStreams`] (stream threads, consumer groups, changelog topics).
//! Topology definition files (YAML + CEL) build the same graphs: see [`definition`].
//! What it is not (yet): the HTTP endpoint. State stores live in the `weir-state` crate.
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

pub mod config;
pub mod definition;
pub mod dsl;
pub mod error;
pub mod graph;
pub mod http;
pub mod kafka;
pub mod metrics;
mod ops;
pub mod processor;
pub mod record;
pub mod runtime;
pub mod serde;
pub mod store;
pub mod testkit;
pub mod text;

pub use config::{ErrorHandling, ProcessingGuarantee, StreamsConfig};
pub use dsl::{
    BranchedKStream, Consumed, Datum, GlobalKTable, Grouped, KGroupedStream, KStream, KTable,
    Materialized, Produced, Repartitioned, StreamsBuilder,
};
pub use error::{BoxError, ErrorKind, KeyOrValue, StreamsError};
pub use graph::Topology;
pub use processor::{InitContext, Processor, ProcessorContext, PunctuationId};
pub use record::{Headers, Record, RecordMetadata};
pub use runtime::{KafkaStreams, PunctuationType, TaskId};
pub use serde::{Serde, SerdeRef, Serdes};
pub use store::TypedStore;
