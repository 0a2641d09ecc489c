//! `StreamsBuilder::build()` validation (each error names its culprit), `describe()` output, and
//! the topic/store facts a built `Topology` reports.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use weir_engine::{
    Consumed, Grouped, KStream, Materialized, Processor, ProcessorContext, Produced, Record,
    Repartitioned, Serdes, StreamsBuilder, StreamsError, Topology,
};

fn strings() -> Consumed<String, String> {
    Consumed::with(Serdes::string(), Serdes::string())
}

/// The message of the `InvalidTopology` error `build()` must return.
fn build_error(b: StreamsBuilder) -> String {
    match b.build() {
        Err(StreamsError::InvalidTopology(message)) => message,
        Err(other) => panic!("expected InvalidTopology, got {other:?}"),
        Ok(t) => panic!(
            "expected a validation error, got a topology:\n{}",
            t.describe()
        ),
    }
}

fn assert_mentions(message: &str, parts: &[&str]) {
    for part in parts {
        assert!(message.contains(part), "`{part}` missing from: {message}");
    }
}

fn with_input(wire: impl FnOnce(&StreamsBuilder, KStream<String, String>)) -> StreamsBuilder {
    let b = StreamsBuilder::new("app");
    let input = b.stream("in", strings());
    wire(&b, input);
    b
}

#[test]
fn duplicate_node_names_are_rejected() {
    let b = with_input(|_, s| {
        s.filter(|_, _| true)
            .named("dup")
            .to("a", Produced::default());
        s.filter_not(|_, _| true)
            .named("dup")
            .to("b", Produced::default());
    });
    assert_mentions(&build_error(b), &["two processors are named `dup`"]);
}

#[test]
fn a_node_named_like_a_global_table_node_is_rejected() {
    let b = StreamsBuilder::new("app");
    b.global_table(
        "products",
        strings().named("products-source"),
        Materialized::as_("products-store"),
    );
    b.stream("in", strings().named("products-source"))
        .to("out", Produced::default());
    assert_mentions(&build_error(b), &["`products-source`"]);
}

#[test]
fn two_sources_on_one_topic_are_rejected() {
    let b = StreamsBuilder::new("app");
    b.stream("t", strings().named("first"))
        .to("a", Produced::default());
    b.stream("t", strings().named("second"))
        .to("b", Produced::default());
    assert_mentions(
        &build_error(b),
        &["topic `t` is read by two sources", "`first`", "`second`"],
    );
}

#[test]
fn a_stream_and_a_table_on_one_topic_are_rejected() {
    let b = StreamsBuilder::new("app");
    b.stream("t", strings()).to("a", Produced::default());
    b.table("t", strings(), Materialized::as_("t-store"));
    assert_mentions(&build_error(b), &["topic `t` is read by two sources"]);
}

#[test]
fn a_stream_and_a_global_table_on_one_topic_are_rejected() {
    let b = StreamsBuilder::new("app");
    b.global_table("t", strings(), Materialized::as_("t-store"));
    b.stream("t", strings()).to("a", Produced::default());
    assert_mentions(&build_error(b), &["topic `t` is read by two sources"]);
}

#[test]
fn duplicate_store_names_are_rejected() {
    let b = StreamsBuilder::new("app");
    b.table("a", strings(), Materialized::as_("same"));
    b.table("b", strings(), Materialized::as_("same"));
    assert_mentions(&build_error(b), &["two state stores are named `same`"]);
}

#[test]
fn a_join_after_select_key_without_repartition_is_rejected() {
    let b = with_input(|b, s| {
        let users = b.table("users", strings(), Materialized::as_("users-store"));
        s.select_key(|_, v| v.clone())
            .join(&users, |a, b| format!("{a}{b}"))
            .to("out", Produced::with(Serdes::string(), Serdes::string()));
    });
    assert_mentions(
        &build_error(b),
        &["KSTREAM-JOIN", "key was changed", ".repartition("],
    );
}

#[test]
fn a_left_join_after_map_without_repartition_is_rejected() {
    let b = with_input(|b, s| {
        let users = b.table("users", strings(), Materialized::as_("users-store"));
        s.map(|k, v| (v, k))
            .left_join(&users, |a, b: Option<String>| format!("{a}{b:?}"))
            .to("out", Produced::with(Serdes::string(), Serdes::string()));
    });
    assert_mentions(&build_error(b), &["KSTREAM-LEFTJOIN", "key was changed"]);
}

#[test]
fn group_by_without_a_grouped_name_is_rejected() {
    let b = with_input(|_, s| {
        s.group_by(
            |_, v| v.clone(),
            Grouped::default().with(Serdes::string(), Serdes::string()),
        )
        .count(Materialized::as_("counts"));
    });
    assert_mentions(&build_error(b), &["group_by", "Grouped::as_"]);
}

