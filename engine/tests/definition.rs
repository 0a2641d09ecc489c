//! Definition files end to end: load errors name `file:line:col` (with suggestions), and loaded
//! topologies run in the test driver, including records whose expressions fail.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use serde_json::{Value, json};
use support::definitions::{err, loaded, pipe, read};
use weir_engine::StreamsError;
use weir_engine::definition::{Format, load};
use weir_engine::testkit::TopologyTestDriver;

fn driver(yaml: &str) -> TopologyTestDriver {
    TopologyTestDriver::new(loaded(yaml).topology).unwrap()
}

// ---------------------------------------------------------------- load errors

#[test]
fn unknown_step_suggests_the_closest_kind() {
    let e = err(
        "application: a\nstreams:\n  s:\n    from: t\n    steps:\n      - filtr: value.x > 1\n",
    );
    assert_eq!(
        e,
        "f.yaml:6:9: unknown step `filtr`; did you mean `filter`?"
    );
}

#[test]
fn unknown_options_and_keys_suggest_the_closest() {
    let e = err(
        "application: a\nstreams:\n  s:\n    from: t\n    steps:\n      - filter: true\n        nmae: x\n",
    );
    assert_eq!(
        e,
        "f.yaml:7:9: unknown key `nmae` in `filter` step; did you mean `name`?"
    );
    // A typo of a missing required key is reported at the typo, with the suggestion.
    let e = err("application: a\nstreams:\n  s:\n    form: t\n");
    assert_eq!(
        e,
        "f.yaml:4:5: unknown key `form` in stream `s`; did you mean `from`?"
    );
    let e = err("application: a\nstreams:\n  s:\n    value: json\n");
    assert_eq!(
        e,
        "f.yaml:3:3: stream `s` needs `from: TOPIC` or `stream: NAME` (another stream to continue)"
    );
    let e = err("application: a\nstream:\n  s:\n    from: t\n");
    assert_eq!(
        e,
        "f.yaml:2:1: unknown key `stream` in the definition; did you mean `streams`?"
    );
    let e = err("application: a\ntables: {}\n");
    assert_eq!(e, "f.yaml:1:1: the definition needs `streams`");
    let e = err("applicaton: a\nstreams: {}\n");
    assert_eq!(
        e,
        "f.yaml:1:1: unknown key `applicaton` in the definition; did you mean `application`?"
    );
    let e = err("application: a\nstreams:\n  s:\n    from: t\n    value: jsn\n");
    assert_eq!(e, "f.yaml:5:12: unknown format `jsn`; did you mean `json`?");
}

#[test]
fn expression_errors_point_into_the_expression() {
    let e = err(
        "application: a\nstreams:\n  s:\n    from: t\n    steps:\n      - map_values: '{\"a\": value.x +}'\n",
    );
    assert!(
        e.starts_with("f.yaml:6:37: invalid expression for `map_values` step: "),
        "{e}"
    );
    let e = err(
        "application: a\nstreams:\n  s:\n    from: t\n    steps:\n      - filter: valeu.x > 1\n",
    );
    assert_eq!(
        e,
        "f.yaml:6:17: unknown variable `valeu` in `filter` step; did you mean `value`?"
    );
    let e = err(
        "application: a\nstreams:\n  s:\n    from: t\n    steps:\n      - filter: timestamp > 1\n",
    );
    assert!(
        e.starts_with("f.yaml:6:17: `timestamp` is not available"),
        "{e}"
    );
}

#[test]
fn references_are_checked_with_suggestions() {
    let tables = "application: a\ntables:\n  forbidden: {topic: f, global: true}\nstreams:\n  s:\n    from: t\n    steps:\n";
    let e = err(&format!(
        "{tables}      - lookup: forbiden\n        key: value.id\n"
    ));
    assert_eq!(
        e,
        "f.yaml:8:17: unknown table `forbiden`; did you mean `forbidden`?"
    );
    let e = err(&format!("{tables}      - lookup: forbidden\n"));
    assert!(
        e.starts_with("f.yaml:8:17: a lookup in global table `forbidden` needs `key:`"),
        "{e}"
    );
    let e = err("application: a\nstreams:\n  orders:\n    from: t\n  more:\n    stream: order\n");
    assert_eq!(
        e,
        "f.yaml:6:13: unknown stream `order`; did you mean `orders`? (a stream can only continue streams defined above it)"
    );
}

