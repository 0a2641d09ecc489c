//! Definition-file features beyond the basic steps: `validate` (invalid records are errors for
//! the handlers), `lookup` with `keys:` (many keys in a global table), a lookup in the table a
//! stream above ends in, the `config:` section, branches taking tombstones and Unicode text in
//! expressions.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use serde_json::json;
use support::definitions::{err, loaded, pipe, read};
use weir_engine::definition::Format;
use weir_engine::testkit::{DriverConfig, TopologyTestDriver};
use weir_engine::{StreamsConfig, StreamsError};

const VALIDATE: &str = r#"application: shop
config:
  processing.exception.handler: dead_letter
  dead.letter.topic: bad-orders
streams:
  orders:
    from: orders
    steps:
      - validate: value.qty > 0
        error: '"qty must be positive, got " + string(value.qty)'
        name: valid-orders
      - to: good-orders
"#;

#[test]
fn validate_sends_invalid_records_to_the_handler_with_the_error_text() {
    let l = loaded(VALIDATE);
    assert_eq!(
        l.config,
        vec![
            (
                "processing.exception.handler".to_owned(),
                "dead_letter".to_owned()
            ),
            ("dead.letter.topic".to_owned(), "bad-orders".to_owned()),
        ]
    );
    let config = DriverConfig {
        error_handling: Some(l.streams_config().unwrap()),
        ..DriverConfig::default()
    };
    let mut d = TopologyTestDriver::with_config(l.topology, config).unwrap();
    pipe(&mut d, "orders", "o1", json!({"qty": 2})).unwrap();
    pipe(&mut d, "orders", "o2", json!({"qty": 0})).unwrap();
    // The predicate itself fails (no `qty`): an error of the record as well.
    pipe(&mut d, "orders", "o3", json!({"n": 1})).unwrap();
    // The predicate fails on a type (text where a number is expected): the step's message and
    // the reason both reach the dead letter.
    pipe(&mut d, "orders", "o4", json!({"qty": "two"})).unwrap();
    assert_eq!(
        read(&mut d, "good-orders"),
        vec![(json!("o1"), json!({"qty": 2}))]
    );
    let dead = d.read_raw("bad-orders");
    assert_eq!(dead.len(), 3);
    assert_eq!(dead[0].value.as_deref(), Some(&b"{\"qty\":0}"[..]));
    let e0 = String::from_utf8_lossy(dead[0].headers.last("weir.error").unwrap()).into_owned();
    assert!(e0.ends_with("qty must be positive, got 0"), "{e0}");
    let e1 = String::from_utf8_lossy(dead[1].headers.last("weir.error").unwrap()).into_owned();
    assert!(e1.contains("f.yaml:9:19"), "{e1}");
    let e2 = String::from_utf8_lossy(dead[2].headers.last("weir.error").unwrap()).into_owned();
    assert!(
        e2.contains("qty must be positive, got two (the check failed: f.yaml:9:19"),
        "{e2}"
    );
}

#[test]
fn without_handlers_an_invalid_record_is_the_pipe_calls_error() {
    let mut d = TopologyTestDriver::new(loaded(VALIDATE).topology).unwrap();
    let e = pipe(&mut d, "orders", "o2", json!({"qty": 0})).unwrap_err();
    assert!(matches!(e, StreamsError::Process { .. }), "{e}");
    // skip-and-count
    let config = DriverConfig {
        error_handling: Some(
            StreamsConfig::new("shop")
                .with("processing.exception.handler", "log_and_continue")
                .unwrap(),
        ),
        ..DriverConfig::default()
    };
    let mut d = TopologyTestDriver::with_config(loaded(VALIDATE).topology, config).unwrap();
    pipe(&mut d, "orders", "o2", json!({"qty": 0})).unwrap();
    assert_eq!(d.skipped_records(), 1);
    assert!(read(&mut d, "good-orders").is_empty());
}

#[test]
fn config_errors_point_at_the_value() {
    let e = err("application: a\nconfig:\n  processing.guarantee: twice\nstreams: {}\n");
    assert!(e.starts_with("f.yaml:3:25:"), "{e}");
    assert!(e.contains("processing.guarantee"), "{e}");
}

