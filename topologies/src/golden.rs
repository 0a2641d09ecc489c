//! Golden runs: recorded input records piped through the test driver, outputs compared with
//! recorded expectations. The record format is the one `weir try` reads and writes: one JSON
//! object per line, `{"key": <json>, "value": <json or null>, "timestamp": <ms>, "headers": {..}}`
//! (timestamp and headers optional; header values are UTF-8 text, `null` for a header without
//! value).
//!
//! Inputs of several topics are processed in timestamp order; ties keep the order the inputs
//! were given in, then line order.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use serde_json::Value;
use weir_engine::definition::Format as DefFormat;
use weir_engine::testkit::{DriverConfig, TopologyTestDriver};
use weir_engine::{Headers, StreamsConfig, StreamsError, Topology};

mod record;

use record::json_line_text;
pub use record::{GoldenRecord, read_jsonl, to_jsonl};

/// The one error type of this crate.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum GoldenError {
    #[error("{path}:{line}: {message}")]
    Parse {
        path: String,
        line: usize,
        message: String,
    },
    #[error("cannot read {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("topic `{topic}`: {message}")]
    Encode { topic: String, message: String },
    /// An input record that cannot go in (its key, value or timestamp), with its line.
    #[error("topic `{topic}`, line {line}: {message}")]
    Record {
        topic: String,
        line: usize,
        message: String,
    },
    #[error(transparent)]
    Streams(#[from] StreamsError),
}

/// How a topic's keys or values are encoded.
#[derive(Debug, Clone, PartialEq)]
pub enum Format {
    String,
    Json,
    I64,
    /// Output only: JSON when the bytes parse as JSON, else UTF-8 text (lossy).
    Any,
    /// A definition file's format (Avro, Schema Registry Avro), records as its JSON view.
    Definition(weir_engine::definition::Format),
}

fn encode(topic: &str, format: &Format, v: &Value) -> Result<Vec<u8>, GoldenError> {
    let err = |message: String| GoldenError::Encode {
        topic: topic.to_owned(),
        message,
    };
    match format {
        Format::String => match v {
            Value::String(s) => Ok(s.as_bytes().to_vec()),
            other => Err(err(format!("expected a JSON string, got {other}"))),
        },
        Format::Json => serde_json::to_vec(v).map_err(|e| err(e.to_string())),
        Format::I64 => v
            .as_i64()
            .map(|n| n.to_be_bytes().to_vec())
            .ok_or_else(|| err(format!("expected an integer, got {v}"))),
        Format::Any => Err(err("input topics need a declared format".into())),
        Format::Definition(f) => f.encode(topic, v).map_err(|e| err(e.to_string())),
    }
}

fn decode(topic: &str, format: &Format, b: &[u8]) -> Result<Value, GoldenError> {
    let err = |message: String| GoldenError::Encode {
        topic: topic.to_owned(),
        message,
    };
    match format {
        Format::String => std::str::from_utf8(b)
            .map(|s| Value::String(s.to_owned()))
            .map_err(|e| err(e.to_string())),
        Format::Json => serde_json::from_slice(b).map_err(|e| err(e.to_string())),
        Format::I64 => <[u8; 8]>::try_from(b)
            .map(|a| Value::from(i64::from_be_bytes(a)))
            .map_err(|_| err(format!("an i64 needs 8 bytes, got {}", b.len()))),
        Format::Any => Ok(serde_json::from_slice(b)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(b).into_owned()))),
        Format::Definition(f) => f.decode(topic, b).map_err(|e| err(e.to_string())),
    }
}

/// Whether records of `format` are JSON text (read back as their text).
fn is_json(format: &Format) -> bool {
    matches!(
        format,
        Format::Json | Format::Any | Format::Definition(DefFormat::Json)
    )
}

/// Key and value formats per topic.
pub type Formats = HashMap<String, (Format, Format)>;