#[test]
fn order_dependent_mistakes_are_located() {
    let e = err(
        "application: a\nstreams:\n  s:\n    from: t\n    steps:\n      - group_by: value.user\n      - count: c\n",
    );
    assert!(
        e.starts_with("f.yaml:6:9: `group_by` repartitions by the new key"),
        "{e}"
    );
    let e = err("application: a\nstreams:\n  s:\n    from: t\n  u:\n    from: t\n");
    assert!(
        e.starts_with("f.yaml:6:11: topic `t` is already read by stream `s` (line 4)"),
        "{e}"
    );
    let e = err(
        "application: a\ntables:\n  t: {topic: tt}\nstreams:\n  s:\n    from: i\n    steps:\n      - select_key: value.id\n      - lookup: t\n",
    );
    assert!(
        e.starts_with("f.yaml:9:9: an earlier step changed the key"),
        "{e}"
    );
    let e = err(
        "application: a\nstreams:\n  s:\n    from: i\n    steps:\n      - branch: {a: value.x > 1}\n      - to: o\n",
    );
    assert!(
        e.starts_with("f.yaml:7:9: the stream was split by `branch` at line 6"),
        "{e}"
    );
    let e = err(
        "application: a\nstreams:\n  s:\n    from: i\n    steps:\n      - to: o\n        value: string\n  u:\n    from: j\n    steps:\n      - to: o\n",
    );
    assert!(e.starts_with("f.yaml:11:13: topic `o` is used with formats string / json here but string / string at line 6"), "{e}");
}

#[test]
fn yaml_syntax_errors_and_missing_files_are_located() {
    let e = err("application: a\nstreams: [1, 2\nx: 3\n");
    assert!(e.starts_with("f.yaml:3:2: invalid YAML: "), "{e}");
    let e = load("/no/such/file.yaml").unwrap_err().to_string();
    assert!(
        e.starts_with("/no/such/file.yaml:1:1: cannot read the file"),
        "{e}"
    );
}

#[test]
fn yaml_1_1_booleans_where_a_name_is_expected_say_to_quote_them() {
    let e = err("application: a\nstreams:\n  s:\n    from: t\n    steps:\n      - to: no\n");
    assert_eq!(
        e,
        "f.yaml:6:13: expected `to` (a topic) (a string), found a boolean: `no` is read as a boolean in YAML 1.1; quote it: \"no\""
    );
    for word in ["n", "N", "yes", "y", "On", "OFF"] {
        let e = err(&format!(
            "application: a\nstreams:\n  s:\n    from: {word}\n"
        ));
        assert!(
            e.starts_with("f.yaml:4:11: expected `from` (a topic) (a string), found a boolean: ")
                && e.ends_with(&format!(
                    "`{word}` is read as a boolean in YAML 1.1; quote it: \"{word}\""
                )),
            "{e}"
        );
    }
    // `true` is a boolean in every YAML: no advice.
    let e = err("application: true\nstreams: {}\n");
    assert_eq!(
        e,
        "f.yaml:1:14: expected `application` (a string), found a boolean"
    );
    // Quoted, the word is the string; as a key it is the name as written.
    let l = loaded(
        "application: \"no\"\nstreams:\n  s:\n    from: 'off'\n    steps:\n      - branch: {no: value.x < 0, yes: value.x > 0}\n  n:\n    stream: s.no\n    steps:\n      - to: \"y\"\n",
    );
    assert_eq!(l.application, "no");
    assert!(l.formats.contains_key("off"), "{:?}", l.formats);
    assert!(l.formats.contains_key("y"), "{:?}", l.formats);
    assert!(
        l.topology.describe().contains("s-no"),
        "{}",
        l.topology.describe()
    );
    assert!(
        l.topology.describe().contains("s-yes"),
        "{}",
        l.topology.describe()
    );
}

#[test]
fn a_file_that_is_not_utf8_is_located_at_its_first_bad_byte() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("latin1.yaml");
    // `é` in Latin-1 (0xE9) after three characters (one of them two bytes in UTF-8) of line 4.
    std::fs::write(
        &path,
        b"application: a\nstreams:\n  s:\n    from: t\xc3\xa4x\xe9\n",
    )
    .unwrap();
    let e = load(&path).unwrap_err();
    assert_eq!((e.line, e.column), (4, 14), "{e}");
    let shown = e.to_string();
    assert!(
        shown.starts_with(&format!(
            "{}:4:14: the file is not valid UTF-8: byte 0xe9",
            path.display()
        )),
        "{shown}"
    );
}

