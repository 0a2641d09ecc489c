//! The YAML twins in `definitions/` build the same topology as their Rust originals: equal
//! `describe()` (node names included) and the same golden outputs.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;

use weir_engine::definition::{self, Format as DefFormat, Loaded};
use weir_topologies::golden::{Format, Formats, run_case};
use weir_topologies::{message_filter, product_filter, user_interests, user_recommendations};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn load(name: &str) -> Loaded {
    let path = root().join("definitions").join(format!("{name}.yaml"));
    definition::load(&path).unwrap_or_else(|e| panic!("{e}"))
}

/// The definition's formats in the golden runner's terms.
fn formats(loaded: &Loaded) -> Formats {
    let convert = |f: &DefFormat| match f {
        DefFormat::String => Format::String,
        DefFormat::Json => Format::Json,
        DefFormat::I64 => Format::I64,
        other => panic!("no golden format for {other:?}"),
    };
    loaded
        .formats
        .iter()
        .map(|(t, (k, v))| (t.clone(), (convert(k), convert(v))))
        .collect()
}

fn assert_golden(loaded: Loaded, case: &str, inputs: &[&str]) {
    let f = formats(&loaded);
    let handlers = loaded.streams_config().unwrap();
    let results = run_case(
        loaded.topology,
        &root().join("golden").join(case),
        &f,
        inputs,
        Some(handlers),
    )
    .unwrap();
    assert!(!results.is_empty());
    for (topic, (expected, actual)) in results {
        assert_eq!(
            actual, expected,
            "topic `{topic}` differs from its golden file"
        );
    }
}

#[test]
fn product_filter_twin_describes_the_same_topology() {
    let yaml = load("product-filter");
    assert_eq!(yaml.application, "shop-filter");
    let rust = product_filter::topology("shop-filter").unwrap();
    assert_eq!(yaml.topology.describe(), rust.describe());
}

#[test]
fn product_filter_twin_reproduces_the_golden_outputs() {
    assert_golden(
        load("product-filter"),
        "product-filter",
        &["forbidden-products", "shop-products"],
    );
}

#[test]
fn user_interests_twin_describes_the_same_topology() {
    let yaml = load("user-interests");
    let rust = user_interests::topology(&yaml.application).unwrap();
    assert_eq!(yaml.topology.describe(), rust.describe());
    let expected =
        std::fs::read_to_string(root().join("golden/user-interests/describe.txt")).unwrap();
    assert_eq!(yaml.topology.describe(), expected);
}

#[test]
fn user_interests_twin_reproduces_the_golden_outputs() {
    assert_golden(
        load("user-interests"),
        "user-interests",
        &["client-searches"],
    );
}

#[test]
fn twins_declare_the_formats_of_their_topics() {
    let pf = load("product-filter");
    let names: Vec<&str> = pf.formats.keys().map(String::as_str).collect();
    assert_eq!(names, ["forbidden-products", "products", "shop-products"]);
    let ui = load("user-interests");
    assert_eq!(
        ui.formats["user-search-counts"],
        (DefFormat::String, DefFormat::I64)
    );
}

#[test]
fn user_recommendations_twin_describes_the_same_topology() {
    let yaml = load("user-recommendations");
    let rust = user_recommendations::topology(&yaml.application).unwrap();
    assert_eq!(yaml.topology.describe(), rust.describe());
    let expected =
        std::fs::read_to_string(root().join("golden/user-recommendations/describe.txt")).unwrap();
    assert_eq!(yaml.topology.describe(), expected);
}

#[test]
fn user_recommendations_twin_reproduces_the_golden_outputs() {
    assert_golden(
        load("user-recommendations"),
        "user-recommendations",
        &[
            "forbidden-products",
            "client-searches",
            "client-recommendation-requests",
        ],
    );
}

#[test]
fn message_filter_twin_describes_the_same_topology() {
    let yaml = load("message-filter");
    let rust = message_filter::topology(&yaml.application).unwrap();
    assert_eq!(yaml.topology.describe(), rust.describe());
    let expected =
        std::fs::read_to_string(root().join("golden/message-filter/describe.txt")).unwrap();
    assert_eq!(yaml.topology.describe(), expected);
}

#[test]
fn message_filter_twin_reproduces_the_golden_outputs() {
    assert_golden(
        load("message-filter"),
        "message-filter",
        &["blocked-users", "forbidden-words", "messages"],
    );
}

#[test]
fn product_filter_twin_runs_with_the_rust_topology_config() {
    let yaml = load("product-filter");
    assert_eq!(yaml.config, product_filter::config());
}

/// The Faust chat filter's drop-in, on the Faust app's topics and formats (unkeyed records,
/// `{"action": "add"|"remove", "word"}`, `{"user", "blocked"}`, Cyrillic text).
#[test]
fn faust_chat_filter_reproduces_the_golden_outputs() {
    assert_golden(
        load("faust-chat-filter"),
        "faust-chat-filter",
        &["forbidden_words", "blocked_users", "messages"],
    );
}