/// The order records of several input topics are processed in: `(timestamp, input, line)` by
/// timestamp, ties keeping the order the inputs were given in, then line order. A record
/// without a timestamp gets `now` (as a producer stamps it); a negative one is an error (Kafka
/// Streams' default timestamp extractor rejects it).
pub fn input_order(
    inputs: &[(String, Vec<GoldenRecord>)],
    now: i64,
) -> Result<Vec<(i64, usize, usize)>, GoldenError> {
    let mut order: Vec<(i64, usize, usize)> = Vec::new();
    for (i, (topic, records)) in inputs.iter().enumerate() {
        for (j, r) in records.iter().enumerate() {
            let ts = r.timestamp.unwrap_or(now);
            if ts < 0 {
                return Err(GoldenError::Record {
                    topic: topic.clone(),
                    line: r.line.unwrap_or(j + 1),
                    message: format!(
                        "timestamp {ts} is negative (Kafka Streams' default timestamp extractor \
                         rejects it)"
                    ),
                });
            }
            order.push((ts, i, j));
        }
    }
    order.sort();
    Ok(order)
}

/// The formats of `topic` (an error when none is known).
fn formats_of(formats: &Formats, topic: &str) -> Result<(Format, Format), GoldenError> {
    formats
        .get(topic)
        .cloned()
        .ok_or_else(|| GoldenError::Encode {
            topic: topic.to_owned(),
            message: "no format known for this topic".into(),
        })
}

/// `r`'s key, value and headers as bytes in `topic`'s formats (a `null` key: no key).
#[allow(clippy::type_complexity)]
pub fn encode_record(
    topic: &str,
    formats: &Formats,
    r: &GoldenRecord,
) -> Result<(Option<Vec<u8>>, Option<Vec<u8>>, Headers), GoldenError> {
    let (kf, vf) = formats_of(formats, topic)?;
    let key = match &r.key {
        Value::Null => None,
        k => Some(encode(topic, &kf, k)?),
    };
    let value = match (&r.value, &r.value_text) {
        (Some(_), Some(text))
            if matches!(vf, Format::Json | Format::Definition(DefFormat::Json)) =>
        {
            Some(text.as_bytes().to_vec())
        }
        (v, _) => v.as_ref().map(|v| encode(topic, &vf, v)).transpose()?,
    };
    let mut headers = Headers::new();
    for (k, v) in &r.headers {
        headers.add(k.clone(), v.clone().map(String::into_bytes));
    }
    Ok((key, value, headers))
}

/// An output record of `topic` decoded in its formats; a topic of no declared format (a
/// dead-letter topic holds the bytes of records of any input) as JSON when the bytes are JSON,
/// else text.
pub fn decode_record(
    topic: &str,
    formats: &Formats,
    key: Option<&[u8]>,
    value: Option<&[u8]>,
    timestamp: i64,
    headers: &[(&str, Option<&[u8]>)],
) -> Result<GoldenRecord, GoldenError> {
    let (kf, vf) = formats_of(formats, topic).unwrap_or((Format::Any, Format::Any));
    Ok(GoldenRecord {
        key: key
            .map(|k| decode(topic, &kf, k))
            .transpose()?
            .unwrap_or(Value::Null),
        value: value.map(|v| decode(topic, &vf, v)).transpose()?,
        timestamp: Some(timestamp),
        line: None,
        value_text: value.filter(|_| is_json(&vf)).and_then(json_line_text),
        headers: headers
            .iter()
            .map(|(k, v)| {
                (
                    (*k).to_owned(),
                    v.map(|b| String::from_utf8_lossy(b).into_owned()),
                )
            })
            .collect(),
    })
}

/// Pipes `inputs` (topic, records) through `topology` and returns every output topic's records.
/// With `error_handling`, failed records go to its handlers (dead letters are output records);
/// without, the first failure is the result.
pub fn run(
    topology: Topology,
    inputs: &[(String, Vec<GoldenRecord>)],
    formats: &Formats,
    error_handling: Option<StreamsConfig>,
) -> Result<BTreeMap<String, Vec<GoldenRecord>>, GoldenError> {
    replay(topology, inputs, formats, error_handling).map(|(out, _)| out)
}

/// As [`run`], but the records written before a failure are returned with it (what a worker
/// stopped by the `fail` handler has written).
pub fn run_until_error(
    topology: Topology,
    inputs: &[(String, Vec<GoldenRecord>)],
    formats: &Formats,
    error_handling: Option<StreamsConfig>,
) -> (BTreeMap<String, Vec<GoldenRecord>>, Option<GoldenError>) {
    let config = DriverConfig {
        error_handling,
        ..DriverConfig::default()
    };
    let mut driver = match TopologyTestDriver::with_config(topology, config) {
        Ok(d) => d,
        Err(e) => return (BTreeMap::new(), Some(e.into())),
    };
    let failed = pipe_all(&mut driver, inputs, formats).err();
    match outputs(&mut driver, formats) {
        Ok(out) => (out, failed),
        Err(e) => (BTreeMap::new(), Some(failed.unwrap_or(e))),
    }
}

