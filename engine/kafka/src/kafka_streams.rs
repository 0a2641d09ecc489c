//! [`KafkaStreams`]: runs a [`Topology`] on a Kafka cluster — the worker.
//!
//! `start()`:
//! 0. prepares every sink's serdes (`Topology::prepare`: Schema Registry subjects registered
//!    or looked up), so a registry problem is a start-up error;
//! 1. checks source topics and creates the internal ones (changelogs, repartition topics, the
//!    dead-letter topic when one is configured);
//! 2. opens the global stores and reads their topics to the end (bootstrap), then keeps them
//!    current on the global thread;
//! 3. starts `num.stream.threads` stream threads, which join the consumer group.
//!
//! `close()` (or the shutdown flag a signal handler sets) lets each thread finish its batch,
//! commit and leave the group, then joins them.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use weir_state::{RocksDbConfig, SharedBlockCache, SharedWriteBuffers};

use crate::global_thread::GlobalUpdater;
use crate::status::WorkerStatus;
use crate::stream_thread::{self, ThreadSpec};
use crate::{admin, client};
use weir_core::config::{ErrorHandling, ProcessingGuarantee, StreamsConfig};
use weir_core::error::{ErrorKind, StreamsError};
use weir_graph::Topology;
use weir_runtime::stores::GlobalStore;

/// A running (or startable) weir worker.
pub struct KafkaStreams {
    topology: Arc<Topology>,
    config: Arc<StreamsConfig>,
    shutdown: Arc<AtomicBool>,
    threads: Vec<JoinHandle<Result<(), StreamsError>>>,
    status: WorkerStatus,
    /// What `start` opened; shared with the state endpoint, which may serve before it is set.
    started: Arc<OnceLock<Started>>,
    /// Partition count per sub-topology (tasks), known once started.
    layout: Arc<OnceLock<BTreeMap<usize, i32>>>,
    /// The state directory's lock, held from `start` until the worker is dropped.
    dir_lock: Option<std::fs::File>,
}

/// What [`KafkaStreams::start`] opens and the state endpoint reads: the global stores and the
/// instance directory.
#[derive(Default)]
pub struct Started {
    pub globals: Vec<Arc<GlobalStore>>,
    pub directory: Option<Arc<crate::instances::InstanceDirectory>>,
}

/// A view of a worker that is valid before [`KafkaStreams::start`] returns (empty until then):
/// what an endpoint started early (to answer `/ready` while the worker waits for its cluster)
/// needs.
#[derive(Clone)]
pub struct StartedView {
    pub started: Arc<OnceLock<Started>>,
    pub layout: Arc<OnceLock<BTreeMap<usize, i32>>>,
}

/// A stable id for this worker's state directory, used in transactional ids so that a restarted
/// worker fences (and aborts) the transactions its previous incarnation left open.
fn process_id(dir: &Path) -> Result<String, StreamsError> {
    let path = dir.join("weir.process-id");
    if let Ok(id) = std::fs::read_to_string(&path) {
        let id = id.trim();
        if !id.is_empty() {
            return Ok(id.to_owned());
        }
    }
    std::fs::create_dir_all(dir)
        .map_err(|e| StreamsError::Internal(format!("cannot create {}: {e}", dir.display())))?;
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let id = format!("{:x}-{:x}", nanos, std::process::id());
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, &id)
        .and_then(|_| std::fs::rename(&tmp, &path))
        .map_err(|e| StreamsError::Internal(format!("cannot write {}: {e}", path.display())))?;
    Ok(id)
}

/// Locks the application's state directory for this process (an exclusive `flock` on its
/// `.lock` file, released when the file closes, also on a crash), as Kafka Streams does: two
/// workers on one state directory would corrupt each other's stores. The holder's pid is
/// written into the file for the error message of the next one.
fn lock_state_dir(dir: &Path) -> Result<std::fs::File, StreamsError> {
    use std::io::{Read as _, Seek as _, Write as _};
    std::fs::create_dir_all(dir)
        .map_err(|e| StreamsError::Internal(format!("cannot create {}: {e}", dir.display())))?;
    let path = dir.join(".lock");
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(|e| StreamsError::Internal(format!("cannot open {}: {e}", path.display())))?;
    match file.try_lock() {
        Ok(()) => {
            let _ = file.set_len(0);
            let _ = file.rewind();
            let _ = write!(file, "{}", std::process::id());
            Ok(file)
        }
        Err(std::fs::TryLockError::WouldBlock) => {
            let mut holder = String::new();
            let _ = file.read_to_string(&mut holder);
            Err(StreamsError::Config {
                key: weir_core::config::keys::STATE_DIR.into(),
                origin: "state directory lock".into(),
                message: format!(
                    "{} is in use by another worker (pid {}); give each worker on this \
                     machine its own state.dir",
                    dir.display(),
                    holder.trim()
                ),
            })
        }
        Err(std::fs::TryLockError::Error(e)) => Err(StreamsError::Internal(format!(
            "cannot lock {}: {e}",
            path.display()
        ))),
    }
}

