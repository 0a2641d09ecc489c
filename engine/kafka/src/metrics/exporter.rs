//! The Prometheus exporter of a worker process: installs the recorder once, with weir's
//! histogram buckets, and keeps it drained.

use std::sync::Mutex;
use std::time::Duration;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use weir_core::error::StreamsError;
use weir_core::metrics::COMMIT_DURATION;

/// Buckets of the per-record latencies: 50µs to 10s.
const LATENCY_BUCKETS: &[f64] = &[
    0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
    1.0, 2.5, 5.0, 10.0,
];

/// Buckets of the commit duration: 1ms to 30s.
const COMMIT_BUCKETS: &[f64] = &[
    0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// How often the exporter's histograms are drained when nobody scrapes.
const UPKEEP_INTERVAL: Duration = Duration::from_secs(5);

static HANDLE: Mutex<Option<PrometheusHandle>> = Mutex::new(None);

/// Installs the Prometheus recorder as the process's global `metrics` recorder, once: a second
/// call returns the handle of the first. Histograms get buckets (so they render `_bucket`
/// series). Fails when another recorder was installed by someone else.
///
/// Install it before building and starting workers: handles registered before a recorder
/// exists stay no-ops.
pub fn install_prometheus() -> Result<PrometheusHandle, StreamsError> {
    let mut slot = HANDLE
        .lock()
        .map_err(|_| StreamsError::Internal("metrics recorder lock poisoned".into()))?;
    if let Some(h) = slot.as_ref() {
        return Ok(h.clone());
    }
    let err = |e: metrics_exporter_prometheus::BuildError| {
        StreamsError::Internal(format!("cannot install the Prometheus recorder: {e}"))
    };
    let builder = PrometheusBuilder::new()
        .set_buckets(LATENCY_BUCKETS)
        .map_err(err)?
        .set_buckets_for_metric(Matcher::Full(COMMIT_DURATION.into()), COMMIT_BUCKETS)
        .map_err(err)?;
    let handle = builder.install_recorder().map_err(err)?;
    let upkeep = handle.clone();
    std::thread::Builder::new()
        .name("weir-metrics-upkeep".into())
        .spawn(move || {
            loop {
                std::thread::sleep(UPKEEP_INTERVAL);
                upkeep.run_upkeep();
            }
        })
        .map_err(|e| StreamsError::Internal(format!("cannot start metrics upkeep: {e}")))?;
    *slot = Some(handle.clone());
    Ok(handle)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;
    use weir_core::metrics::dropped_counter;

    #[test]
    fn buckets_are_sorted_and_positive() {
        for b in [LATENCY_BUCKETS, COMMIT_BUCKETS] {
            assert!(b.windows(2).all(|w| w[0] < w[1]));
            assert!(b[0] > 0.0);
        }
        assert!(LATENCY_BUCKETS[0] <= 0.000_05 && *LATENCY_BUCKETS.last().unwrap() >= 10.0);
    }

    #[test]
    fn the_filter_counter_is_labelled_with_its_processor() {
        let recorder = PrometheusBuilder::new().build_recorder();
        metrics::with_local_recorder(&recorder, || {
            dropped_counter("app-1", "drop-forbidden").increment(2);
        });
        let text = recorder.handle().render();
        assert!(
            text.contains(
                "weir_dropped_records_total{application=\"app-1\",processor=\"drop-forbidden\"} 2"
            ),
            "{text}"
        );
    }
}
