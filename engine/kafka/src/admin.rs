//! Internal topics: checking a topology's source topics, sizing and creating its repartition
//! and changelog topics, and small admin helpers for tests and the CLI.
//!
//! [`ensure_internal_topics`] runs once at start-up, before any stream thread:
//! 1. fetch metadata of every topic; a missing user source topic (global tables' included) is
//!    an error: weir never relies on broker auto-creation;
//! 2. check co-partition groups (`plan`, rule 1);
//! 3. size the internal topics (`plan`, rules 2–5);
//! 4. refuse to start if an existing internal topic has another partition count;
//! 5. create the missing internal topics (changelogs `cleanup.policy=compact`, repartition
//!    topics `cleanup.policy=delete`, `replication.factor` from the config) and wait until the
//!    metadata shows them.
//!
//! Admin calls block the calling thread (`futures::executor::block_on` over rdkafka's futures,
//! which rdkafka's own admin thread completes): call them from a plain thread, never a tokio
//! worker.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use futures::executor::block_on;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};

use super::client::admin_config;
use super::plan::{Shape, plan};
use weir_core::config::StreamsConfig;
use weir_core::error::StreamsError;
use weir_graph::Topology;

/// Partition counts the runtime works with, decided by [`ensure_internal_topics`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TopicLayout {
    /// Every topic the topology reads (user, global-table and repartition topics) and every
    /// changelog topic → its partition count.
    pub partitions: BTreeMap<String, i32>,
    /// Sub-topology id → number of tasks (one per partition).
    pub tasks: BTreeMap<usize, i32>,
}

/// `cleanup.policy` of a topic weir creates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CleanupPolicy {
    /// Records expire (repartition topics, dead letters).
    Delete,
    /// The last record per key is kept (changelogs, tables).
    Compact,
    /// Compacted, and records older than `retention_ms` deleted (the changelogs of window and
    /// session stores, whose old windows expire).
    CompactDelete { retention_ms: i64 },
}

impl CleanupPolicy {
    pub fn as_str(self) -> &'static str {
        match self {
            CleanupPolicy::Delete => "delete",
            CleanupPolicy::Compact => "compact",
            CleanupPolicy::CompactDelete { .. } => "compact,delete",
        }
    }

    /// The topic's `retention.ms`, when the policy sets one.
    pub fn retention_ms(self) -> Option<i64> {
        match self {
            CleanupPolicy::CompactDelete { retention_ms } => Some(retention_ms),
            _ => None,
        }
    }
}

/// Checks the topology's source topics and creates its internal topics; see the module doc for
/// the steps. `timeout` bounds the whole call.
pub fn ensure_internal_topics(
    config: &StreamsConfig,
    topology: &Topology,
    timeout: Duration,
) -> Result<TopicLayout, StreamsError> {
    if topology.application_id() != config.application_id {
        return Err(StreamsError::Config {
            key: weir_core::config::keys::APPLICATION_ID.into(),
            origin: "config".into(),
            message: format!(
                "is `{}` but the topology was built for `{}`; build it with the same id",
                config.application_id,
                topology.application_id()
            ),
        });
    }
    let admin = Admin::connect(config, timeout)?;
    // Step 1: every user source topic exists.
    let existing = admin.partition_counts()?;
    let internal_sources: BTreeSet<&str> = topology.repartition_topics().collect();
    let user: BTreeSet<String> = topology
        .source_topics()
        .into_iter()
        .filter(|t| !internal_sources.contains(t.as_str()))
        .collect();
    let missing: Vec<&String> = user.iter().filter(|t| !existing.contains_key(*t)).collect();
    if let Some(first) = missing.first() {
        for t in &missing {
            tracing::error!(topic = %t, "source topic does not exist");
        }
        return Err(StreamsError::MissingSourceTopic((*first).clone()));
    }
    for t in topology.sink_topics() {
        if !existing.contains_key(&t) && !internal_sources.contains(t.as_str()) {
            tracing::warn!(topic = %t, "output topic does not exist; writing to it fails unless the broker creates topics on demand");
        }
    }
    let user: BTreeMap<String, i32> = user
        .into_iter()
        .filter_map(|t| existing.get(&t).map(|&n| (t, n)))
        .collect();
    // Steps 2 and 3: co-partitioning and sizes.
    let plan = plan(&Shape::of(topology), &user)?;
    // Step 4: existing internal topics must have the planned size.
    let mut to_create = Vec::new();
    for (topic, &(expected, policy)) in &plan.internal {
        match existing.get(topic) {
            Some(&actual) if actual != expected => {
                return Err(StreamsError::TopicMismatch {
                    topic: topic.clone(),
                    expected,
                    actual,
                });
            }
            Some(_) => {}
            None => to_create.push((topic.as_str(), expected, policy)),
        }
    }
    // Step 5: create the missing ones.
    if !to_create.is_empty() {
        admin.create(&to_create, config.replication_factor)?;
        let expected = to_create.iter().map(|(t, n, _)| (*t, Some(*n))).collect();
        admin.wait_for(&expected)?;
        for (topic, partitions, policy) in &to_create {
            tracing::info!(
                topic,
                partitions,
                policy = policy.as_str(),
                "created internal topic"
            );
        }
    }
    let mut partitions = user;
    partitions.extend(plan.internal.into_iter().map(|(t, (n, _))| (t, n)));
    Ok(TopicLayout {
        partitions,
        tasks: plan.tasks,
    })
}