// ---------------------------------------------------------------- running

const PIPELINE: &str = r#"application: pipe
streams:
  orders:
    from: orders
    steps:
      - filter: value.qty > 0
        name: positive
      - map_values: '{"id": value.id, "total": double(value.qty) * value.price, "tags": value.tags}'
        name: totals
      - branch:
          big: value.total >= 100.0
        default: small
        name: size-
  big:
    stream: orders.big
    steps:
      - flat_map_values: 'value.tags.map(t, {"id": value.id, "tag": t})'
      - to: big-tags
  small:
    stream: orders.small
    steps:
      - merge: big
      - map: {key: '"all"', value: value}
      - to: all
"#;

#[test]
fn steps_run_in_the_test_driver() {
    let mut d = driver(PIPELINE);
    pipe(
        &mut d,
        "orders",
        "o1",
        json!({"id": "o1", "qty": 2, "price": 60.0, "tags": ["x", "y"]}),
    )
    .unwrap();
    pipe(
        &mut d,
        "orders",
        "o2",
        json!({"id": "o2", "qty": 1, "price": 5.5, "tags": []}),
    )
    .unwrap();
    pipe(
        &mut d,
        "orders",
        "o3",
        json!({"id": "o3", "qty": 0, "price": 5.5, "tags": []}),
    )
    .unwrap();
    assert_eq!(
        read(&mut d, "big-tags"),
        vec![
            (json!("o1"), json!({"id": "o1", "tag": "x"})),
            (json!("o1"), json!({"id": "o1", "tag": "y"})),
        ]
    );
    // `small` merged `big` as it ended: after its flat_map_values (`to` does not end a stream).
    assert_eq!(
        read(&mut d, "all"),
        vec![
            (json!("all"), json!({"id": "o1", "tag": "x"})),
            (json!("all"), json!({"id": "o1", "tag": "y"})),
            (json!("all"), json!({"id": "o2", "total": 5.5, "tags": []})),
        ]
    );
    assert!(d.topology().describe().contains("Processor: size-big"));
}

#[test]
fn a_failed_expression_is_a_process_error_for_its_record_only() {
    let mut d = driver(PIPELINE);
    // `price` is missing: the map_values expression fails; the record is reported at its sink.
    let e = pipe(&mut d, "orders", "bad", json!({"id": "bad", "qty": 1})).unwrap_err();
    match &e {
        StreamsError::Process { processor, source } => {
            assert_eq!(processor, "f.yaml:8:21 (map_values)");
            assert!(source.to_string().contains("price"), "{source}");
        }
        other => panic!("expected a process error, got {other}"),
    }
    // A failing predicate is a processing error of its record too (the handler decides), named
    // after the filter node and pointing at the expression; the next records flow as usual.
    let e = pipe(&mut d, "orders", "odd", json!({"id": "odd", "qty": "many"})).unwrap_err();
    match &e {
        StreamsError::Process { processor, source } => {
            assert_eq!(processor, "positive");
            assert!(
                source.to_string().starts_with("f.yaml:6:17 (filter)"),
                "{source}"
            );
        }
        other => panic!("expected a process error, got {other}"),
    }
    pipe(
        &mut d,
        "orders",
        "o4",
        json!({"id": "o4", "qty": 1, "price": 1.0, "tags": []}),
    )
    .unwrap();
    let all = read(&mut d, "all");
    assert_eq!(all.len(), 1, "{all:?}");
}

