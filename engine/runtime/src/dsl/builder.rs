//! [`StreamsBuilder`]: where a topology starts (streams, tables, global tables) and ends
//! (`build()`). The typed DSL handles it returns all write into one shared graph under
//! construction.

use std::cell::RefCell;
use std::collections::BTreeSet;
use std::marker::PhantomData;
use std::rc::Rc;
use std::sync::Arc;

use super::{Consumed, GlobalKTable, KStream, KTable, Materialized};
use crate::node::{Node, NodeFactory};
use crate::ops::source_sink::{PassThrough, TimestampExtractor, TypedDecoder};
use crate::ops::table::{Materialize, TableSource};
use weir_core::error::StreamsError;
use weir_core::serde::SerdeRef;
use weir_graph::{GlobalDef, GraphNode, NodeKind, SourceDecoder, StoreDef, Topology};

/// The graph under construction, shared by every DSL handle of one builder.
pub struct Inner {
    pub application_id: String,
    pub nodes: Vec<GraphNode>,
    pub stores: Vec<StoreDef>,
    pub globals: Vec<GlobalDef>,
    pub repartitions: BTreeSet<String>,
    /// Problems found while building, reported by `build()` (DSL calls stay infallible).
    pub errors: Vec<String>,
    /// Sink serdes to prepare at start-up (see `graph::prepare`).
    pub sink_prepares: Vec<weir_graph::prepare::SinkPrepare>,
    /// Windowed tables by the node that produces them: what `suppress` needs to know.
    pub windowed: std::collections::HashMap<usize, super::windowed::WindowedTable>,
    counter: usize,
}

pub type Shared = Rc<RefCell<Inner>>;

impl Inner {
    /// `given`, or a generated `KSTREAM-FILTER-0000000003`-style name. Names count every node.
    pub fn name(&mut self, given: Option<String>, kind: &str) -> String {
        let n = self.counter;
        self.counter += 1;
        given.unwrap_or_else(|| format!("{kind}-{n:010}"))
    }

    pub fn add(
        &mut self,
        name: String,
        kind: NodeKind,
        parents: Vec<usize>,
        stores: Vec<String>,
        factory: NodeFactory,
    ) -> usize {
        self.nodes.push(GraphNode {
            name,
            kind,
            parents,
            stores,
            factory: crate::node::supplier(factory),
        });
        self.nodes.len() - 1
    }

