//! Loading definition files from text and piping JSON records through the driver, for the
//! definition-file tests.

use serde_json::{Value, json};
use weir_engine::StreamsError;
use weir_engine::definition::{Format, Loaded, load_str};
use weir_engine::testkit::TopologyTestDriver;

/// The definition in `yaml` (named `f.yaml` in errors), which must load.
pub fn loaded(yaml: &str) -> Loaded {
    load_str(yaml, "f.yaml").unwrap_or_else(|e| panic!("{e}"))
}

/// The load error of `yaml`, which must not load.
pub fn err(yaml: &str) -> String {
    match load_str(yaml, "f.yaml") {
        Ok(_) => panic!("loaded, but expected an error"),
        Err(e) => e.to_string(),
    }
}

/// A string-keyed JSON record into `topic`.
pub fn pipe(
    d: &mut TopologyTestDriver,
    topic: &str,
    key: &str,
    value: Value,
) -> Result<(), StreamsError> {
    d.input_topic(topic, Format::String.serde(), Format::Json.serde())
        .pipe(d, json!(key), value)
}

/// Every (key, value) written to `topic` so far (a tombstone reads as `null`).
pub fn read(d: &mut TopologyTestDriver, topic: &str) -> Vec<(Value, Value)> {
    d.output_topic(topic, Format::String.serde(), Format::Json.serde())
        .read_key_values(d)
        .unwrap()
        .into_iter()
        .map(|(k, v)| (k, v.unwrap_or(Value::Null)))
        .collect()
}
