//! Records without a key, as Kafka Streams treats them: a stream keeps them (a definition
//! file's key is `null`), `select_key` re-keys them, a sink writes them without a key, and only
//! the operators that need a key (aggregations, table sources, table lookups) skip them,
//! counted in `weir_skipped_records_total{reason="null_key"}`. A Rust DSL stream whose key type
//! has no null (`String`) skips them at the source, counted the same way.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use serde_json::{Value, json};
use support::definitions::loaded;
use weir_engine::testkit::TopologyTestDriver;
use weir_engine::{Consumed, Headers, Produced, Serdes, StreamsBuilder};

const CHAT: &str = r#"application: chat
tables:
  vip: { topic: vip-users, global: true, value: string }
streams:
  all:
    from: messages
    steps:
      - to: all-messages
  by-sender:
    stream: all
    steps:
      - select_key: value.sender
      - to: messages-by-sender
  counts:
    stream: all
    steps:
      - group_by_key: true
      - count: message-counts
      - to: counts
  vip-only:
    stream: all
    steps:
      - lookup: vip
        key: key
      - to: vip-messages
"#;

fn send(d: &mut TopologyTestDriver, key: Option<&str>, value: Value) {
    let v = serde_json::to_vec(&value).unwrap();
    d.pipe_raw(
        "messages",
        key.map(str::as_bytes),
        Some(&v),
        1,
        Headers::new(),
    )
    .unwrap();
}

fn keys(d: &mut TopologyTestDriver, topic: &str) -> Vec<Option<String>> {
    d.read_raw(topic)
        .into_iter()
        .map(|r| r.key.map(|k| String::from_utf8(k).unwrap()))
        .collect()
}

/// `weir_skipped_records_total{reason="null_key"}` of `app`, per processor.
fn skipped_null_keys(text: &str, app: &str) -> std::collections::BTreeMap<String, f64> {
    let mut out = std::collections::BTreeMap::new();
    for line in text
        .lines()
        .filter(|l| l.starts_with("weir_skipped_records_total{"))
    {
        let (series, value) = line.rsplit_once(' ').unwrap();
        if !series.contains(&format!("application=\"{app}\""))
            || !series.contains("reason=\"null_key\"")
        {
            continue;
        }
        let processor = series
            .split("processor=\"")
            .nth(1)
            .and_then(|r| r.split('"').next())
            .unwrap_or("")
            .to_owned();
        let n: f64 = value.parse().unwrap();
        if n > 0.0 {
            *out.entry(processor).or_default() += n;
        }
    }
    out
}

#[test]
fn a_stream_keeps_records_without_a_key_and_only_keyed_operators_skip_them() {
    let recorder = metrics_exporter_prometheus::PrometheusBuilder::new().build_recorder();
    let handle = recorder.handle();
    metrics::with_local_recorder(&recorder, || {
        let mut d = TopologyTestDriver::new(loaded(CHAT).topology).unwrap();
        d.pipe_raw("vip-users", Some(b"u1"), Some(b"gold"), 0, Headers::new())
            .unwrap();
        send(&mut d, None, json!({"sender": "Игорь", "text": "привет"}));
        send(&mut d, Some("u1"), json!({"sender": "u1", "text": "hi"}));
        send(&mut d, None, json!({"sender": "Виктор", "text": "да"}));

        // Passed through: the unkeyed records stay unkeyed.
        assert_eq!(
            keys(&mut d, "all-messages"),
            [None, Some("u1".to_owned()), None]
        );
        // Re-keyed from the value.
        assert_eq!(
            keys(&mut d, "messages-by-sender"),
            [
                Some("Игорь".to_owned()),
                Some("u1".to_owned()),
                Some("Виктор".to_owned())
            ]
        );
        // The aggregation counts keyed records only.
        assert_eq!(keys(&mut d, "counts"), [Some("u1".to_owned())]);
        // An inner lookup with a null key matches nothing.
        assert_eq!(keys(&mut d, "vip-messages"), [Some("u1".to_owned())]);
    });
    // Two unkeyed records, each skipped by the count and by the inner lookup: counted under
    // the operator that skipped them.
    let skipped = skipped_null_keys(&handle.render(), "chat");
    assert_eq!(skipped.values().sum::<f64>(), 4.0, "{skipped:?}");
    assert_eq!(skipped.len(), 2, "two operators skipped: {skipped:?}");
    assert!(
        skipped.keys().any(|p| p.contains("AGGREGATE")),
        "{skipped:?}"
    );
}

#[test]
fn a_rust_stream_whose_key_type_has_no_null_skips_them_at_the_source() {
    let recorder = metrics_exporter_prometheus::PrometheusBuilder::new().build_recorder();
    let handle = recorder.handle();
    metrics::with_local_recorder(&recorder, || {
        let b = StreamsBuilder::new("typed");
        b.stream("in", Consumed::with(Serdes::string(), Serdes::string()))
            .to("out", Produced::with(Serdes::string(), Serdes::string()));
        let mut d = TopologyTestDriver::new(b.build().unwrap()).unwrap();
        d.pipe_raw("in", None, Some(b"no key"), 1, Headers::new())
            .unwrap();
        d.pipe_raw("in", Some(b"k"), Some(b"keyed"), 1, Headers::new())
            .unwrap();
        assert_eq!(keys(&mut d, "out"), [Some("k".to_owned())]);
    });
    let skipped = skipped_null_keys(&handle.render(), "typed");
    assert_eq!(
        skipped.into_iter().collect::<Vec<_>>(),
        [("KSTREAM-SOURCE-0000000000".to_owned(), 1.0)],
        "the source skipped it"
    );
}

#[test]
fn the_driver_s_typed_topics_take_and_give_null_keys() {
    let mut d = TopologyTestDriver::new(loaded(CHAT).topology).unwrap();
    let format = weir_engine::definition::Format::Json;
    let input = d.input_topic("messages", format.serde(), format.serde());
    input
        .pipe(&mut d, Value::Null, json!({"sender": "a", "text": "x"}))
        .unwrap();
    let out = d.output_topic("all-messages", format.serde(), format.serde());
    assert_eq!(
        out.read_key_values(&mut d).unwrap(),
        [(Value::Null, Some(json!({"sender": "a", "text": "x"})))]
    );
}