#[test]
fn a_keys_lookup_sees_every_row_found() {
    let yaml = r#"application: chat
tables:
  bad: {topic: bad-words, global: true, value: string}
streams:
  messages:
    from: messages
    steps:
      - lookup: bad
        keys: words(value.text)
        value: '{"text": mask(value.text, bad), "why": bad}'
        name: mask
      - to: clean
"#;
    let mut d = TopologyTestDriver::new(loaded(yaml).topology).unwrap();
    let words = d.input_topic("bad-words", Format::String.serde(), Format::String.serde());
    words.pipe(&mut d, json!("darn"), json!("mild")).unwrap();
    words.pipe(&mut d, json!("heck"), json!("milder")).unwrap();
    pipe(
        &mut d,
        "messages",
        "m1",
        json!({"text": "Darn, heck, DARN!"}),
    )
    .unwrap();
    pipe(&mut d, "messages", "m2", json!({"text": "fine"})).unwrap();
    words.pipe_tombstone(&mut d, json!("darn")).unwrap();
    pipe(&mut d, "messages", "m3", json!({"text": "darn heck"})).unwrap();
    assert_eq!(
        read(&mut d, "clean"),
        vec![
            (
                json!("m1"),
                json!({"text": "****, ****, ****!", "why": {"darn": "mild", "heck": "milder"}})
            ),
            (json!("m2"), json!({"text": "fine", "why": {}})),
            (
                json!("m3"),
                json!({"text": "darn ****", "why": {"heck": "milder"}})
            ),
        ]
    );
    // A `keys:` expression that fails (no `text`) is an error of the record, not a panic.
    let e = pipe(&mut d, "messages", "m4", json!({"body": "x"})).unwrap_err();
    assert!(e.to_string().contains("f.yaml:9:15"), "{e}");
}

#[test]
fn keys_lookup_mistakes_are_located() {
    let base = "application: a\ntables:\n  t: {topic: t, global: true}\n  l: {topic: l}\nstreams:\n  s:\n    from: s\n    steps:\n";
    let e = err(&format!(
        "{base}      - lookup: t\n        key: value.a\n        keys: '[value.a]'\n"
    ));
    assert!(e.contains("not both"), "{e}");
    let e = err(&format!(
        "{base}      - lookup: l\n        keys: '[value.a]'\n"
    ));
    assert!(e.starts_with("f.yaml:10:15:"), "{e}");
    let e = err(&format!(
        "{base}      - lookup: t\n        keys: '[value.a]'\n        keep: inner\n"
    ));
    assert!(e.contains("remove `keep`"), "{e}");
}

#[test]
fn a_lookup_in_the_table_a_stream_above_ends_in() {
    let yaml = r#"application: shop
streams:
  totals:
    from: payments
    steps:
      - group_by_key: true
      - reduce: totals
        update: 'aggregate + value'
  orders:
    from: orders
    steps:
      - lookup: totals
        keep: left
        value: '{"order": value, "paid": totals}'
      - to: enriched
"#;
    let mut d = TopologyTestDriver::new(loaded(yaml).topology).unwrap();
    pipe(&mut d, "payments", "u1", json!(5)).unwrap();
    pipe(&mut d, "payments", "u1", json!(7)).unwrap();
    pipe(&mut d, "orders", "u1", json!("o1")).unwrap();
    pipe(&mut d, "orders", "u2", json!("o2")).unwrap();
    assert_eq!(
        read(&mut d, "enriched"),
        vec![
            (json!("u1"), json!({"order": "o1", "paid": 12})),
            (json!("u2"), json!({"order": "o2", "paid": null})),
        ]
    );
    // A stream that does not end in a table cannot be looked up.
    let e = err(
        "application: a\nstreams:\n  x:\n    from: x\n    steps:\n      - to: out\n  s:\n    from: s\n    steps:\n      - lookup: x\n",
    );
    assert!(e.starts_with("f.yaml:10:17:"), "{e}");
    assert!(e.contains("not a table here"), "{e}");
}

const TOMBSTONES: &str = r#"application: shop
streams:
  orders:
    from: orders
    steps:
      - branch:
          big: value.total >= 100.0
          small: {when: value.total < 10.0, tombstones: true}
          deleted: {tombstones: false, when: 'value.total == -1.0'}
        default: medium
        name: size-
  big:
    stream: orders.big
    steps:
      - to: big
  small:
    stream: orders.small
    steps:
      - to: small
  medium:
    stream: orders.medium
    steps:
      - to: medium
"#;

fn tombstone(d: &mut TopologyTestDriver, topic: &str, key: &str) {
    d.input_topic(topic, Format::String.serde(), Format::Json.serde())
        .pipe_tombstone(d, json!(key))
        .unwrap();
}

