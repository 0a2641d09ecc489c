//! Golden runs: recorded input records piped through the test driver, outputs compared with
//! recorded expectations. The record format is the one `weir try` reads and writes: one JSON
//! object per line, `{"key": <json>, "value": <json or null>, "timestamp": <ms>}`.
//!
//! Inputs of several topics are processed in timestamp order; ties keep the order the inputs
//! were given in, then line order.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use weir_engine::testkit::TopologyTestDriver;
use weir_engine::{Headers, StreamsError, Topology};

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
    #[error(transparent)]
    Streams(#[from] StreamsError),
}

/// How a topic's keys or values are encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    String,
    Json,
    I64,
}

/// One record of a golden file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GoldenRecord {
    pub key: Value,
    pub value: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<i64>,
}

/// Reads a `.jsonl` file of records.
pub fn read_jsonl(path: &Path) -> Result<Vec<GoldenRecord>, GoldenError> {
    let text = std::fs::read_to_string(path).map_err(|source| GoldenError::Io {
        path: path.display().to_string(),
        source,
    })?;
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            serde_json::from_str(l).map_err(|e| GoldenError::Parse {
                path: path.display().to_string(),
                line: i + 1,
                message: e.to_string(),
            })
        })
        .collect()
}

/// Writes records as `.jsonl` text.
pub fn to_jsonl(records: &[GoldenRecord]) -> String {
    records
        .iter()
        .map(|r| serde_json::to_string(r).unwrap_or_default() + "\n")
        .collect()
}

fn encode(topic: &str, format: Format, v: &Value) -> Result<Vec<u8>, GoldenError> {
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
    }
}

fn decode(topic: &str, format: Format, b: &[u8]) -> Result<Value, GoldenError> {
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
    }
}

/// Key and value formats per topic.
pub type Formats = HashMap<String, (Format, Format)>;

/// Pipes `inputs` (topic, records) through `topology` and returns every output topic's records.
pub fn run(
    topology: Topology,
    inputs: &[(String, Vec<GoldenRecord>)],
    formats: &Formats,
) -> Result<BTreeMap<String, Vec<GoldenRecord>>, GoldenError> {
    let fmt = |topic: &str| {
        formats
            .get(topic)
            .copied()
            .ok_or_else(|| GoldenError::Encode {
                topic: topic.to_owned(),
                message: "no format known for this topic".into(),
            })
    };
    let mut order: Vec<(i64, usize, usize)> = Vec::new();
    for (i, (_, records)) in inputs.iter().enumerate() {
        for (j, r) in records.iter().enumerate() {
            order.push((r.timestamp.unwrap_or(0), i, j));
        }
    }
    order.sort();
    let mut driver = TopologyTestDriver::new(topology)?;
    for (ts, i, j) in order {
        let (topic, records) = &inputs[i];
        let r = &records[j];
        let (kf, vf) = fmt(topic)?;
        let key = encode(topic, kf, &r.key)?;
        let value = r.value.as_ref().map(|v| encode(topic, vf, v)).transpose()?;
        driver.pipe_raw(topic, Some(&key), value.as_deref(), ts, Headers::new())?;
    }
    let mut out = BTreeMap::new();
    for topic in driver.output_topics() {
        let (kf, vf) = fmt(&topic)?;
        let records = driver
            .read_raw(&topic)
            .into_iter()
            .map(|r| {
                Ok(GoldenRecord {
                    key: decode(&topic, kf, r.key.as_deref().unwrap_or_default())?,
                    value: r
                        .value
                        .as_deref()
                        .map(|v| decode(&topic, vf, v))
                        .transpose()?,
                    timestamp: Some(r.timestamp),
                })
            })
            .collect::<Result<Vec<_>, GoldenError>>()?;
        out.insert(topic, records);
    }
    Ok(out)
}

/// Runs the golden case in `dir` (`input/*.jsonl` in file-name order, `expected/*.jsonl`) and
/// returns `(expected, actual)` per output topic.
#[allow(clippy::type_complexity)]
pub fn run_case(
    topology: Topology,
    dir: &Path,
    formats: &Formats,
    input_order: &[&str],
) -> Result<BTreeMap<String, (Vec<GoldenRecord>, Vec<GoldenRecord>)>, GoldenError> {
    let inputs = input_order
        .iter()
        .map(|t| {
            Ok((
                (*t).to_owned(),
                read_jsonl(&dir.join("input").join(format!("{t}.jsonl")))?,
            ))
        })
        .collect::<Result<Vec<_>, GoldenError>>()?;
    let mut actual = run(topology, &inputs, formats)?;
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