#[test]
fn lookups_in_co_partitioned_and_global_tables() {
    let yaml = r#"application: shop
tables:
  users: {topic: users}
  countries: {topic: countries, global: true, value: string}
streams:
  orders:
    from: orders
    steps:
      - lookup: users
        as: user
        keep: left
        value: '{"order": value.id, "user": user == null ? "unknown" : user.name}'
      - lookup: countries
        key: '"de"'
      - to: enriched
"#;
    let mut d = driver(yaml);
    pipe(&mut d, "users", "u1", json!({"name": "Ada"})).unwrap();
    d.input_topic("countries", Format::String.serde(), Format::String.serde())
        .pipe(&mut d, json!("de"), json!("Germany"))
        .unwrap();
    pipe(&mut d, "orders", "u1", json!({"id": "o1"})).unwrap();
    pipe(&mut d, "orders", "u2", json!({"id": "o2"})).unwrap();
    assert_eq!(
        read(&mut d, "enriched"),
        vec![
            (
                json!("u1"),
                json!({"order": "o1", "user": "Ada", "countries": "Germany"})
            ),
            (
                json!("u2"),
                json!({"order": "o2", "user": "unknown", "countries": "Germany"})
            ),
        ]
    );
}

#[test]
fn reduce_and_group_by_key_aggregate_per_key() {
    let yaml = r#"application: sums
streams:
  amounts:
    from: amounts
    steps:
      - group_by_key: true
      - reduce: sums
        update: '{"sum": aggregate.sum + value.sum}'
      - to_stream: true
        name: sum-updates
      - to: sums
"#;
    let mut d = driver(yaml);
    for n in [1, 2, 3] {
        pipe(&mut d, "amounts", "k", json!({"sum": n})).unwrap();
    }
    let out: Vec<Value> = read(&mut d, "sums").into_iter().map(|(_, v)| v).collect();
    assert_eq!(
        out,
        vec![json!({"sum": 1}), json!({"sum": 3}), json!({"sum": 6})]
    );
    let store: Vec<(Value, Value)> = d.read_store("sums").unwrap();
    assert_eq!(store, vec![(json!("k"), json!({"sum": 6}))]);
}

#[test]
fn avro_topics_are_decoded_to_json() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("p.avsc"),
        r#"{"type":"record","name":"P","fields":[{"name":"id","type":"string"},{"name":"price","type":"double"}]}"#,
    )
    .unwrap();
    let yaml = "application: a\nstreams:\n  p:\n    from: products\n    value: {avro: p.avsc}\n    steps:\n      - map_values: '{\"id\": value.id, \"cents\": int(value.price * 100.0)}'\n      - to: cents\n";
    let file = dir.path().join("a.yaml");
    std::fs::write(&file, yaml).unwrap();
    let l = load(&file).unwrap();
    let avro = l.formats["products"].1.clone();
    assert_eq!(
        l.formats["cents"].1,
        Format::Json,
        "computed Avro values become JSON"
    );
    let mut d = TopologyTestDriver::new(l.topology).unwrap();
    let bytes = avro
        .encode("products", &json!({"id": "p1", "price": 2.5}))
        .unwrap();
    d.input_topic("products", Format::String.serde(), Format::Json.serde())
        .pipe_bytes(&mut d, Some(b"p1"), Some(&bytes))
        .unwrap();
    assert_eq!(
        read(&mut d, "cents"),
        vec![(json!("p1"), json!({"id": "p1", "cents": 250}))]
    );
    let missing =
        err("application: a\nstreams:\n  p:\n    from: t\n    value: {avro: nope.avsc}\n");
    assert!(
        missing.starts_with("f.yaml:5:19: cannot read Avro schema nope.avsc"),
        "{missing}"
    );
}

#[test]
fn aggregates_with_an_expression_initial_value_and_weir_functions() {
    let yaml = r#"application: top
tables:
  names: {topic: names, global: true, value: string}
streams:
  views:
    from: views
    steps:
      - group_by_key: true
      - aggregate: views
        initial: '{"counts": {}}'
        update: |
          {"counts": put(aggregate.counts, value.page,
                         aggregate.counts[?value.page].orValue(0) + 1)}
      - map_values: '{"top": top(value.counts, 2)}'
      - lookup: names
        key: '"site"'
      - to: top-pages
"#;
    let mut d = driver(yaml);
    d.input_topic("names", Format::String.serde(), Format::String.serde())
        .pipe(&mut d, json!("site"), json!("Shop"))
        .unwrap();
    for page in ["a", "b", "b", "c", "c"] {
        pipe(&mut d, "views", "u1", json!({ "page": page })).unwrap();
    }
    let last = read(&mut d, "top-pages").pop().unwrap();
    assert_eq!(
        last,
        (json!("u1"), json!({"top": ["b", "c"], "names": "Shop"}))
    );
}
