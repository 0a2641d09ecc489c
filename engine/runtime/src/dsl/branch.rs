//! [`BranchedKStream`]: the branches of `KStream::split` under construction. Each record goes
//! to the first branch whose predicate holds (child `i` of the branch node for predicate `i`),
//! else to the default branch when there is one. Tombstones (null values) are seen by no
//! predicate: they go to the first branch added with [`BranchedKStream::branch_with_tombstones`],
//! else to the default branch, else nowhere.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::{Datum, KStream};
use crate::ops::source_sink::PassThrough;
use crate::ops::stateless::{Branch, Pred};

/// The branches of [`KStream::split`] under construction.
pub struct BranchedKStream<K, V> {
    stream: KStream<K, V>,
    prefix: String,
    /// Name, predicate (`None`: the default branch), whether it takes tombstones.
    branches: Vec<(String, Option<Pred<K, V>>, bool)>,
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
        self.branches
            .push((name.into(), Some(Arc::new(pred)), false));
        self
    }

    /// A branch like [`branch`](Self::branch) that also takes the tombstones (records with a
    /// null value, which no predicate sees): the first branch added this way takes them all,
    /// instead of the default branch. A branch of tombstones only: `|_, _| false`.
    pub fn branch_with_tombstones(
        mut self,
        name: impl Into<String>,
        pred: impl Fn(&K, &V) -> bool + Send + Sync + 'static,
    ) -> Self {
        self.branches
            .push((name.into(), Some(Arc::new(pred)), true));
        self
    }

    /// Ends the split with a branch for all other records.
    pub fn default_branch(mut self, name: impl Into<String>) -> BTreeMap<String, KStream<K, V>> {
        self.branches.push((name.into(), None, false));
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
            .filter_map(|(_, p, _)| p.clone())
            .collect();
        let has_default = self.branches.iter().any(|(_, p, _)| p.is_none());
        // Child index = index among the predicate branches.
        let tombstones = self
            .branches
            .iter()
            .filter(|(_, p, _)| p.is_some())
            .position(|(_, _, t)| *t);
        let s = &self.stream;
        let mut g = s.b.borrow_mut();
        let name = g.name(Some(self.prefix.clone()), "KSTREAM-BRANCH");
        let branch = g.processor(name, vec![s.node], vec![], move || Branch {
            preds: preds.clone(),
            has_default,
            tombstones,
        });
        let mut out = BTreeMap::new();
        // Predicate branches first (child i = predicate i), then the default branch.
        let ordered = self
            .branches
            .iter()
            .filter(|(_, p, _)| p.is_some())
            .chain(self.branches.iter().filter(|(_, p, _)| p.is_none()));
        for (bname, _, _) in ordered {
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
