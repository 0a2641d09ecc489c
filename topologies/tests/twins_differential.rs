//! Every Rust topology and its YAML twin agree on every input, not only the golden ones: the
//! same generated records (valid, invalid, and odd: extra fields, integer prices, missing or
//! null fields, wrong types, values that are not objects or not JSON, Unicode, tombstones) go
//! through both in the test driver, with the topology's error handlers, and every output
//! topic must hold the same records (keys and timestamps equal, values equal as JSON; dead
//! letters byte for byte, with the same provenance headers — only the error text may differ,
//! since one twin's record fails in its serde and the other's in its `validate`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde_json::Value;
use weir_engine::testkit::{DriverConfig, TopologyTestDriver};
use weir_engine::{Headers, StreamsConfig, Topology, definition};
use weir_topologies::generate::{Dataset, GeneratorConfig, SHOP_PRODUCTS, forbidden_records};
use weir_topologies::{message_filter, product_filter, user_interests, user_recommendations};

type Input = (String, Option<Vec<u8>>, Option<Vec<u8>>);
/// Per topic: (key, value as JSON or text, timestamp, headers but the error text).
type Output = BTreeMap<
    String,
    Vec<(
        Option<Vec<u8>>,
        Option<Value>,
        i64,
        Vec<(String, Option<Vec<u8>>)>,
    )>,
>;

fn run(topology: Topology, config: Option<StreamsConfig>, inputs: &[Input]) -> Output {
    let reads = topology.source_topics();
    let mut d = TopologyTestDriver::with_config(
        topology,
        DriverConfig {
            error_handling: config,
            ..DriverConfig::default()
        },
    )
    .unwrap();
    for (i, (topic, key, value)) in inputs.iter().enumerate() {
        if !reads.contains(topic) {
            continue;
        }
        d.pipe_raw(
            topic,
            key.as_deref(),
            value.as_deref(),
            i as i64,
            Headers::new(),
        )
        .unwrap_or_else(|e| panic!("input {i} ({topic}): {e}"));
    }
    let mut out = Output::new();
    for topic in d.output_topics() {
        let records = d
            .read_raw(&topic)
            .into_iter()
            .map(|r| {
                let value = r.value.as_deref().map(|b| {
                    serde_json::from_slice(b)
                        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(b).into_owned()))
                });
                let headers = r
                    .headers
                    .iter()
                    // The error's wording and kind may differ between the twins (a typed serde
                    // fails to deserialize what the dynamic one reads and then rejects);
                    // where the record came from may not.
                    .filter(|(k, _)| {
                        !matches!(
                            *k,
                            "weir.error"
                                | "__streams.errors.exception"
                                | "__streams.errors.message"
                                | "__streams.errors.stacktrace"
                        )
                    })
                    .map(|(k, v)| (k.to_owned(), v.map(<[u8]>::to_vec)))
                    .collect();
                (r.key, value, r.timestamp, headers)
            })
            .collect();
        out.insert(topic, records);
    }
    out
}

fn yaml(name: &str) -> definition::Loaded {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("definitions")
        .join(format!("{name}.yaml"));
    definition::load(&path).unwrap_or_else(|e| panic!("{e}"))
}

fn generated(dataset: Dataset, n: usize) -> Vec<Input> {
    let config = GeneratorConfig {
        invalid_share: 0.1,
        ..GeneratorConfig::default()
    };
    let mut inputs: Vec<Input> = forbidden_records(&config)
        .into_iter()
        .map(|(t, k, v)| (t.to_owned(), Some(k), v))
        .collect();
    inputs.extend(
        dataset
            .records(config)
            .take(n)
            .map(|(t, k, v)| (t.to_owned(), Some(k), v)),
    );
    inputs
}

fn odd(topic: &str, values: &[&str]) -> Vec<Input> {
    values
        .iter()
        .enumerate()
        .map(|(i, v)| {
            (
                topic.to_owned(),
                Some(format!("odd-{i}").into_bytes()),
                Some(v.as_bytes().to_vec()),
            )
        })
        .collect()
}

