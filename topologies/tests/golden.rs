//! Golden tests: every topology replays `golden/<name>/input` through the test driver and must
//! produce exactly `golden/<name>/expected`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support {
    pub mod cases;
}

use support::cases::{self, Case};

use std::path::PathBuf;

use weir_engine::Serdes;
use weir_engine::testkit::TopologyTestDriver;
use weir_topologies::golden::run_case;
use weir_topologies::model::{Interests, Product};
use weir_topologies::{message_filter, product_filter, user_interests, user_recommendations};

fn case(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("golden")
        .join(name)
}

fn assert_golden(case: Case) {
    let results = run_case(
        case.topology(),
        &case.dir(),
        &case.formats,
        case.inputs,
        case.error_handling(),
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
fn product_filter_golden() {
    assert_golden(cases::product_filter());
}

#[test]
fn user_recommendations_golden() {
    assert_golden(cases::user_recommendations());
}

#[test]
fn message_filter_golden() {
    assert_golden(cases::message_filter());
}

#[test]
fn user_interests_golden() {
    assert_golden(cases::user_interests());
}

fn product(id: &str, price: f64) -> Product {
    Product {
        product_id: id.into(),
        name: format!("name-{id}"),
        shop_id: "s".into(),
        category: "c".into(),
        price,
    }
}

#[test]
fn forbidding_removing_and_re_adding_a_product() {
    let mut d = TopologyTestDriver::new(product_filter::topology("shop-filter").unwrap()).unwrap();
    let products = d.input_topic("shop-products", Serdes::string(), Serdes::json::<Product>());
    let forbidden = d.input_topic("forbidden-products", Serdes::string(), Serdes::string());
    let out = d.output_topic("products", Serdes::string(), Serdes::json::<Product>());

    forbidden.pipe(&mut d, "p1".into(), "fake".into()).unwrap();
    products
        .pipe(&mut d, "p1".into(), product("p1", 1.0))
        .unwrap();
    assert!(
        out.read_values(&mut d).unwrap().is_empty(),
        "forbidden product passed"
    );

    forbidden.pipe_tombstone(&mut d, "p1".into()).unwrap();
    products
        .pipe(&mut d, "p1".into(), product("p1", 2.0))
        .unwrap();
    assert_eq!(out.read_values(&mut d).unwrap(), vec![product("p1", 2.0)]);

    forbidden
        .pipe(&mut d, "p1".into(), "fake again".into())
        .unwrap();
    products
        .pipe(&mut d, "p1".into(), product("p1", 3.0))
        .unwrap();
    assert!(
        out.read_values(&mut d).unwrap().is_empty(),
        "re-forbidden product passed"
    );
    let table: Vec<(String, String)> = d.read_store("forbidden-products").unwrap();
    assert_eq!(table, vec![("p1".to_string(), "fake again".to_string())]);
}

#[test]
fn a_corrupt_product_is_a_deserialization_error_not_a_panic() {
    let mut d = TopologyTestDriver::new(product_filter::topology("shop-filter").unwrap()).unwrap();
    let products = d.input_topic("shop-products", Serdes::string(), Serdes::json::<Product>());
    let err = products
        .pipe_bytes(&mut d, Some(b"p1"), Some(b"{not json"))
        .unwrap_err();
    assert!(
        matches!(err, weir_engine::StreamsError::Deserialize { .. }),
        "{err}"
    );
    // The driver keeps working after a bad record.
    products
        .pipe(&mut d, "p2".into(), product("p2", 1.0))
        .unwrap();
    let out = d.output_topic("products", Serdes::string(), Serdes::json::<Product>());
    assert_eq!(out.read_values(&mut d).unwrap().len(), 1);
}

#[test]
fn per_user_stores_hold_counts_and_interests() {
    let mut d =
        TopologyTestDriver::new(user_interests::topology("user-interests").unwrap()).unwrap();
    let searches = d.input_topic("client-searches", Serdes::string(), Serdes::json());
    for (i, (user, cat)) in [
        ("u1", "home"),
        ("u2", "toys"),
        ("u1", "toys"),
        ("u1", "home"),
    ]
    .iter()
    .enumerate()
    {
        let s = weir_topologies::model::Search {
            user_id: (*user).into(),
            query: "q".into(),
            product_id: format!("p{i}"),
            category: (*cat).into(),
            ts: i as i64,
        };
        searches.pipe(&mut d, format!("r{i}"), s).unwrap();
    }
    let counts = d.key_value_store::<String, i64>("search-counts").unwrap();
    assert_eq!(counts.get(&"u1".to_string()).unwrap(), Some(3));
    assert_eq!(counts.get(&"u2".to_string()).unwrap(), Some(1));
    assert_eq!(counts.get(&"u3".to_string()).unwrap(), None);
    let interests = d
        .key_value_store::<String, Interests>("user-interests")
        .unwrap();
    let u1 = interests.get(&"u1".to_string()).unwrap().unwrap();
    assert_eq!(u1.categories.get("home"), Some(&2));
    assert_eq!(u1.recent_products, vec!["p3", "p2", "p0"]);
}

#[test]
fn describe_matches_the_golden_text_and_the_readme() {
    let readme =
        std::fs::read_to_string(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../README.md"))
            .unwrap();
    for (name, topology) in [
        ("product-filter", product_filter::topology("shop-filter")),
        (
            "user-recommendations",
            user_recommendations::topology("user-recommendations"),
        ),
        ("message-filter", message_filter::topology("message-filter")),
    ] {
        let text = topology.unwrap().describe();
        let expected = std::fs::read_to_string(case(name).join("describe.txt")).unwrap();
        assert_eq!(
            text, expected,
            "describe() of {name} changed; update golden/{name}/describe.txt and the README"
        );
        assert!(
            readme.contains(&format!("```text\n{}\n```", text.trim_end())),
            "the README does not show describe() of {name} as it is now"
        );
    }
}