/// Where other workers reach this one's endpoint: `application.server`, else `http.addr` with
/// an unspecified host (`0.0.0.0`) replaced by this host's name; `None` without an endpoint.
fn advertised_endpoint(config: &StreamsConfig) -> Option<String> {
    if let Some(s) = &config.application_server {
        return Some(s.clone());
    }
    let addr = config.http_addr.as_ref()?;
    let (host, port) = addr.rsplit_once(':')?;
    if host == "0.0.0.0" || host == "[::]" || host.is_empty() {
        let name = std::env::var("HOSTNAME")
            .ok()
            .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
            .map(|h| h.trim().to_owned())
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| "127.0.0.1".into());
        return Some(format!("{name}:{port}"));
    }
    Some(addr.clone())
}

/// Longest wait between two attempts to reach an unreachable cluster at start-up.
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// Waits until the cluster answers a metadata request: while it does not (retriable errors),
/// logs each attempt, shows the reason in `/ready` and tries again after a backoff doubling
/// from 1 s to [`MAX_BACKOFF`]. Gives up only on a non-retriable error or a shutdown request.
fn wait_for_cluster(
    config: &StreamsConfig,
    status: &WorkerStatus,
    shutdown: &AtomicBool,
) -> Result<(), StreamsError> {
    let started = Instant::now();
    let mut backoff = Duration::from_secs(1);
    for attempt in 1u32.. {
        match admin::reachable(config, Duration::from_secs(5)) {
            Ok(()) => {
                status.broker_reachable();
                if attempt > 1 {
                    tracing::info!(
                        waited_s = started.elapsed().as_secs(),
                        "the Kafka cluster is reachable"
                    );
                }
                return Ok(());
            }
            Err(e) if e.kind() == ErrorKind::Retriable => {
                tracing::warn!(
                    attempt,
                    bootstrap = %config.bootstrap_servers,
                    error = %e,
                    retry_in_s = backoff.as_secs(),
                    "the Kafka cluster is unreachable; retrying"
                );
                status.broker_unreachable(&format!("{}: {e}", config.bootstrap_servers));
                let until = Instant::now() + backoff;
                while Instant::now() < until {
                    if shutdown.load(Ordering::Acquire) {
                        return Err(StreamsError::Internal(
                            "stopped while the Kafka cluster was unreachable".into(),
                        ));
                    }
                    std::thread::sleep(Duration::from_millis(100));
                }
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

impl KafkaStreams {
    pub fn new(topology: Topology, config: StreamsConfig) -> Self {
        KafkaStreams {
            topology: Arc::new(topology),
            config: Arc::new(config),
            shutdown: Arc::new(AtomicBool::new(false)),
            threads: Vec::new(),
            status: WorkerStatus::new(),
            started: Arc::default(),
            layout: Arc::default(),
            dir_lock: None,
        }
    }

    /// The topology this worker runs.
    pub fn topology(&self) -> &Arc<Topology> {
        &self.topology
    }

    /// The worker's config.
    pub fn config(&self) -> &Arc<StreamsConfig> {
        &self.config
    }

    /// What the worker knows about its tasks and stores (for the state endpoint).
    pub fn status(&self) -> WorkerStatus {
        self.status.clone()
    }

    /// Tasks per sub-topology, once [`KafkaStreams::start`] sized them (empty before).
    pub fn tasks_per_subtopology(&self) -> BTreeMap<usize, i32> {
        self.layout.get().cloned().unwrap_or_default()
    }

    /// The global stores, once [`KafkaStreams::start`] opened them (empty before).
    pub fn global_stores(&self) -> &[Arc<GlobalStore>] {
        self.started.get().map_or(&[], |s| &s.globals)
    }

    /// The instance directory (`{app}-weir-instances`) when the worker publishes itself.
    pub fn directory(&self) -> Option<&Arc<crate::instances::InstanceDirectory>> {
        self.started.get().and_then(|s| s.directory.as_ref())
    }

    /// What the state endpoint reads of this worker, filled in by [`KafkaStreams::start`].
    pub fn started_view(&self) -> StartedView {
        StartedView {
            started: self.started.clone(),
            layout: self.layout.clone(),
        }
    }

    /// The flag that stops the worker when set (for signal handlers).
    pub fn shutdown_flag(&self) -> Arc<AtomicBool> {
        self.shutdown.clone()
    }

    /// Starts the worker (see the module doc); returns once the stream threads run.
    pub fn start(&mut self) -> Result<(), StreamsError> {
        let config = &self.config;
        // Step 0: serdes' start-up work (Schema Registry subjects) before touching the cluster.
        self.topology.prepare(config)?;
        let app_dir = config.state_dir.join(&self.topology.application_id);
        self.dir_lock = Some(lock_state_dir(&app_dir)?);
        // Step 1: the cluster answers (retried with backoff while it does not; `/ready` says why)
        wait_for_cluster(config, &self.status, &self.shutdown)?;
        let layout =
            admin::ensure_internal_topics(config, &self.topology, Duration::from_secs(30))?;
        let _ = self.layout.set(layout.tasks.clone());
        let dead_letters = [
            &config.deserialization_exception_handler,
            &config.processing_exception_handler,
        ]
        .iter()
        .any(|h| **h == ErrorHandling::DeadLetter);
        if dead_letters {
            admin::ensure_topic(
                config,
                &config.dead_letter_topic(),
                1,
                Duration::from_secs(30),
            )?;
        }
        // One block cache and one memtable budget (charged to it) for every store of the
        // worker: its RocksDB memory is bounded by `rocksdb.block.cache.bytes`.
        let block_cache = SharedBlockCache::new(config.rocksdb_block_cache_bytes);
        let write_buffers = (config.rocksdb_write_buffer_bytes > 0).then(|| {
            SharedWriteBuffers::new(config.rocksdb_write_buffer_bytes, Some(&block_cache))
        });
        let rocksdb = RocksDbConfig {
            block_cache: Some(block_cache),
            write_buffers,
            ..RocksDbConfig::default()
        };
        // Step 2
        let mut global = GlobalUpdater::open(
            &self.topology,
            config,
            &rocksdb,
            &layout.partitions,
            &client::restore_consumer_config(config),
            &client::global_consumer_config(config),
        )?;
        global.bootstrap(Duration::from_secs(600))?;
        let globals = global.stores();
        let globals_for_view = globals.clone();
        let shutdown = self.shutdown.clone();
        self.threads.push(
            std::thread::Builder::new()
                .name("weir-global".into())
                .spawn(move || {
                    let stop = shutdown.clone();
                    let r = global.run(shutdown);
                    if let Err(e) = &r {
                        tracing::error!(error = %e, "global thread failed; stopping the worker");
                        stop.store(true, Ordering::Release);
                    }
                    r
                })
                .map_err(|e| {
                    StreamsError::Internal(format!("cannot start the global thread: {e}"))
                })?,
        );
        // Step 3
        let pid = process_id(&app_dir)?;
        let directory = match advertised_endpoint(config) {
            Some(endpoint) => Some(Arc::new(crate::instances::InstanceDirectory::start(
                config,
                &pid,
                &endpoint,
                self.status.clone(),
            )?)),
            None => None,
        };
        let strategy = if self.topology.copartition_groups().is_empty() {
            "cooperative-sticky"
        } else {
            "range"
        };
        for i in 0..config.num_stream_threads.max(1) {
            let name = format!("weir-stream-{i}");
            let transactional_id = match config.processing_guarantee {
                ProcessingGuarantee::ExactlyOnceV2 => {
                    Some(format!("{}-{pid}-{i}", self.topology.application_id))
                }
                ProcessingGuarantee::AtLeastOnce => None,
            };
            let mut consumer_config = client::group_consumer_config(config, strategy);
            if let Some(base) = &config.group_instance_id {
                consumer_config.set("group.instance.id", format!("{base}-{i}"));
            }
            let spec = ThreadSpec {
                name: name.clone(),
                topology: self.topology.clone(),
                config: self.config.clone(),
                rocksdb: rocksdb.clone(),
                globals: globals.clone(),
                consumer_config,
                producer_config: client::producer_config(config, transactional_id.as_deref()),
                restore_config: client::restore_consumer_config(config),
                shutdown: self.shutdown.clone(),
                status: self.status.clone(),
            };
            let shutdown = self.shutdown.clone();
            let handle = std::thread::Builder::new()
                .name(name.clone())
                .spawn(move || {
                    let r = stream_thread::run(spec);
                    if let Err(e) = &r {
                        tracing::error!(thread = %name, error = %e, "stream thread failed; stopping the worker");
                        shutdown.store(true, Ordering::Release);
                    }
                    r
                })
                .map_err(|e| StreamsError::Internal(format!("cannot start a stream thread: {e}")))?;
            self.threads.push(handle);
        }
        let _ = self.started.set(Started {
            globals: globals_for_view,
            directory,
        });
        Ok(())
    }

    /// True once shutdown was requested (by `close`, a signal, or a failed thread).
    pub fn is_stopping(&self) -> bool {
        self.shutdown.load(Ordering::Acquire)
    }

    /// Blocks until the worker stops; returns the first thread error.
    pub fn wait(&mut self) -> Result<(), StreamsError> {
        let mut first = Ok(());
        for h in self.threads.drain(..) {
            let r = h
                .join()
                .unwrap_or_else(|_| Err(StreamsError::Internal("a worker thread panicked".into())));
            if first.is_ok() {
                first = r;
            }
        }
        first
    }

    /// Asks every thread to finish its batch, commit and leave; waits for them.
    pub fn close(mut self) -> Result<(), StreamsError> {
        self.shutdown.store(true, Ordering::Release);
        self.status.set_stopped();
        let r = self.wait();
        // Leaves the directory (a tombstone) once no endpoint handle holds it any more.
        if let Some(started) = Arc::get_mut(&mut self.started).and_then(OnceLock::get_mut) {
            started.directory = None;
        }
        r
    }
}