#[test]
fn group_by_key_after_a_key_change_without_a_grouped_name_is_rejected() {
    let b = with_input(|_, s| {
        s.select_key(|_, v| v.clone())
            .group_by_key(Grouped::default().with(Serdes::string(), Serdes::string()))
            .count(Materialized::as_("counts"));
    });
    assert_mentions(
        &build_error(b),
        &["group_by_key after a key change", "Grouped::as_"],
    );
}

#[test]
fn a_repartition_without_key_serde_is_rejected() {
    let b = with_input(|_, s| {
        s.select_key(|_, v| v.len() as i64)
            .repartition(Repartitioned::as_("by-len"))
            .to("out", Produced::with(Serdes::i64(), Serdes::string()));
    });
    assert_mentions(&build_error(b), &["repartition `by-len`", "serde unknown"]);
}

#[test]
fn two_repartitions_with_one_name_are_rejected() {
    let b = with_input(|_, s| {
        let r = || Repartitioned::as_("same").with(Serdes::string(), Serdes::string());
        s.repartition(r()).to("a", Produced::default());
        s.repartition(r()).to("b", Produced::default());
    });
    assert_mentions(&build_error(b), &["two repartition steps are named `same`"]);
}

#[test]
fn an_aggregate_without_a_value_serde_is_rejected() {
    let b = with_input(|_, s| {
        s.group_by_key(Grouped::default()).aggregate(
            || 0_i64,
            |_, v, agg| agg + v.len() as i64,
            Materialized::as_("lengths"),
        );
    });
    assert_mentions(
        &build_error(b),
        &["KSTREAM-AGGREGATE", "store `lengths`", "Materialized::with"],
    );
}

#[test]
fn a_join_with_an_unmaterialized_table_is_rejected() {
    let b = with_input(|b, s| {
        let users = b.table("users", strings(), Materialized::as_("users-store"));
        let active = users.filter(|_, v| !v.is_empty());
        assert_eq!(active.store_name(), None);
        s.join(&active, |a, b| format!("{a}{b}"))
            .to("out", Produced::value_serde(Serdes::string()));
    });
    assert_mentions(
        &build_error(b),
        &["KSTREAM-JOIN", "not materialized", ".materialize("],
    );
}

#[test]
fn a_table_table_join_with_an_unmaterialized_table_is_rejected() {
    let b = StreamsBuilder::new("app");
    let left = b.table("left", strings(), Materialized::as_("left-store"));
    let right = b
        .table("right", strings(), Materialized::as_("right-store"))
        .map_values(|v| v.len() as i64);
    left.join(&right, |l, r| format!("{l}{r}"));
    assert_mentions(
        &build_error(b),
        &["KTABLE-MERGE", "both tables must be materialized"],
    );
}

#[test]
fn materialize_without_a_value_serde_after_map_values_is_rejected() {
    let b = StreamsBuilder::new("app");
    b.table("t", strings(), Materialized::as_("t-store"))
        .map_values(|v| v.len() as i64)
        .materialize(Materialized::as_("lengths"));
    assert_mentions(
        &build_error(b),
        &["materialize `lengths`", "Materialized::with"],
    );
}

#[test]
fn a_sink_without_serdes_after_map_is_rejected() {
    let b = with_input(|_, s| {
        s.map(|k, v| (v, k))
            .to("out", Produced::default().named("out-sink"));
    });
    assert_mentions(
        &build_error(b),
        &["sink `out-sink`", "out", "Produced::with"],
    );
}

#[test]
fn a_processor_using_an_undeclared_store_is_rejected() {
    struct Nop;
    impl Processor<String, String, String, String> for Nop {
        fn process(
            &mut self,
            _ctx: &mut ProcessorContext<'_, '_, String, String>,
            _record: Record<String, String>,
        ) -> Result<(), weir_engine::BoxError> {
            Ok(())
        }
    }
    let b = with_input(|_, s| {
        s.process(|| Nop, &["nowhere"]).named("nop");
    });
    assert_mentions(
        &build_error(b),
        &["processor `nop` uses undeclared store `nowhere`"],
    );
}

/// clicks → join(global products) → group_by(page) → count → counts
fn clicks_per_page() -> Topology {
    let b = StreamsBuilder::new("app");
    let products = b.global_table("products", strings(), Materialized::as_("products-store"));
    b.stream("clicks", strings().named("clicks-source"))
        .join_global(&products, |_, v| v.clone(), |a, b| format!("{a}{b}"))
        .group_by(
            |_, v| v.clone(),
            Grouped::as_("by-page").with(Serdes::string(), Serdes::string()),
        )
        .count(Materialized::as_("page-counts"))
        .to_stream()
        .to("counts", Produced::default());
    b.build().unwrap()
}

