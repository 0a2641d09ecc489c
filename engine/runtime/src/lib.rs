//! weir's runtime without a broker: the DSL ([`StreamsBuilder`]) and its operators, tasks and
//! the nodes they run, the Processor API, store wiring (record cache and change logging), error
//! handlers, task lifecycle and punctuation, and the test driver ([`testkit`]) that runs a
//! topology the way a worker does. The Kafka worker (`weir-kafka`) drives the same tasks.
//!
//! ```
//! use weir_runtime::{StreamsBuilder, Consumed, Produced, Serdes};
//! use weir_runtime::testkit::TopologyTestDriver;
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

pub mod collector;
pub mod commit;
pub mod dsl;
pub mod handler;
pub mod lifecycle;
pub mod node;
mod ops;
pub mod processor;
pub mod queues;
pub mod store;
pub mod stores;
pub mod task;
pub mod testkit;
pub mod time;

pub use collector::{ProducedRecord, RecordCollector};
pub use dsl::{
    BranchedKStream, Consumed, Datum, EmitStrategy, GlobalKTable, Grouped, JoinWindows,
    KGroupedStream, KStream, KTable, Materialized, Produced, Repartitioned, SessionWindowedKStream,
    SessionWindows, SlidingWindows, StreamJoined, StreamsBuilder, Suppressed, TimeWindowedKStream,
    TimeWindows,
};
pub use processor::{InitContext, Processor, ProcessorContext, PunctuationId};
pub use store::TypedStore;
pub use task::TaskId;
pub use time::PunctuationType;
pub use weir_core::window::{Window, Windowed, WindowedFormat, WindowedSerde};
pub use weir_core::{
    BoxError, ErrorHandling, ErrorKind, Headers, KeyOrValue, ProcessingGuarantee, Record,
    RecordMetadata, Serde, SerdeRef, Serdes, StreamsConfig, StreamsError,
};
pub use weir_graph::Topology;