    /// Adds a processor node built by `make` for each task.
    pub fn processor<N: Node + 'static>(
        &mut self,
        name: String,
        parents: Vec<usize>,
        stores: Vec<String>,
        make: impl Fn() -> N + Send + Sync + 'static,
    ) -> usize {
        let factory: NodeFactory = Arc::new(move || Box::new(make()));
        self.add(name, NodeKind::Processor, parents, stores, factory)
    }

    /// Adds a stream source node reading `topic` with a typed decoder (records without a key
    /// stay when the key serde has a null).
    pub fn source<K: Clone + Send + 'static, V: Clone + Send + 'static>(
        &mut self,
        name: String,
        topic: &str,
        key: SerdeRef<K>,
        value: SerdeRef<V>,
    ) -> usize {
        self.source_of(name, topic, key, value, true, None)
    }

    /// Adds a source node; `null_keys`: whether records without a key stay (streams) or are
    /// skipped (tables).
    pub fn source_of<K: Clone + Send + 'static, V: Clone + Send + 'static>(
        &mut self,
        name: String,
        topic: &str,
        key: SerdeRef<K>,
        value: SerdeRef<V>,
        null_keys: bool,
        timestamp: Option<TimestampExtractor<K, V>>,
    ) -> usize {
        let decoder: Arc<dyn SourceDecoder> = Arc::new(TypedDecoder {
            key,
            value,
            null_keys,
            timestamp,
        });
        let kind = NodeKind::Source {
            topics: vec![topic.to_owned()],
            decoder,
        };
        self.add(
            name,
            kind,
            Vec::new(),
            Vec::new(),
            Arc::new(|| Box::new(PassThrough)),
        )
    }

    pub fn add_store<K: 'static, V: 'static>(
        &mut self,
        name: &str,
        key: &SerdeRef<K>,
        value: &SerdeRef<V>,
        logged: bool,
        global_topic: Option<&str>,
    ) {
        self.add_store_of(
            name,
            key,
            value,
            logged,
            global_topic,
            weir_graph::StoreKind::KeyValue,
        );
    }

    /// [`Inner::add_store`] for a store of any kind (window, session).
    pub fn add_store_of<K: 'static, V: 'static>(
        &mut self,
        name: &str,
        key: &SerdeRef<K>,
        value: &SerdeRef<V>,
        logged: bool,
        global_topic: Option<&str>,
        kind: weir_graph::StoreKind,
    ) {
        let view = weir_graph::StoreView {
            key: Arc::new(key.clone()),
            value: Arc::new(value.clone()),
        };
        self.add_store_viewed(name, key, value, logged, global_topic, kind, view);
    }

    /// [`Inner::add_store_of`] with the JSON view the state endpoint shows (a window store's
    /// values carry a timestamp before the value's bytes).
    #[allow(clippy::too_many_arguments)]
    pub fn add_store_viewed<K: 'static, V: 'static>(
        &mut self,
        name: &str,
        key: &SerdeRef<K>,
        value: &SerdeRef<V>,
        logged: bool,
        global_topic: Option<&str>,
        kind: weir_graph::StoreKind,
        view: weir_graph::StoreView,
    ) {
        self.stores.push(StoreDef {
            kind,
            name: name.to_owned(),
            global: global_topic.is_some(),
            logged: logged && global_topic.is_none(),
            serdes: Arc::new((key.clone(), value.clone())),
            view,
        });
    }

    pub fn error(&mut self, message: String) {
        self.errors.push(message);
    }
}

/// Builds a topology with the DSL.
///
/// ```
/// use weir_runtime::{StreamsBuilder, Consumed, Produced, Serdes};
/// let b = StreamsBuilder::new("app");
/// b.stream("in", Consumed::with(Serdes::string(), Serdes::string()))
///     .filter(|_, v| !v.is_empty())
///     .to("out", Produced::default());
/// let topology = b.build().unwrap();
/// assert!(topology.describe().contains("Sink"));
/// ```
pub struct StreamsBuilder {
    inner: Shared,
}

impl StreamsBuilder {
    /// A builder for application `application_id` (the consumer group id and the prefix of
    /// internal topics).
    pub fn new(application_id: impl Into<String>) -> Self {
        StreamsBuilder {
            inner: Rc::new(RefCell::new(Inner {
                application_id: application_id.into(),
                nodes: Vec::new(),
                stores: Vec::new(),
                globals: Vec::new(),
                repartitions: BTreeSet::new(),
                errors: Vec::new(),
                sink_prepares: Vec::new(),
                windowed: std::collections::HashMap::new(),
                counter: 0,
            })),
        }
    }

    /// A stream of the records of `topic`.
    pub fn stream<K, V>(&self, topic: &str, consumed: Consumed<K, V>) -> KStream<K, V>
    where
        K: Clone + Send + 'static,
        V: Clone + Send + 'static,
    {
        let mut g = self.inner.borrow_mut();
        let name = g.name(consumed.name, "KSTREAM-SOURCE");
        let node = g.source_of(
            name,
            topic,
            consumed.key.clone(),
            consumed.value.clone(),
            true,
            consumed.timestamp,
        );
        drop(g);
        KStream::new(
            self.inner.clone(),
            node,
            Some(consumed.key),
            Some(consumed.value),
            false,
        )
    }