#[test]
fn describe_splits_sub_topologies_at_repartition_topics_and_lists_global_stores() {
    let expected = "\
Topologies:
   Sub-topology: 0
    Source: clicks-source (topics: [clicks])
      --> KSTREAM-JOIN-0000000003
    Processor: KSTREAM-JOIN-0000000003 (stores: [products-store])
      --> KSTREAM-KEY-SELECT-0000000004
      <-- clicks-source
    Processor: KSTREAM-KEY-SELECT-0000000004 (stores: [])
      --> by-page-repartition-sink
      <-- KSTREAM-JOIN-0000000003
    Sink: by-page-repartition-sink (topic: app-by-page-repartition)
      <-- KSTREAM-KEY-SELECT-0000000004

   Sub-topology: 1
    Source: by-page-repartition-source (topics: [app-by-page-repartition])
      --> KSTREAM-AGGREGATE-0000000007
    Processor: KSTREAM-AGGREGATE-0000000007 (stores: [page-counts])
      --> KTABLE-TOSTREAM-0000000008
      <-- by-page-repartition-source
    Processor: KTABLE-TOSTREAM-0000000008 (stores: [])
      --> KSTREAM-SINK-0000000009
      <-- KSTREAM-AGGREGATE-0000000007
    Sink: KSTREAM-SINK-0000000009 (topic: counts)
      <-- KTABLE-TOSTREAM-0000000008

   Sub-topology: 2 for global store (will not generate tasks)
    Source: KSTREAM-SOURCE-0000000000 (topics: [products])
      --> KTABLE-SOURCE-0000000001
    Processor: KTABLE-SOURCE-0000000001 (stores: [products-store])
      --> none
      <-- KSTREAM-SOURCE-0000000000

";
    let topology = clicks_per_page();
    assert_eq!(topology.describe(), expected);
    // Deterministic: the same graph prints the same text.
    assert_eq!(clicks_per_page().describe(), expected);
}

#[test]
fn a_topology_reports_its_topics_stores_and_tasks() {
    let topology = clicks_per_page();
    assert_eq!(topology.application_id(), "app");
    let subs = topology.subtopologies();
    assert_eq!(subs.len(), 2);
    assert_eq!(subs[0].source_topics().collect::<Vec<_>>(), vec!["clicks"]);
    assert!(
        subs[0].store_names().is_empty(),
        "global stores are not task stores"
    );
    assert_eq!(
        subs[1].source_topics().collect::<Vec<_>>(),
        vec!["app-by-page-repartition"]
    );
    assert_eq!(subs[1].store_names(), ["page-counts".to_owned()]);
    assert_eq!(
        topology.source_topics().into_iter().collect::<Vec<_>>(),
        vec!["app-by-page-repartition", "clicks", "products"]
    );
    assert_eq!(
        topology.sink_topics().into_iter().collect::<Vec<_>>(),
        vec!["app-by-page-repartition", "counts"]
    );
    assert_eq!(
        topology.global_tables().collect::<Vec<_>>(),
        vec![("products", "products-store")]
    );
    // Global stores have no changelog: their topic is one.
    assert_eq!(
        topology.changelog_topics(),
        vec!["app-page-counts-changelog".to_owned()]
    );
    assert!(topology.copartition_groups().is_empty());
}

#[test]
fn stores_without_logging_have_no_changelog_topic() {
    let b = StreamsBuilder::new("app");
    b.table("a", strings(), Materialized::as_("logged"));
    b.table(
        "b",
        strings(),
        Materialized::as_("unlogged").without_logging(),
    );
    let topology = b.build().unwrap();
    assert_eq!(
        topology.changelog_topics(),
        vec!["app-logged-changelog".to_owned()]
    );
    assert_eq!(
        topology.changelog_topic("unlogged"),
        "app-unlogged-changelog"
    );
}

#[test]
fn describe_shows_split_branches_and_merges() {
    let b = StreamsBuilder::new("app");
    let s = b.stream("in", strings().named("src"));
    let branches = s
        .split("s-")
        .branch("a", |_, v| v == "a")
        .default_branch("rest");
    branches["s-a"]
        .merge(&branches["s-rest"])
        .to("out", Produced::default().named("sink"));
    let text = b.build().unwrap().describe();
    assert_mentions(
        &text,
        &[
            "    Processor: s- (stores: [])\n      --> s-a, s-rest\n      <-- src\n",
            "    Processor: KSTREAM-MERGE-0000000004 (stores: [])\n      --> sink\n      <-- s-a, s-rest\n",
            "    Sink: sink (topic: out)\n",
        ],
    );
    assert_eq!(text.matches("Sub-topology").count(), 1, "{text}");
}

#[test]
fn to_dynamic_is_described_with_a_topic_extractor() {
    let b = with_input(|_, s| s.to_dynamic(|k, _| k.clone(), Produced::default().named("router")));
    let topology = b.build().unwrap();
    assert_mentions(
        &topology.describe(),
        &["Sink: router (topic: <topic extractor>)"],
    );
    assert!(topology.sink_topics().is_empty());
}