/// Creates the topics of `topics` (name, partitions, cleanup policy) that do not exist yet,
/// with the config's replication factor, and waits until the metadata shows all of them.
/// Existing topics are left as they are, whatever their partition count.
pub fn create_topics(
    config: &StreamsConfig,
    topics: &[(&str, i32, CleanupPolicy)],
    timeout: Duration,
) -> Result<(), StreamsError> {
    let admin = Admin::connect(config, timeout)?;
    let existing = admin.partition_counts()?;
    let missing: Vec<_> = topics
        .iter()
        .filter(|(t, _, _)| !existing.contains_key(*t))
        .copied()
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    admin.create(&missing, config.replication_factor)?;
    admin.wait_for(&missing.iter().map(|(t, _, _)| (*t, None)).collect())?;
    Ok(())
}

/// The partition count of `topic`, or `None` when it does not exist.
pub fn partition_count(
    config: &StreamsConfig,
    topic: &str,
    timeout: Duration,
) -> Result<Option<i32>, StreamsError> {
    let admin = Admin::connect(config, timeout)?;
    Ok(admin.partition_counts()?.get(topic).copied())
}

/// Makes sure `topic` exists (creating it with `partitions` and `cleanup.policy=delete` if not)
/// and returns its partition count. For topics weir writes but does not size, like the
/// dead-letter topic.
pub(crate) fn ensure_topic(
    config: &StreamsConfig,
    topic: &str,
    partitions: i32,
    timeout: Duration,
) -> Result<i32, StreamsError> {
    let admin = Admin::connect(config, timeout)?;
    if let Some(&n) = admin.partition_counts()?.get(topic) {
        return Ok(n);
    }
    admin.create(
        &[(topic, partitions, CleanupPolicy::Delete)],
        config.replication_factor,
    )?;
    let counts = admin.wait_for(&BTreeMap::from([(topic, None)]))?;
    Ok(counts.get(topic).copied().unwrap_or(partitions))
}

/// An admin client and the deadline of the operation it serves.
struct Admin {
    client: AdminClient<DefaultClientContext>,
    deadline: Instant,
}

/// Whether the cluster answers a metadata request within `timeout`.
pub(crate) fn reachable(config: &StreamsConfig, timeout: Duration) -> Result<(), StreamsError> {
    let admin = Admin::connect(config, timeout)?;
    admin
        .client
        .inner()
        .fetch_metadata(None, admin.remaining())
        .map(|_| ())
        .map_err(|source| crate::kafka_error("reach the cluster", source))
}

impl Admin {
    fn connect(config: &StreamsConfig, timeout: Duration) -> Result<Admin, StreamsError> {
        let client = admin_config(config)
            .create()
            .map_err(|source| crate::kafka_error("create admin client", source))?;
        Ok(Admin {
            client,
            deadline: Instant::now() + timeout,
        })
    }

    /// Time left before the deadline (at least a little, so that a last attempt is made).
    fn remaining(&self) -> Duration {
        self.deadline
            .saturating_duration_since(Instant::now())
            .max(Duration::from_millis(100))
    }

    /// Partition count of every topic in the cluster. Asking for all topics (rather than for
    /// some by name) never makes a broker auto-create one.
    fn partition_counts(&self) -> Result<BTreeMap<String, i32>, StreamsError> {
        let metadata = self
            .client
            .inner()
            .fetch_metadata(None, self.remaining())
            .map_err(|source| crate::kafka_error("fetch metadata", source))?;
        Ok(metadata
            .topics()
            .iter()
            .filter(|t| t.error().is_none() && !t.partitions().is_empty())
            .map(|t| (t.name().to_string(), t.partitions().len() as i32))
            .collect())
    }

    /// Creates `topics`; one that exists already (another worker raced us) is not an error.
    fn create(
        &self,
        topics: &[(&str, i32, CleanupPolicy)],
        replication_factor: i16,
    ) -> Result<(), StreamsError> {
        let retentions: Vec<Option<String>> = topics
            .iter()
            .map(|(_, _, policy)| policy.retention_ms().map(|ms| ms.to_string()))
            .collect();
        let new: Vec<NewTopic<'_>> = topics
            .iter()
            .zip(&retentions)
            .map(|(&(name, partitions, policy), retention)| {
                let topic = NewTopic::new(
                    name,
                    partitions,
                    TopicReplication::Fixed(i32::from(replication_factor)),
                )
                .set("cleanup.policy", policy.as_str());
                match retention {
                    Some(ms) => topic.set("retention.ms", ms),
                    None => topic,
                }
            })
            .collect();
        let options = AdminOptions::new()
            .request_timeout(Some(self.remaining()))
            .operation_timeout(Some(self.remaining()));
        let results = block_on(self.client.create_topics(&new, &options))
            .map_err(|source| crate::kafka_error("create topics", source))?;
        for result in results {
            match result {
                Ok(_) | Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
                Err((topic, code)) => {
                    return Err(crate::create_topic_error(topic, KafkaError::AdminOp(code)));
                }
            }
        }
        Ok(())
    }

    /// Waits until every topic of `expected` shows in the metadata, with the given partition
    /// count when there is one; returns their counts.
    fn wait_for(
        &self,
        expected: &BTreeMap<&str, Option<i32>>,
    ) -> Result<BTreeMap<String, i32>, StreamsError> {
        loop {
            let counts = self.partition_counts()?;
            let mut pending = Vec::new();
            for (&topic, &want) in expected {
                match (counts.get(topic), want) {
                    (None, _) => pending.push(topic.to_string()),
                    (Some(&actual), Some(expected)) if actual != expected => {
                        return Err(StreamsError::TopicMismatch {
                            topic: topic.to_string(),
                            expected,
                            actual,
                        });
                    }
                    (Some(_), _) => {}
                }
            }
            if pending.is_empty() {
                return Ok(counts
                    .into_iter()
                    .filter(|(t, _)| expected.contains_key(t.as_str()))
                    .collect());
            }
            if Instant::now() >= self.deadline {
                return Err(StreamsError::TopicsNotReady { topics: pending });
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}