fn assert_twins_agree(
    name: &str,
    rust: Topology,
    rust_config: Option<StreamsConfig>,
    inputs: &[Input],
) -> Output {
    let y = yaml(name);
    let yaml_config = Some(y.streams_config().unwrap());
    let a = run(rust, rust_config.or_else(|| yaml_config.clone()), inputs);
    let b = run(y.topology, yaml_config, inputs);
    assert!(!a.is_empty(), "{name}: no output at all");
    for topic in a.keys().chain(b.keys()) {
        let (ra, rb) = (&a.get(topic), &b.get(topic));
        if ra != rb {
            let (ra, rb) = (
                ra.cloned().unwrap_or_default(),
                rb.cloned().unwrap_or_default(),
            );
            let first = ra
                .iter()
                .zip(&rb)
                .position(|(x, y)| x != y)
                .unwrap_or(ra.len().min(rb.len()));
            panic!(
                "{name}: topic `{topic}` differs ({} records from Rust, {} from YAML); first \
                 difference at {first}:\n  Rust: {:?}\n  YAML: {:?}",
                ra.len(),
                rb.len(),
                ra.get(first),
                rb.get(first)
            );
        }
    }
    a
}

fn rust_config(pairs: Vec<(String, String)>, app: &str) -> Option<StreamsConfig> {
    let mut c = StreamsConfig::new(app);
    for (k, v) in pairs {
        c.set(&k, &v).unwrap();
    }
    Some(c)
}

#[test]
fn product_filter_twins_agree_on_generated_and_odd_products() {
    let mut inputs = generated(Dataset::Shop, 2000);
    inputs.extend(odd(
        SHOP_PRODUCTS,
        &[
            r#"{"product_id":"x1","name":"Lamp","shop_id":"s","category":"c","price":5}"#,
            r#"{"product_id":"x2","name":"Lamp","shop_id":"s","category":"c","price":1.5,"color":"red"}"#,
            r#"{"product_id":"x3","name":"Лампа 🛋","shop_id":"магазин","category":"дом","price":0}"#,
            r#"{"product_id":"x4","name":"Lamp","category":"c","price":1.0}"#,
            r#"{"product_id":"x5","name":null,"shop_id":"s","category":"c","price":1.0}"#,
            r#"{"product_id":"x6","name":"Lamp","shop_id":7,"category":"c","price":1.0}"#,
            r#"{"product_id":"x7","name":"Lamp","shop_id":"s","category":"c","price":"1.0"}"#,
            r#"{"product_id":"","name":"Lamp","shop_id":"s","category":"c","price":1.0}"#,
            r#"{"product_id":"x9","name":"Lamp","shop_id":"s","category":"c","price":-0.5}"#,
            r#"{"product_id":"x10","name":"Lamp","shop_id":"s","category":"c","price":1e300}"#,
            r#"{"product_id":"x11","name":"Lamp","shop_id":"s","category":"c","price":-0.0}"#,
            r#"{"name":"Lamp","shop_id":"s","category":"c","price":1.0}"#,
            r#""not a product""#,
            r#"[1, 2]"#,
            r#"{not json"#,
            r#"null"#,
        ],
    ));
    // A tombstone on the product topic, and a product without a key.
    inputs.push((SHOP_PRODUCTS.to_owned(), Some(b"x12".to_vec()), None));
    inputs.push((
        SHOP_PRODUCTS.to_owned(),
        None,
        Some(
            br#"{"product_id":"x13","name":"Lamp","shop_id":"s","category":"c","price":2.0}"#
                .to_vec(),
        ),
    ));
    let out = assert_twins_agree(
        "product-filter",
        product_filter::topology("shop-filter").unwrap(),
        rust_config(product_filter::config(), "shop-filter"),
        &inputs,
    );
    let last = out["products"].last().unwrap();
    assert_eq!(last.0, None, "the unkeyed product is written without a key");
    assert_eq!(last.1.as_ref().unwrap()["product_id"], "x13");
}

#[test]
fn user_interests_twins_agree_on_generated_searches() {
    let _ = assert_twins_agree(
        "user-interests",
        user_interests::topology("user-interests").unwrap(),
        None,
        &generated(Dataset::Client, 2000),
    );
}

#[test]
fn user_recommendations_twins_agree_on_generated_searches_and_requests() {
    let _ = assert_twins_agree(
        "user-recommendations",
        user_recommendations::topology("user-recommendations").unwrap(),
        None,
        &generated(Dataset::Client, 2000),
    );
}

#[test]
fn message_filter_twins_agree_on_generated_chat() {
    let _ = assert_twins_agree(
        "message-filter",
        message_filter::topology("message-filter").unwrap(),
        None,
        &generated(Dataset::Messages, 2000),
    );
}