#[test]
fn a_branch_with_tombstones_true_takes_them_without_its_predicate() {
    let mut d = TopologyTestDriver::new(loaded(TOMBSTONES).topology).unwrap();
    pipe(&mut d, "orders", "o1", json!({"total": 150.0})).unwrap();
    pipe(&mut d, "orders", "o2", json!({"total": 5.0})).unwrap();
    pipe(&mut d, "orders", "o3", json!({"total": 50.0})).unwrap();
    // `value.total` of a null value would fail; the predicate is not evaluated.
    tombstone(&mut d, "orders", "o4");
    assert_eq!(
        read(&mut d, "big"),
        vec![(json!("o1"), json!({"total": 150.0}))]
    );
    assert_eq!(
        read(&mut d, "small"),
        vec![
            (json!("o2"), json!({"total": 5.0})),
            (json!("o4"), json!(null))
        ]
    );
    assert_eq!(
        read(&mut d, "medium"),
        vec![(json!("o3"), json!({"total": 50.0}))]
    );
}

#[test]
fn without_tombstones_true_a_tombstone_goes_to_the_default_branch() {
    let yaml = TOMBSTONES.replace(", tombstones: true}", "}");
    let mut d = TopologyTestDriver::new(loaded(&yaml).topology).unwrap();
    tombstone(&mut d, "orders", "o4");
    assert!(read(&mut d, "small").is_empty());
    assert_eq!(read(&mut d, "medium"), vec![(json!("o4"), json!(null))]);
    // A branch of tombstones only needs no predicate.
    let yaml = TOMBSTONES.replace(
        "small: {when: value.total < 10.0, tombstones: true}",
        "small: {tombstones: true}",
    );
    let mut d = TopologyTestDriver::new(loaded(&yaml).topology).unwrap();
    pipe(&mut d, "orders", "o2", json!({"total": 5.0})).unwrap();
    tombstone(&mut d, "orders", "o4");
    assert_eq!(read(&mut d, "small"), vec![(json!("o4"), json!(null))]);
    assert_eq!(
        read(&mut d, "medium"),
        vec![(json!("o2"), json!({"total": 5.0}))]
    );
}

#[test]
fn branch_mapping_mistakes_are_located() {
    let e = err(&TOMBSTONES.replace("tombstones: true}", "tombstone: true}"));
    assert_eq!(
        e,
        "f.yaml:8:45: unknown key `tombstone` in branch `small` (`when` and `tombstones`); did you mean `tombstones`?"
    );
    let e = err(&TOMBSTONES.replace("{when: value.total < 10.0,", "{wen: value.total < 10.0,"));
    assert_eq!(
        e,
        "f.yaml:8:19: unknown key `wen` in branch `small` (`when` and `tombstones`); did you mean `when`?"
    );
    let e = err(&TOMBSTONES.replace("{tombstones: false, when:", "{tombstones: true, when:"));
    assert!(
        e.starts_with("f.yaml:9:20: branch `deleted` takes tombstones, but branch `small` (line 8) already does"),
        "{e}"
    );
    let e = err(&TOMBSTONES.replace(
        "{tombstones: false, when: 'value.total == -1.0'}",
        "{tombstones: false}",
    ));
    assert_eq!(
        e,
        "f.yaml:9:20: branch `deleted` needs `when:` (its predicate), unless it takes only tombstones (`tombstones: true`)"
    );
    // A typo in a branch of tombstones only is the typo's error, not a missing `when`.
    let e = err(&TOMBSTONES.replace(
        "{when: value.total < 10.0, tombstones: true}",
        "{tombstnes: true}",
    ));
    assert_eq!(
        e,
        "f.yaml:8:19: unknown key `tombstnes` in branch `small` (`when` and `tombstones`); did you mean `tombstones`?"
    );
    let e = err(&TOMBSTONES.replace("tombstones: true}", "tombstones: yes please}"));
    assert!(
        e.starts_with("f.yaml:8:57: expected `tombstones`: true or false"),
        "{e}"
    );
}

#[test]
fn unicode_text_is_lowered_and_masked_in_any_script() {
    let yaml = r#"application: chat
streams:
  messages:
    from: messages
    steps:
      - map_values: |
          {"lower": lower(value.text), "upper": upper(value.text),
           "ascii": value.text.lowerAscii(), "words": words(value.text),
           "masked": mask(value.text, ["дурак", "strasse"])}
      - to: out
"#;
    let mut d = TopologyTestDriver::new(loaded(yaml).topology).unwrap();
    pipe(
        &mut d,
        "messages",
        "m1",
        json!({"text": "Ты ДУРАК! Straße"}),
    )
    .unwrap();
    assert_eq!(
        read(&mut d, "out"),
        vec![(
            json!("m1"),
            json!({
                "lower": "ты дурак! straße",
                "upper": "ТЫ ДУРАК! STRASSE",
                "ascii": "Ты ДУРАК! straße",
                "words": ["ты", "дурак", "straße"],
                "masked": "Ты *****! ******",
            })
        )]
    );
}
