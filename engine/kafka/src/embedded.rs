//! An in-process Kafka-protocol broker: librdkafka's mock cluster, listening on a real TCP port
//! of 127.0.0.1. It is what `weir demo` runs on, so a laptop with nothing installed can run the
//! marketplace topologies.
//!
//! Its limits are librdkafka's and they are real: it keeps at most 100,000 record batches or
//! 5 MiB per partition and silently drops older data; its transactions do not isolate (never use
//! it to claim exactly-once); it has no CreateTopics API, so every topic (internal ones
//! included) is created here, before a worker starts.

use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::mocking::MockCluster;
use rdkafka::producer::DefaultProducerContext;

use weir_core::error::StreamsError;
use weir_graph::Topology;

/// A running mock cluster; dropping it stops it.
pub struct EmbeddedBroker {
    cluster: MockCluster<'static, DefaultProducerContext>,
}

impl std::fmt::Debug for EmbeddedBroker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmbeddedBroker")
            .field("bootstrap_servers", &self.bootstrap_servers())
            .finish()
    }
}

impl EmbeddedBroker {
    /// Starts a cluster of `brokers` brokers.
    pub fn start(brokers: i32) -> Result<EmbeddedBroker, StreamsError> {
        let cluster = MockCluster::new(brokers)
            .map_err(|source| crate::kafka_error("start the embedded broker", source))?;
        Ok(EmbeddedBroker { cluster })
    }

    /// `host:port,...` of its brokers.
    pub fn bootstrap_servers(&self) -> String {
        self.cluster.bootstrap_servers()
    }

    /// Creates `topic` with `partitions` partitions (an existing topic is left as it is).
    pub fn create_topic(&self, topic: &str, partitions: i32) -> Result<(), StreamsError> {
        match self.cluster.create_topic(topic, partitions, 1) {
            Ok(()) | Err(KafkaError::MockCluster(RDKafkaErrorCode::TopicAlreadyExists)) => Ok(()),
            Err(source) => Err(crate::kafka_error(
                "create a topic on the embedded broker",
                source,
            )),
        }
    }

    /// Creates every topic `topology` reads or writes, internal ones included, and
    /// `extra` (a dead-letter topic, say), each with `partitions` partitions.
    pub fn create_topics_of(
        &self,
        topology: &Topology,
        partitions: i32,
        extra: &[&str],
    ) -> Result<(), StreamsError> {
        let mut topics = topology.source_topics();
        topics.extend(topology.sink_topics());
        topics.extend(topology.repartition_topics().map(str::to_owned));
        topics.extend(topology.changelog_topics());
        topics.extend(topology.global_tables().map(|(t, _)| t.to_owned()));
        topics.extend(extra.iter().map(|t| (*t).to_owned()));
        for t in &topics {
            self.create_topic(t, partitions)?;
        }
        Ok(())
    }
}
