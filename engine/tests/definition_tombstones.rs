//! An expression's `null` value is a tombstone, as a Java `null` is in Kafka Streams: a sink
//! writes it without a value, a table deletes the row. How a definition file deletes a row.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use serde_json::{Value, json};
use support::definitions::loaded;
use weir_engine::Headers;
use weir_engine::testkit::TopologyTestDriver;

const WORDS: &str = r#"application: words
tables:
  forbidden: { topic: forbidden-words-table, global: true, value: string }
streams:
  changes:
    from: forbidden_words
    steps:
      - select_key: value.word
  table-feed:
    stream: changes
    steps:
      - map_values: 'value.action == "add" ? "forbidden" : null'
      - to: forbidden-words-table
        value: string
  counts:
    stream: changes
    steps:
      - group_by_key: true
        repartition: by-word
      - aggregate: word-state
        initial: 0
        update: 'value.action == "add" ? value.action : null'
      - to: word-state
"#;

fn change(d: &mut TopologyTestDriver, action: &str, word: &str) {
    let v = serde_json::to_vec(&json!({"action": action, "word": word})).unwrap();
    d.pipe_raw("forbidden_words", None, Some(&v), 1, Headers::new())
        .unwrap();
}

#[test]
fn a_null_value_is_a_tombstone_that_deletes_the_row() {
    let mut d = TopologyTestDriver::new(loaded(WORDS).topology).unwrap();
    change(&mut d, "add", "дурак");
    change(&mut d, "add", "scam");
    change(&mut d, "remove", "дурак");
    let table_feed: Vec<(String, Option<String>)> = d
        .read_raw("forbidden-words-table")
        .into_iter()
        .map(|r| {
            (
                String::from_utf8(r.key.unwrap()).unwrap(),
                r.value.map(|v| String::from_utf8(v).unwrap()),
            )
        })
        .collect();
    assert_eq!(
        table_feed,
        [
            ("дурак".to_owned(), Some("forbidden".to_owned())),
            ("scam".to_owned(), Some("forbidden".to_owned())),
            ("дурак".to_owned(), None),
        ]
    );
    let raw = d.read_raw("word-state");
    assert_eq!(raw.len(), 3);
    assert!(raw[2].value.is_none(), "the removal is a tombstone");
    // The global table the topic fills and the aggregate's store hold only what is left.
    let table: Vec<(Value, Value)> = d.read_store("forbidden").unwrap();
    assert_eq!(table, [(json!("scam"), json!("forbidden"))]);
    let state: Vec<(Value, Value)> = d.read_store("word-state").unwrap();
    assert_eq!(state, [(json!("scam"), json!("add"))]);
}
