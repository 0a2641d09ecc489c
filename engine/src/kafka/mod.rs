//! Everything that talks to Kafka: the only module that uses rdkafka.
//!
//! Owns: client configs built from a [`StreamsConfig`](crate::config::StreamsConfig)
//! (`client`), internal topics and partition counts (`admin`), the stream thread's group
//! consumer (`consumer`) and producer (`producer`), and reading partitions to their end for
//! restore and global tables (`restore`), and a small client surface for tools such as
//! `weir produce` (`tools`). Does not own: what the runtime does with records,
//! offsets and errors.
//!
//! Invariants: rdkafka types never leave this module except inside
//! [`StreamsError::Kafka`](crate::StreamsError::Kafka) (and friends) and the `ClientConfig`s the
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

use rdkafka::error::{KafkaError, RDKafkaErrorCode};

use crate::error::ErrorKind;

/// What the runtime should do about a Kafka error: retry transport problems, timeouts and
/// leadership moves; everything else (authorization, bad config, fenced producers, unknown
/// errors) is fatal.
pub(crate) fn error_kind(error: &KafkaError) -> ErrorKind {
    match error {
        KafkaError::Transaction(e) => {
            if e.is_fatal() {
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
            ErrorKind::Fatal
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
