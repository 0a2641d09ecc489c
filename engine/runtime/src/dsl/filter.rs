//! The filters of [`KStream`]: `filter`, `filter_not` and their fallible forms, whose failure is
//! a processing error of the record (the configured handler decides).

use std::sync::Arc;

use super::Datum;
use super::kstream::KStream;
use crate::ops::stateless::{Filter, TryPred};

impl<K: Datum, V: Datum> KStream<K, V> {
    /// Keeps records for which `pred` holds.
    pub fn filter(&self, pred: impl Fn(&K, &V) -> bool + Send + Sync + 'static) -> KStream<K, V> {
        self.filter_impl(Arc::new(move |k, v| Ok(pred(k, v))), true, "KSTREAM-FILTER")
    }

    /// Like [`KStream::filter`] with a predicate that can fail: a failure is a processing error
    /// of that record (the configured handler decides: fail, skip, or dead-letter).
    pub fn try_filter(
        &self,
        pred: impl Fn(&K, &V) -> Result<bool, weir_core::error::BoxError> + Send + Sync + 'static,
    ) -> KStream<K, V> {
        self.filter_impl(Arc::new(pred), true, "KSTREAM-FILTER")
    }

    /// Like [`KStream::filter_not`] with a predicate that can fail.
    pub fn try_filter_not(
        &self,
        pred: impl Fn(&K, &V) -> Result<bool, weir_core::error::BoxError> + Send + Sync + 'static,
    ) -> KStream<K, V> {
        self.filter_impl(Arc::new(pred), false, "KSTREAM-FILTER")
    }

    /// Drops records for which `pred` holds.
    pub fn filter_not(
        &self,
        pred: impl Fn(&K, &V) -> bool + Send + Sync + 'static,
    ) -> KStream<K, V> {
        self.filter_impl(
            Arc::new(move |k, v| Ok(pred(k, v))),
            false,
            "KSTREAM-FILTER",
        )
    }

    pub(super) fn filter_impl(&self, pred: TryPred<K, V>, keep: bool, kind: &str) -> KStream<K, V> {
        let node = self.add(kind, vec![], move || Filter {
            pred: pred.clone(),
            keep,
            dropped: metrics::Counter::noop(),
        });
        self.child(
            node,
            self.key_serde.clone(),
            self.value_serde.clone(),
            self.key_changed,
        )
    }
}
