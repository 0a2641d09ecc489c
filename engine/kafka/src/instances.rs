//! The instance directory: which worker of an application owns which task, and where its state
//! endpoint listens — so any worker can answer a key query by asking the owner.
//!
//! Every worker with an endpoint publishes a record to the compacted topic
//! `{application.id}-weir-instances` (key: instance id; value: JSON [`InstanceInfo`]) when its
//! tasks change and every [`HEARTBEAT`], and a tombstone when it stops; every such worker reads
//! the topic from the beginning and keeps the latest record per instance. An instance whose
//! latest record is older than [`EXPIRY`] (it crashed) is ignored. While partitions move, two instances may claim a
//! task for a moment: the most recent claim wins.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::admin::{self, CleanupPolicy};
use super::client::global_consumer_config;
use super::restore::PartitionReader;
use super::tools::RecordWriter;
use crate::status::WorkerStatus;
use weir_core::config::StreamsConfig;
use weir_core::error::StreamsError;

/// How often a worker republishes its record while nothing changes.
pub const HEARTBEAT: Duration = Duration::from_secs(5);
/// After how long without a record an instance is considered gone.
pub const EXPIRY: Duration = Duration::from_secs(30);

/// What a worker publishes about itself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InstanceInfo {
    pub instance: String,
    /// `host:port` of its state endpoint.
    pub endpoint: String,
    /// Its tasks (`0_1`, ...).
    pub tasks: BTreeSet<String>,
    /// When it published this (ms since the epoch).
    pub updated_ms: i64,
}

/// The topic of `application`'s directory.
pub fn topic_of(application: &str) -> String {
    format!("{application}-weir-instances")
}

#[derive(Default)]
struct Known {
    /// Instance id → its latest record.
    instances: BTreeMap<String, InstanceInfo>,
}

/// The directory as this worker sees it; stops its thread when dropped.
pub struct InstanceDirectory {
    me: String,
    known: Arc<Mutex<Known>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for InstanceDirectory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InstanceDirectory")
            .field("me", &self.me)
            .finish_non_exhaustive()
    }
}

impl InstanceDirectory {
    /// Creates the topic if needed, then publishes this worker (`instance`, reachable at
    /// `endpoint`) from `status` and reads the others', on a thread of its own.
    pub fn start(
        config: &StreamsConfig,
        instance: &str,
        endpoint: &str,
        status: WorkerStatus,
    ) -> Result<InstanceDirectory, StreamsError> {
        let topic = topic_of(&config.application_id);
        admin::create_topics(
            config,
            &[(topic.as_str(), 1, CleanupPolicy::Compact)],
            Duration::from_secs(30),
        )?;
        let writer = RecordWriter::for_config(config)?;
        let reader = PartitionReader::new(
            &global_consumer_config(config),
            &topic,
            &BTreeMap::from([(0, None)]),
        )?;
        let known = Arc::new(Mutex::new(Known::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let mut worker = Publisher {
            topic,
            me: instance.to_owned(),
            endpoint: endpoint.to_owned(),
            status,
            writer,
            reader,
            known: known.clone(),
            last: None,
        };
        let stop2 = stop.clone();
        let thread = std::thread::Builder::new()
            .name("weir-instances".into())
            .spawn(move || worker.run(&stop2))
            .map_err(|e| StreamsError::Internal(format!("cannot start the directory: {e}")))?;
        Ok(InstanceDirectory {
            me: instance.to_owned(),
            known,
            stop,
            thread: Some(thread),
        })
    }

    /// This worker's instance id.
    pub fn me(&self) -> &str {
        &self.me
    }

    /// Every live instance (this one included once it read its own record).
    pub fn instances(&self) -> Vec<InstanceInfo> {
        let Ok(k) = self.known.lock() else {
            return Vec::new();
        };
        // By the time the record was published (hosts' clocks assumed roughly in step), so that
        // a worker reading old records at start-up does not take crashed instances for live.
        let now = weir_core::now_ms();
        k.instances
            .values()
            .filter(|i| now - i.updated_ms < EXPIRY.as_millis() as i64)
            .cloned()
            .collect()
    }

    /// The live instance that most recently claimed `task`.
    pub fn owner(&self, task: &str) -> Option<InstanceInfo> {
        self.instances()
            .into_iter()
            .filter(|i| i.tasks.contains(task))
            .max_by_key(|i| i.updated_ms)
    }
}

impl Drop for InstanceDirectory {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

struct Publisher {
    topic: String,
    me: String,
    endpoint: String,
    status: WorkerStatus,
    writer: RecordWriter,
    reader: PartitionReader,
    known: Arc<Mutex<Known>>,
    /// The tasks last published, and when.
    last: Option<(BTreeSet<String>, Instant)>,
}

impl Publisher {
    fn run(&mut self, stop: &AtomicBool) {
        while !stop.load(Ordering::Acquire) {
            if let Err(e) = self.step() {
                tracing::warn!(error = %e, "instance directory: retrying");
                std::thread::sleep(Duration::from_millis(500));
            }
        }
        // Leaving: others stop routing here at once.
        let _ = self.writer.send(&self.topic, self.me.as_bytes(), None);
        let _ = self.writer.flush(Duration::from_secs(5));
    }

    fn step(&mut self) -> Result<(), StreamsError> {
        let tasks: BTreeSet<String> = self.status.tasks().into_iter().map(|t| t.id).collect();
        let due = match &self.last {
            None => true,
            Some((prev, at)) => *prev != tasks || at.elapsed() >= HEARTBEAT,
        };
        if due {
            let info = InstanceInfo {
                instance: self.me.clone(),
                endpoint: self.endpoint.clone(),
                tasks: tasks.clone(),
                updated_ms: weir_core::now_ms(),
            };
            let value = serde_json::to_vec(&info)
                .map_err(|e| StreamsError::Internal(format!("instance record: {e}")))?;
            self.writer
                .send(&self.topic, self.me.as_bytes(), Some(&value))?;
            self.last = Some((tasks, Instant::now()));
        }
        let known = self.known.clone();
        self.reader.read(Duration::from_millis(200), |r| {
            let Some(key) = r.key.map(|k| String::from_utf8_lossy(k).into_owned()) else {
                return Ok(());
            };
            let Ok(mut k) = known.lock() else {
                return Ok(());
            };
            match r.value.map(serde_json::from_slice::<InstanceInfo>) {
                None => {
                    k.instances.remove(&key);
                }
                Some(Ok(info)) => {
                    k.instances.insert(key, info);
                }
                Some(Err(e)) => {
                    tracing::warn!(instance = %key, error = %e, "instance directory: unreadable record skipped");
                }
            }
            Ok(())
        })?;
        Ok(())
    }
}
