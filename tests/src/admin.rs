//! Topic administration: create a topic through the Kafka admin API and wait until the broker's
//! metadata shows all its partitions.

use std::time::{Duration, Instant};

use rdkafka::ClientConfig;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer as _};

const TIMEOUT: Duration = Duration::from_secs(30);

/// Creates `name` with `partitions` partitions (replication factor 1), compacted when `compact`,
/// and waits until its metadata lists every partition.
///
/// # Panics
/// When the broker refuses (the topic exists already, ...) or does not answer in 30 s.
pub fn create_topic(bootstrap: &str, name: &str, partitions: i32, compact: bool) {
    let configs: &[(&str, &str)] = if compact {
        &[("cleanup.policy", "compact")]
    } else {
        &[]
    };
    create_topic_with(bootstrap, name, partitions, configs);
}

/// [`create_topic`] with explicit topic configs (`("cleanup.policy", "compact")`, ...).
pub fn create_topic_with(bootstrap: &str, name: &str, partitions: i32, configs: &[(&str, &str)]) {
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("log_level", "3")
        .create()
        .unwrap_or_else(|e| panic!("cannot create an admin client for {bootstrap}: {e}"));
    let mut topic = NewTopic::new(name, partitions, TopicReplication::Fixed(1));
    for (k, v) in configs {
        topic = topic.set(k, v);
    }
    let opts = AdminOptions::new()
        .operation_timeout(Some(TIMEOUT))
        .request_timeout(Some(TIMEOUT));
    let results = futures::executor::block_on(admin.create_topics([&topic], &opts))
        .unwrap_or_else(|e| panic!("create topic `{name}` on {bootstrap}: {e}"));
    for r in results {
        if let Err((topic, code)) = r {
            panic!(
                "create topic `{topic}` ({partitions} partitions, {configs:?}) on {bootstrap}: {code}"
            );
        }
    }
    // Step 2: wait for the metadata.
    let deadline = Instant::now() + TIMEOUT;
    loop {
        match partition_count_once(bootstrap, name) {
            Ok(n) if n == partitions as usize => return,
            Ok(n) if Instant::now() >= deadline => {
                panic!(
                    "topic `{name}` has {n} partitions in metadata after {TIMEOUT:?}, expected {partitions}"
                )
            }
            Err(e) if Instant::now() >= deadline => {
                panic!("topic `{name}` not in metadata after {TIMEOUT:?}: {e}")
            }
            _ => std::thread::sleep(Duration::from_millis(50)),
        }
    }
}

/// Deletes `name` and waits until the broker's metadata no longer lists it.
///
/// # Panics
/// When the broker refuses or the topic is still listed after 30 s.
pub fn delete_topic(bootstrap: &str, name: &str) {
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("log_level", "3")
        .create()
        .unwrap_or_else(|e| panic!("cannot create an admin client for {bootstrap}: {e}"));
    let opts = AdminOptions::new()
        .operation_timeout(Some(TIMEOUT))
        .request_timeout(Some(TIMEOUT));
    let results = futures::executor::block_on(admin.delete_topics(&[name], &opts))
        .unwrap_or_else(|e| panic!("delete topic `{name}` on {bootstrap}: {e}"));
    for r in results {
        if let Err((topic, code)) = r {
            panic!("delete topic `{topic}` on {bootstrap}: {code}");
        }
    }
    let deadline = Instant::now() + TIMEOUT;
    while partition_count_once(bootstrap, name).is_ok_and(|n| n > 0) {
        assert!(
            Instant::now() < deadline,
            "topic `{name}` still in metadata {TIMEOUT:?} after its deletion"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The number of partitions of `topic`.
///
/// # Panics
/// When the topic is unknown or the broker does not answer in 30 s.
pub fn partition_count(bootstrap: &str, topic: &str) -> usize {
    let deadline = Instant::now() + TIMEOUT;
    loop {
        match partition_count_once(bootstrap, topic) {
            Ok(n) if n > 0 => return n,
            Ok(_) | Err(_) if Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(100))
            }
            Ok(_) => panic!("topic `{topic}` on {bootstrap} has no partitions"),
            Err(e) => panic!("metadata of topic `{topic}` on {bootstrap}: {e}"),
        }
    }
}

pub(crate) fn partition_count_once(bootstrap: &str, topic: &str) -> Result<usize, String> {
    let client: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("log_level", "3")
        // Metadata requests must not create the topic as a side effect.
        .set("allow.auto.create.topics", "false")
        .create()
        .map_err(|e| format!("cannot create a metadata client: {e}"))?;
    let md = client
        .fetch_metadata(Some(topic), Duration::from_secs(5))
        .map_err(|e| e.to_string())?;
    let t = md
        .topics()
        .iter()
        .find(|t| t.name() == topic)
        .ok_or_else(|| format!("topic `{topic}` missing from the metadata response"))?;
    if let Some(err) = t.error() {
        return Err(format!("{err:?}"));
    }
    Ok(t.partitions().len())
}

/// The offsets consumer group `group` committed for each partition of `topic` (`None`: none
/// committed), read with an OffsetFetch that joins no group.
///
/// # Panics
/// When the topic is unknown or the broker does not answer in 30 s.
pub fn committed_offsets(bootstrap: &str, group: &str, topic: &str) -> Vec<Option<i64>> {
    let partitions = partition_count(bootstrap, topic);
    let client: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("log_level", "3")
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        .set("allow.auto.create.topics", "false")
        .create()
        .unwrap_or_else(|e| panic!("cannot create a consumer for {bootstrap}: {e}"));
    let mut tpl = rdkafka::TopicPartitionList::new();
    for p in 0..partitions as i32 {
        tpl.add_partition(topic, p);
    }
    let committed = client
        .committed_offsets(tpl, TIMEOUT)
        .unwrap_or_else(|e| panic!("committed offsets of group `{group}` on `{topic}`: {e}"));
    (0..partitions as i32)
        .map(|p| {
            match committed
                .find_partition(topic, p)
                .map(|e| e.offset())
                .unwrap_or(rdkafka::Offset::Invalid)
            {
                rdkafka::Offset::Offset(o) => Some(o),
                _ => None,
            }
        })
        .collect()
}