    /// A table of the latest value per key of `topic` (tombstones delete), materialized in the
    /// named store, partitioned like the topic.
    pub fn table<K, V>(
        &self,
        topic: &str,
        consumed: Consumed<K, V>,
        materialized: Materialized<K, V>,
    ) -> KTable<K, V>
    where
        K: Clone + Send + 'static,
        V: Clone + Send + 'static,
    {
        let key = materialized.key.unwrap_or_else(|| consumed.key.clone());
        let value = materialized.value.unwrap_or_else(|| consumed.value.clone());
        let mut g = self.inner.borrow_mut();
        let src_name = g.name(consumed.name, "KSTREAM-SOURCE");
        let src = g.source_of(
            src_name,
            topic,
            consumed.key,
            consumed.value,
            false,
            consumed.timestamp,
        );
        let store = materialized.name;
        g.add_store(&store, &key, &value, materialized.logging, None);
        let name = g.name(None, "KTABLE-SOURCE");
        let m = Materialize {
            store: store.clone(),
            key: key.clone(),
            value: value.clone(),
            index: 0,
        };
        let node = g.processor(name, vec![src], vec![store.clone()], move || TableSource {
            store: m.clone(),
        });
        drop(g);
        KTable::new(
            self.inner.clone(),
            node,
            Some(store),
            Some(key),
            Some(value),
        )
    }

    /// A table replicated in full on every worker, filled from `topic` before processing
    /// starts; the topic is its changelog. Joined by a key selected from each stream record.
    pub fn global_table<K, V>(
        &self,
        topic: &str,
        consumed: Consumed<K, V>,
        materialized: Materialized<K, V>,
    ) -> GlobalKTable<K, V>
    where
        K: Clone + Send + 'static,
        V: Clone + Send + 'static,
    {
        // The store holds the topic's bytes as they are, so its serdes are the topic's.
        let (key, value) = (consumed.key, consumed.value);
        let mut g = self.inner.borrow_mut();
        let store = materialized.name;
        g.add_store(&store, &key, &value, false, Some(topic));
        let source_name = g.name(consumed.name, "KSTREAM-SOURCE");
        let processor_name = g.name(None, "KTABLE-SOURCE");
        let decoder = Arc::new(TypedDecoder {
            key: key.clone(),
            value: value.clone(),
            null_keys: false,
            timestamp: None,
        });
        g.globals.push(GlobalDef {
            topic: topic.to_owned(),
            store: store.clone(),
            source_name,
            processor_name,
            decoder,
        });
        GlobalKTable {
            store,
            key,
            value,
            _t: PhantomData,
        }
    }

    /// Declares a task-local key-value store for processors of the Processor API (connect it by
    /// name in `KStream::process`). Serdes are required.
    pub fn add_state_store<K: 'static, V: 'static>(&self, materialized: Materialized<K, V>) {
        let mut g = self.inner.borrow_mut();
        match (materialized.key, materialized.value) {
            (Some(key), Some(value)) => {
                g.add_store(&materialized.name, &key, &value, materialized.logging, None)
            }
            _ => g.error(format!(
                "state store `{}`: give its serdes with Materialized::with",
                materialized.name
            )),
        }
    }

    /// Validates the graph and returns the topology.
    pub fn build(self) -> Result<Topology, StreamsError> {
        let inner = Rc::try_unwrap(self.inner)
            .map(RefCell::into_inner)
            .unwrap_or_else(|rc| {
                let g = rc.borrow();
                Inner {
                    application_id: g.application_id.clone(),
                    nodes: g.nodes.clone(),
                    stores: g.stores.clone(),
                    windowed: g.windowed.clone(),
                    globals: g.globals.clone(),
                    repartitions: g.repartitions.clone(),
                    errors: g.errors.clone(),
                    sink_prepares: g.sink_prepares.clone(),
                    counter: g.counter,
                }
            });
        let mut t = Topology::new(
            inner.application_id,
            inner.nodes,
            inner.stores,
            inner.globals,
            inner.repartitions,
            inner.errors,
        )?;
        t.sink_prepares = inner.sink_prepares;
        Ok(t)
    }
}
