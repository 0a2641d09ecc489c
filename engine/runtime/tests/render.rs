//! The graph's renderings (dot, mermaid) of a topology the DSL built.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use weir_runtime::{Consumed, Grouped, Materialized, Produced, Serdes, StreamsBuilder, Topology};

/// shop-products → valid-products → lookup-forbidden (global) → by-category (repartition)
/// → count into `category-counts` → category-counts-out.
fn topology() -> Topology {
    let b = StreamsBuilder::new("shop-stats");
    let forbidden = b.global_table(
        "forbidden-products",
        Consumed::with(Serdes::string(), Serdes::string()),
        Materialized::as_("forbidden-products"),
    );
    b.stream(
        "shop-products",
        Consumed::with(Serdes::string(), Serdes::string()).named("shop-products-source"),
    )
    .filter(|_, v| !v.is_empty())
    .named("valid-products")
    .left_join_global(&forbidden, |k, _| k.clone(), |v, r| (v, r.is_some()))
    .named("lookup-forbidden")
    .filter(|_, (_, f)| !f)
    .map_values(|(v, _)| v)
    .group_by(
        |_, v| v.clone(),
        Grouped::as_("by-category").with(Serdes::string(), Serdes::string()),
    )
    .count(Materialized::as_("category-counts"))
    .to_stream()
    .to(
        "category-counts-out",
        Produced::with(Serdes::string(), Serdes::i64()).named("counts-sink"),
    );
    b.build().unwrap()
}

/// The generated id of the node labelled `label`.
fn id_of<'a>(text: &'a str, label: &str, dot: bool) -> &'a str {
    let needle = if dot {
        format!("[label=\"{label}\"")
    } else {
        format!("\"{label}\"")
    };
    let line = text
        .lines()
        .find(|l| l.contains(&needle) && !l.contains("subgraph"))
        .unwrap_or_else(|| panic!("no node labelled {label} in\n{text}"));
    let line = line.trim_start();
    let end = line
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap();
    &line[..end]
}

fn valid_id(id: &str) -> bool {
    id.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[test]
fn dot_has_clusters_topics_stores_and_the_edges_between_them() {
    let t = topology();
    let dot = t.to_dot();
    assert!(dot.starts_with("digraph \"shop-stats\" {"), "{dot}");
    assert!(dot.trim_end().ends_with('}'));
    assert_eq!(dot.matches("subgraph cluster_").count(), 3, "{dot}");
    assert!(dot.contains("label=\"Sub-topology 2 (global store)\""));
    let id = |l: &str| id_of(&dot, l, true).to_owned();
    let edge = |a: &str, b: &str| format!("  {} -> {}", id(a), id(b));
    for (a, b) in [
        ("shop-products", "shop-products-source"),
        ("shop-products-source", "valid-products"),
        ("valid-products", "lookup-forbidden"),
        ("KSTREAM-SOURCE-0000000000", "KTABLE-SOURCE-0000000001"),
        ("counts-sink", "category-counts-out"),
        (
            "by-category-repartition-sink",
            "shop-stats-by-category-repartition",
        ),
        (
            "shop-stats-by-category-repartition",
            "by-category-repartition-source",
        ),
    ] {
        let e = edge(a, b);
        assert!(
            dot.contains(&format!("{e};")),
            "missing {a} -> {b} ({e}) in\n{dot}"
        );
    }
    // The store of the global table hangs off the processor that joins it.
    let lookup_store = format!(
        "{} -> {} [style=dashed, dir=none];",
        id("lookup-forbidden"),
        id_of(&dot, "forbidden-products", true)
    );
    assert!(dot.contains(&lookup_store), "{lookup_store} in\n{dot}");
    assert!(dot.contains("shape=cylinder"));
    assert!(dot.contains("shape=cds"));
}

#[test]
fn ids_are_valid_even_when_names_have_dashes_and_quotes() {
    let b = StreamsBuilder::new("odd \"app\"");
    b.stream(
        "in-topic",
        Consumed::with(Serdes::string(), Serdes::string()).named("my-source \"1\""),
    )
    .map_values(|v| v)
    .named("a-b-c <x>")
    .to("out-topic", Produced::default());
    let t = b.build().unwrap();
    let dot = t.to_dot();
    let mermaid = t.to_mermaid();
    for line in dot.lines().filter(|l| l.contains(" -> ")) {
        let (a, rest) = line.trim().split_once(" -> ").unwrap();
        let b = rest.trim_end_matches(';').split(' ').next().unwrap();
        assert!(valid_id(a) && valid_id(b), "{line}");
    }
    assert!(dot.contains("[label=\"my-source \\\"1\\\"\""), "{dot}");
    for line in mermaid.lines().filter(|l| l.contains(" --> ")) {
        let (a, b) = line.trim().split_once(" --> ").unwrap();
        assert!(valid_id(a) && valid_id(b), "{line}");
    }
    assert!(mermaid.contains("[\"a-b-c #lt;x#gt;\"]"), "{mermaid}");
    assert!(mermaid.contains("#quot;1#quot;"), "{mermaid}");
}

#[test]
fn mermaid_has_subgraphs_topics_and_store_links() {
    let t = topology();
    let m = t.to_mermaid();
    assert!(m.starts_with("flowchart LR\n"));
    assert_eq!(m.matches("  subgraph sub").count(), 3, "{m}");
    assert_eq!(m.matches("  end\n").count(), 3, "{m}");
    let id = |l: &str| id_of(&m, l, false).to_owned();
    assert!(
        m.contains(&format!(
            "  {} --> {}\n",
            id("shop-products"),
            id("shop-products-source")
        )),
        "{m}"
    );
    assert!(m.contains(&format!("{}>\"shop-products\"]", id("shop-products"))));
    assert!(m.contains(&format!("{}[(\"category-counts\")]", id("category-counts"))));
    let store_link = m.lines().filter(|l| l.contains(" -.- ")).count();
    assert!(
        store_link >= 3,
        "lookup, count and the global processor use stores:\n{m}"
    );
    assert_eq!(t.to_mermaid(), m, "deterministic");
    assert_eq!(t.to_dot(), t.to_dot());
}
