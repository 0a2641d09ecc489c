//! weir on Kafka: the only crate that uses rdkafka. The runtime's tasks, driven by stream
//! threads that consume, produce, commit and restore against a cluster, behind [`KafkaStreams`].
//!
//! Owns: client configs built from a [`StreamsConfig`](weir_core::config::StreamsConfig)
//! (`client`), internal topics and partition counts (`admin`), the stream thread's group
//! consumer (`consumer`) and producer (`producer`), and reading partitions to their end for
//! restore and global tables (`restore`), and a small client surface for tools such as
//! `weir produce` (`tools`); the worker: stream threads (`stream_thread`), their active
//! tasks (`active_task`) and output (`output`), the global thread (`global_thread`), the
//! worker's status (`status`), [`KafkaStreams`], and the metrics a worker updates
//! (`metrics`). Does not own: operators, tasks and stores (`weir-runtime`).
//!
//! Invariants: rdkafka types never leave this crate except inside
//! [`StreamsError::Kafka`](weir_core::StreamsError::Kafka) (and friends) and the `ClientConfig`s the
//! runtime hands back to it; admin calls block the calling thread (never a tokio worker).

pub mod admin;
pub(crate) mod client;
pub(crate) mod consumer;
pub mod embedded;
pub mod instances;
pub mod partitioner;
mod plan;
pub(crate) mod producer;
pub(crate) mod restore;
pub mod tools;

pub(crate) mod active_task;
pub(crate) mod global_thread;
pub(crate) mod kafka_streams;
pub(crate) mod loop_clock;
pub mod metrics;
pub(crate) mod output;
pub mod status;
pub(crate) mod stream_thread;
pub(crate) mod watermarks;

pub use kafka_streams::{KafkaStreams, Started, StartedView};
pub use metrics::exporter::install_prometheus;
pub use status::WorkerStatus;

use rdkafka::error::{KafkaError, RDKafkaErrorCode};

use weir_core::error::{ErrorKind, StreamsError};

/// `error` of the Kafka client during `operation`, with the kind [`error_kind`] gives it.
pub fn kafka_error(operation: &'static str, error: KafkaError) -> StreamsError {
    StreamsError::Kafka {
        operation,
        kind: error_kind(&error),
        source: Box::new(error),
    }
}

/// The broker refused to create `topic`.
pub fn create_topic_error(topic: impl Into<String>, error: KafkaError) -> StreamsError {
    StreamsError::CreateTopic {
        topic: topic.into(),
        kind: error_kind(&error),
        source: Box::new(error),
    }
}

/// The Kafka client's error under `error`, if it is one.
pub fn kafka_cause(error: &StreamsError) -> Option<&KafkaError> {
    match error.root() {
        StreamsError::Kafka { source, .. } | StreamsError::CreateTopic { source, .. } => {
            source.downcast_ref::<KafkaError>()
        }
        _ => None,
    }
}

/// What the runtime should do about a Kafka error: retry transport problems, timeouts and
/// leadership moves; recover from a fenced producer (a newer one with the same transactional
/// id, or a transaction the broker timed out: [`ErrorKind::Fenced`]); everything else
/// (authorization, bad config, unknown errors) is fatal.
pub fn error_kind(error: &KafkaError) -> ErrorKind {
    match error {
        KafkaError::Transaction(e) => {
            if matches!(code_kind(e.code()), ErrorKind::Fenced) {
                ErrorKind::Fenced
            } else if e.is_fatal() {
                ErrorKind::Fatal
            } else if e.is_retriable() || e.txn_requires_abort() {
                ErrorKind::Retriable
            } else {
                ErrorKind::Fatal
            }
        }
        KafkaError::MessageConsumptionFatal(_) => ErrorKind::Fatal,
        KafkaError::AdminOp(code) => code_kind(*code),
        other => other
            .rdkafka_error_code()
            .map_or(ErrorKind::Fatal, code_kind),
    }
}

fn code_kind(code: RDKafkaErrorCode) -> ErrorKind {
    use RDKafkaErrorCode as C;
    match code {
        C::BrokerTransportFailure
        | C::Resolve
        | C::MessageTimedOut
        | C::AllBrokersDown
        | C::OperationTimedOut
        | C::TimedOutQueue
        | C::QueueFull
        | C::WaitingForCoordinator
        | C::Retry
        | C::RequestTimedOut
        | C::NetworkException
        | C::UnknownTopicOrPartition
        | C::LeaderNotAvailable
        | C::NotLeaderForPartition
        | C::BrokerNotAvailable
        | C::ReplicaNotAvailable
        | C::CoordinatorLoadInProgress
        | C::CoordinatorNotAvailable
        | C::NotCoordinator
        | C::NotEnoughReplicas
        | C::NotEnoughReplicasAfterAppend
        | C::NotController
        | C::RebalanceInProgress
        | C::ConcurrentTransactions
        | C::KafkaStorageError
        | C::FencedLeaderEpoch
        | C::UnknownLeaderEpoch
        | C::OffsetNotAvailable
        | C::PreferredLeaderNotAvailable
        | C::UnstableOffsetCommit
        | C::ThrottlingQuotaExceeded => ErrorKind::Retriable,
        // This member or producer lost its partitions to the group (its session expired while
        // the broker was unreachable) or to a newer producer: close the tasks dirty and rejoin.
        C::ProducerFenced
        | C::Fenced
        | C::InvalidProducerEpoch
        | C::InvalidProducerIdMapping
        | C::UnknownMemberId
        | C::IllegalGeneration => ErrorKind::Fenced,
        _ => ErrorKind::Fatal,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transport_and_timeouts_are_retriable_the_rest_fatal() {
        assert_eq!(
            error_kind(&KafkaError::MetadataFetch(RDKafkaErrorCode::AllBrokersDown)),
            ErrorKind::Retriable
        );
        assert_eq!(
            error_kind(&KafkaError::AdminOp(RDKafkaErrorCode::OperationTimedOut)),
            ErrorKind::Retriable
        );
        assert_eq!(
            error_kind(&KafkaError::ConsumerCommit(
                RDKafkaErrorCode::RebalanceInProgress
            )),
            ErrorKind::Retriable
        );
        assert_eq!(
            error_kind(&KafkaError::AdminOp(
                RDKafkaErrorCode::TopicAuthorizationFailed
            )),
            ErrorKind::Fatal
        );
        assert_eq!(
            error_kind(&KafkaError::MessageProduction(
                RDKafkaErrorCode::ProducerFenced
            )),
            ErrorKind::Fenced
        );
        assert_eq!(
            error_kind(&KafkaError::ClientCreation("bad".into())),
            ErrorKind::Fatal
        );
        assert_eq!(
            error_kind(&KafkaError::MessageConsumptionFatal(
                RDKafkaErrorCode::AllBrokersDown
            )),
            ErrorKind::Fatal
        );
    }
}