/// As [`run`], also handing back the driver (its stores hold the state the inputs left).
pub fn replay(
    topology: Topology,
    inputs: &[(String, Vec<GoldenRecord>)],
    formats: &Formats,
    error_handling: Option<StreamsConfig>,
) -> Result<(BTreeMap<String, Vec<GoldenRecord>>, TopologyTestDriver), GoldenError> {
    let config = DriverConfig {
        error_handling,
        ..DriverConfig::default()
    };
    let mut driver = TopologyTestDriver::with_config(topology, config)?;
    pipe_all(&mut driver, inputs, formats)?;
    let out = outputs(&mut driver, formats)?;
    Ok((out, driver))
}

fn pipe_all(
    driver: &mut TopologyTestDriver,
    inputs: &[(String, Vec<GoldenRecord>)],
    formats: &Formats,
) -> Result<(), GoldenError> {
    for (ts, i, j) in input_order(inputs, weir_engine::now_ms())? {
        let (topic, records) = &inputs[i];
        let r = &records[j];
        let at = |e: GoldenError| match (e, r.line) {
            (GoldenError::Encode { topic, message }, Some(line)) => GoldenError::Record {
                topic,
                line,
                message,
            },
            (e, _) => e,
        };
        let (key, value, headers) = encode_record(topic, formats, r).map_err(at)?;
        driver.pipe_raw(topic, key.as_deref(), value.as_deref(), ts, headers)?;
    }
    Ok(())
}

/// Every output topic's records so far, decoded.
fn outputs(
    driver: &mut TopologyTestDriver,
    formats: &Formats,
) -> Result<BTreeMap<String, Vec<GoldenRecord>>, GoldenError> {
    let mut out = BTreeMap::new();
    for topic in driver.output_topics() {
        let records = driver
            .read_raw(&topic)
            .into_iter()
            .map(|r| {
                let headers: Vec<(&str, Option<&[u8]>)> = r.headers.iter().collect();
                decode_record(
                    &topic,
                    formats,
                    r.key.as_deref(),
                    r.value.as_deref(),
                    r.timestamp,
                    &headers,
                )
            })
            .collect::<Result<Vec<_>, GoldenError>>()?;
        out.insert(topic, records);
    }
    Ok(out)
}

/// Reads `input/<topic>.jsonl` of the golden case in `dir` for each of `topics`.
pub fn read_inputs(
    dir: &Path,
    topics: &[&str],
) -> Result<Vec<(String, Vec<GoldenRecord>)>, GoldenError> {
    topics
        .iter()
        .map(|t| {
            Ok((
                (*t).to_owned(),
                read_jsonl(&dir.join("input").join(format!("{t}.jsonl")))?,
            ))
        })
        .collect()
}

/// Runs the golden case in `dir` (`input/*.jsonl` in file-name order, `expected/*.jsonl`) and
/// returns `(expected, actual)` per output topic.
#[allow(clippy::type_complexity)]
pub fn run_case(
    topology: Topology,
    dir: &Path,
    formats: &Formats,
    input_order: &[&str],
    error_handling: Option<StreamsConfig>,
) -> Result<BTreeMap<String, (Vec<GoldenRecord>, Vec<GoldenRecord>)>, GoldenError> {
    let inputs = read_inputs(dir, input_order)?;
    let mut actual = run(topology, &inputs, formats, error_handling)?;
    let expected_dir = dir.join("expected");
    let entries = std::fs::read_dir(&expected_dir).map_err(|source| GoldenError::Io {
        path: expected_dir.display().to_string(),
        source,
    })?;
    let mut out = BTreeMap::new();
    for e in entries.flatten() {
        let path = e.path();
        let Some(topic) = path.file_stem().and_then(|s| s.to_str()).map(str::to_owned) else {
            continue;
        };
        let expected = read_jsonl(&path)?;
        out.insert(
            topic.clone(),
            (expected, actual.remove(&topic).unwrap_or_default()),
        );
    }
    for (topic, records) in actual {
        out.insert(topic, (Vec::new(), records));
    }
    Ok(out)
}
