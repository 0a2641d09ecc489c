//! [`BranchedKStream`]: the branches of `KStream::split` under construction. Each record goes
//! to the first branch whose predicate holds (child `i` of the branch node for predicate `i`),
//! else to the default branch when there is one.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::{Datum, KStream};
use crate::ops::source_sink::PassThrough;
use crate::ops::stateless::{Branch, Pred};

/// The branches of [`KStream::split`] under construction.
pub struct BranchedKStream<K, V> {
    stream: KStream<K, V>,
    prefix: String,
    branches: Vec<(String, Option<Pred<K, V>>)>,
}

impl<K, V> BranchedKStream<K, V> {
    pub fn new(stream: KStream<K, V>, prefix: String) -> Self {
        BranchedKStream {
            stream,
            prefix,
            branches: Vec::new(),
        }
    }
}

impl<K: Datum, V: Datum> BranchedKStream<K, V> {
    /// A branch named `{split}{name}` taking records for which `pred` holds (and no earlier
    /// branch's predicate did).
    pub fn branch(
        mut self,
        name: impl Into<String>,
        pred: impl Fn(&K, &V) -> bool + Send + Sync + 'static,
    ) -> Self {
        self.branches.push((name.into(), Some(Arc::new(pred))));
        self
    }

    /// Ends the split with a branch for all other records.
    pub fn default_branch(mut self, name: impl Into<String>) -> BTreeMap<String, KStream<K, V>> {
        self.branches.push((name.into(), None));
        self.finish()
    }

    /// Ends the split; records no branch takes are dropped.
    pub fn no_default_branch(self) -> BTreeMap<String, KStream<K, V>> {
        self.finish()
    }

    fn finish(self) -> BTreeMap<String, KStream<K, V>> {
        let preds: Vec<Pred<K, V>> = self
            .branches
            .iter()
            .filter_map(|(_, p)| p.clone())
            .collect();
        let has_default = self.branches.iter().any(|(_, p)| p.is_none());
        let s = &self.stream;
        let mut g = s.b.borrow_mut();
        let name = g.name(Some(self.prefix.clone()), "KSTREAM-BRANCH");
        let branch = g.processor(name, vec![s.node], vec![], move || Branch {
            preds: preds.clone(),
            has_default,
        });
        let mut out = BTreeMap::new();
        // Predicate branches first (child i = predicate i), then the default branch.
        let ordered = self
            .branches
            .iter()
            .filter(|(_, p)| p.is_some())
            .chain(self.branches.iter().filter(|(_, p)| p.is_none()));
        for (bname, _) in ordered {
            let full = format!("{}{bname}", self.prefix);
            let n = g.name(Some(full.clone()), "KSTREAM-BRANCHCHILD");
            let node = g.processor(n, vec![branch], vec![], || PassThrough);
            out.insert(
                full,
                KStream::new(
                    s.b.clone(),
                    node,
                    s.key_serde.clone(),
                    s.value_serde.clone(),
                    s.key_changed,
                ),
            );
        }
        out
    }
}
