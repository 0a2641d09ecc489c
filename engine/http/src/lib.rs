//! The state inspection endpoint (axum, read-only): health and readiness, the topology, tasks
//! with lag and restore progress, stores with their sizes, single keys and bounded key ranges,
//! the instance directory, and Prometheus metrics.
//!
//! ```text
//! GET /health                        200 while the process runs (no token needed)
//! GET /ready                         200 when every task is restored and running, else 503 + why
//! GET /topology[?format=text]        JSON (or Kafka Streams' describe() text)
//! GET /tasks                         tasks: partitions, positions, committed offsets, lag, restore
//! GET /stores                        stores: kind, tasks, approximate entries, bytes on disk
//! GET /stores/{store}/keys/{key}     the decoded value; 404 when absent; forwarded to the owner
//! GET /stores/{store}/range?from=&to=&prefix=&limit=&cursor=     this worker's tasks, paginated;
//!                                    `to` inclusive (`to_exclusive=` to leave it out)
//! GET /instances                     the workers of each application and their tasks
//! GET /metrics                       Prometheus text format
//! ```
//!
//! One endpoint serves every application of the process (`weir demo` runs three); a store name
//! two applications share needs `?application=`. Keys are given as text and encoded with the
//! store's key serde. A key the worker does not own is fetched from the owner (or, with
//! `?redirect=1`, answered with a 307 to it); the response names the instance that answered.
//! Every failure is a 4xx/5xx with a JSON `{"error": ...}`, never a panic. With `http.token`
//! set, every request but `/health` needs `Authorization: Bearer {token}`.
//!
//! It binds 127.0.0.1 unless told otherwise; with a certificate and key it serves HTTPS only
//! (`tls`).

mod app;
mod forward;
mod routes;
mod stores;
mod tls;

use std::net::SocketAddr;
use std::sync::Arc;
use std::thread::JoinHandle;

pub use app::AppState;

use weir_core::error::StreamsError;

/// Renders the Prometheus text of the process's metrics.
pub type MetricsRenderer = Arc<dyn Fn() -> String + Send + Sync>;

/// What the endpoint serves and how.
#[derive(Clone)]
pub struct EndpointConfig {
    /// Where to listen (`127.0.0.1:8080`).
    pub bind: String,
    /// `Authorization: Bearer` token required on every route but `/health`.
    pub token: Option<String>,
    /// `GET /metrics`; `None`: 404.
    pub metrics: Option<MetricsRenderer>,
    /// Serve HTTPS with this certificate chain and private key (PEM files).
    pub tls: Option<(std::path::PathBuf, std::path::PathBuf)>,
}

impl EndpointConfig {
    /// Plain HTTP on `bind`, no token, no metrics.
    pub fn new(bind: impl Into<String>) -> EndpointConfig {
        EndpointConfig {
            bind: bind.into(),
            token: None,
            metrics: None,
            tls: None,
        }
    }
}

impl std::fmt::Debug for EndpointConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EndpointConfig")
            .field("bind", &self.bind)
            .field("token", &self.token.as_ref().map(|_| "***"))
            .finish_non_exhaustive()
    }
}

/// A running endpoint; stops when dropped.
pub struct StateEndpoint {
    addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for StateEndpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StateEndpoint")
            .field("addr", &self.addr)
            .finish()
    }
}

impl StateEndpoint {
    /// Binds `config.bind` (an error at once when it cannot) and serves `apps` on a thread of
    /// its own.
    pub fn start(
        config: EndpointConfig,
        apps: Vec<AppState>,
    ) -> Result<StateEndpoint, StreamsError> {
        let listener = std::net::TcpListener::bind(&config.bind).map_err(|e| {
            StreamsError::Internal(format!(
                "state endpoint: cannot listen on {}: {e}",
                config.bind
            ))
        })?;
        let addr = listener
            .local_addr()
            .map_err(|e| StreamsError::Internal(format!("state endpoint: {e}")))?;
        listener
            .set_nonblocking(true)
            .map_err(|e| StreamsError::Internal(format!("state endpoint: {e}")))?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("weir-http")
            .enable_all()
            .build()
            .map_err(|e| StreamsError::Internal(format!("state endpoint runtime: {e}")))?;
        let acceptor = match &config.tls {
            Some((cert, key)) => Some(tls::acceptor(cert, key)?),
            None => None,
        };
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let router = routes::router(Arc::new(routes::Shared::new(
            config,
            apps,
            addr.to_string(),
        )));
        let thread = std::thread::Builder::new()
            .name("weir-http".into())
            .spawn(move || {
                runtime.block_on(async move {
                    let listener = match tokio::net::TcpListener::from_std(listener) {
                        Ok(l) => l,
                        Err(e) => {
                            tracing::error!(error = %e, "state endpoint: cannot listen");
                            return;
                        }
                    };
                    if let Some(acceptor) = acceptor {
                        tls::serve(listener, acceptor, router, stopped).await;
                        return;
                    }
                    let served = axum::serve(listener, router)
                        .with_graceful_shutdown(async {
                            let _ = stopped.await;
                        })
                        .await;
                    if let Err(e) = served {
                        tracing::error!(error = %e, "state endpoint stopped");
                    }
                });
            })
            .map_err(|e| StreamsError::Internal(format!("state endpoint thread: {e}")))?;
        tracing::info!(%addr, "state endpoint listening");
        Ok(StateEndpoint {
            addr,
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    /// The address it listens on (the port chosen when bound to port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for StateEndpoint {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
