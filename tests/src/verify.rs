//! The verifier of the reliability suite: given the input a test produced and the records a
//! topology wrote, it computes the expected result on its own (never through weir's code) and
//! reports what was lost, duplicated, wrong or unexpected, in the manner of Kafka's streams
//! system tests: [`Verdict`] prints `ALL-RECORDS-DELIVERED` or what is missing.
//!
//! * [`expect_products`]: product-filter — every valid product whose id is not forbidden comes
//!   out with its value unchanged (the same bytes or the same JSON value); nothing else does.
//! * [`expect_latest`]: a keyed table's final values (per-user counts, aggregates) — the last
//!   record per key in the output must equal the independently computed value; with
//!   `at_least_once` a count may exceed it ([`Verdict::store_over`]) but never fall short.
//!
//! Output must be read as the guarantee demands: read_committed, abort markers decoded by the
//! harness where the broker does not filter them (`consume_all(..).read_committed()`).

use std::collections::{BTreeMap, HashMap};
use std::fmt;

use crate::Consumed;

/// How many lost or wrong keys a verdict names (the counts are always complete).
const SAMPLE: usize = 10;

/// What a run's output is, against what it should be.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Verdict {
    /// Records (or keys) that should have come out.
    pub expected: usize,
    /// Distinct expected records that came out.
    pub delivered: usize,
    pub lost: usize,
    /// Copies beyond the first of an expected record.
    pub duplicated: usize,
    /// Expected keys that came out with another value.
    pub wrong: usize,
    /// Records that should never have come out (a forbidden product, an unknown key).
    pub unexpected: usize,
    /// Table keys whose final value is larger than expected (allowed under at-least-once).
    pub store_over: usize,
    /// Up to [`SAMPLE`] keys of each problem, with what was seen.
    pub samples: Vec<String>,
}

impl Verdict {
    /// Nothing lost, duplicated, wrong or unexpected (exactly once).
    pub fn exact(&self) -> bool {
        self.lost == 0
            && self.duplicated == 0
            && self.wrong == 0
            && self.unexpected == 0
            && self.store_over == 0
    }

    /// Nothing lost, wrong or unexpected; duplicates and over-counts allowed (at least once).
    pub fn at_least_once(&self) -> bool {
        self.lost == 0 && self.wrong == 0 && self.unexpected == 0
    }

    fn sample(&mut self, what: fmt::Arguments<'_>) {
        if self.samples.len() < SAMPLE * 4 {
            self.samples.push(what.to_string());
        }
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.lost == 0 && self.wrong == 0 && self.unexpected == 0 {
            write!(f, "ALL-RECORDS-DELIVERED")?;
        } else {
            write!(f, "NOT-ALL-RECORDS-DELIVERED")?;
        }
        write!(
            f,
            ": expected {}, delivered {}, lost {}, duplicated {}, wrong {}, unexpected {}",
            self.expected, self.delivered, self.lost, self.duplicated, self.wrong, self.unexpected
        )?;
        if self.store_over > 0 {
            write!(f, ", over-counted keys {}", self.store_over)?;
        }
        for s in &self.samples {
            write!(f, "\n  {s}")?;
        }
        Ok(())
    }
}

/// One input record of a record-at-a-time topology: its key and value bytes.
pub type Input = (Vec<u8>, Vec<u8>);

/// product-filter's verdict: `inputs` are the products produced (key = id, value = JSON),
/// `passes` says which must come out (valid and not forbidden; worked out by the test from its
/// own generator, not by weir). An output record must carry its input's value unchanged.
pub fn expect_products(
    inputs: &[Input],
    passes: impl Fn(&[u8], &[u8]) -> bool,
    output: &[Consumed],
) -> Verdict {
    let mut v = Verdict::default();
    let mut want: HashMap<&[u8], (&[u8], bool)> = HashMap::with_capacity(inputs.len());
    for (k, val) in inputs {
        let pass = passes(k, val);
        want.insert(k.as_slice(), (val.as_slice(), pass));
    }
    v.expected = want.values().filter(|(_, pass)| *pass).count();
    let mut seen: HashMap<&[u8], usize> = HashMap::new();
    for r in output {
        let key = r.key.as_deref().unwrap_or_default();
        match want.get(key) {
            Some((value, true)) => {
                if !r.value.as_deref().is_some_and(|got| same_value(got, value)) {
                    v.wrong += 1;
                    v.sample(format_args!(
                        "wrong value for {} at {}/{}",
                        show(key),
                        r.partition,
                        r.offset
                    ));
                }
                let n = seen.entry(key).or_default();
                *n += 1;
                if *n > 1 {
                    v.duplicated += 1;
                }
            }
            _ => {
                v.unexpected += 1;
                v.sample(format_args!(
                    "unexpected {} at {}/{}",
                    show(key),
                    r.partition,
                    r.offset
                ));
            }
        }
    }
    v.delivered = seen.len();
    v.lost = v.expected - v.delivered;
    let mut lost: Vec<&[u8]> = want
        .iter()
        .filter(|(k, (_, pass))| *pass && !seen.contains_key(*k))
        .map(|(k, _)| *k)
        .collect();
    lost.sort_unstable();
    for k in lost.into_iter().take(SAMPLE) {
        v.sample(format_args!("lost {}", show(k)));
    }
    v
}

/// A table's verdict from its changelog or output topic: the last value per key in `output`
/// (by partition and offset) against `expected`, both decoded by `decode` into a number that
/// can only grow under replays (a count, a sum of positive values). Lower is lost, higher is
/// an over-count (`store_over`: fine under at-least-once, wrong under exactly-once), a key not
/// in `expected` is unexpected.
pub fn expect_latest(
    expected: &BTreeMap<String, i64>,
    output: &[Consumed],
    decode: impl Fn(&[u8]) -> Option<i64>,
) -> Verdict {
    let mut last: BTreeMap<String, (i32, i64, Option<i64>)> = BTreeMap::new();
    let mut v = Verdict {
        expected: expected.len(),
        ..Verdict::default()
    };
    for r in output {
        let key = String::from_utf8_lossy(r.key.as_deref().unwrap_or_default()).into_owned();
        let value = r.value.as_deref().and_then(&decode);
        let newer = last
            .get(&key)
            .is_none_or(|(p, o, _)| (r.partition, r.offset) > (*p, *o));
        if newer {
            last.insert(key, (r.partition, r.offset, value));
        }
    }
    for (key, want) in expected {
        match last.get(key) {
            Some((_, _, Some(got))) if got == want => v.delivered += 1,
            Some((_, _, Some(got))) if got > want => {
                v.delivered += 1;
                v.store_over += 1;
                v.sample(format_args!("{key}: {got}, expected {want}"));
            }
            Some((_, _, got)) => {
                v.lost += 1;
                v.sample(format_args!("{key}: {got:?}, expected {want}"));
            }
            None => {
                v.lost += 1;
                v.sample(format_args!("{key}: never written, expected {want}"));
            }
        }
    }
    for key in last.keys().filter(|k| !expected.contains_key(*k)) {
        v.unexpected += 1;
        v.sample(format_args!("unexpected key {key}"));
    }
    v
}

/// Whether an output value is its input's: the same bytes, or the same JSON value (a topology
/// that decodes and re-encodes a record may order fields or write numbers differently).
pub fn same_value(got: &[u8], want: &[u8]) -> bool {
    got == want
        || matches!(
            (
                serde_json::from_slice::<serde_json::Value>(got),
                serde_json::from_slice::<serde_json::Value>(want),
            ),
            (Ok(a), Ok(b)) if a == b
        )
}

fn show(key: &[u8]) -> String {
    String::from_utf8_lossy(key).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(partition: i32, offset: i64, k: &str, v: &[u8]) -> Consumed {
        Consumed {
            partition,
            offset,
            key: Some(k.as_bytes().to_vec()),
            value: Some(v.to_vec()),
            headers: Vec::new(),
            timestamp: None,
        }
    }

    fn inputs() -> Vec<Input> {
        (0..5)
            .map(|i| (format!("p{i}").into_bytes(), format!("v{i}").into_bytes()))
            .collect()
    }

    /// p3 is forbidden.
    fn passes(k: &[u8], _: &[u8]) -> bool {
        k != b"p3"
    }

    #[test]
    fn a_complete_output_is_all_delivered() {
        let out: Vec<_> = [0, 1, 2, 4]
            .iter()
            .map(|i| rec(0, *i, &format!("p{i}"), format!("v{i}").as_bytes()))
            .collect();
        let v = expect_products(&inputs(), passes, &out);
        assert!(v.exact(), "{v}");
        assert!(v.to_string().starts_with("ALL-RECORDS-DELIVERED"));
    }

    #[test]
    fn losses_duplicates_wrong_values_and_forbidden_records_are_each_counted() {
        let out = vec![
            rec(0, 0, "p0", b"v0"),
            rec(0, 1, "p0", b"v0"),
            rec(0, 2, "p1", b"changed"),
            rec(0, 3, "p3", b"v3"),
        ];
        let v = expect_products(&inputs(), passes, &out);
        assert_eq!(
            (
                v.expected,
                v.delivered,
                v.lost,
                v.duplicated,
                v.wrong,
                v.unexpected
            ),
            (4, 2, 2, 1, 1, 1)
        );
        let text = v.to_string();
        assert!(text.starts_with("NOT-ALL-RECORDS-DELIVERED"), "{text}");
        assert!(
            text.contains("lost p2") && text.contains("lost p4"),
            "{text}"
        );
    }

    #[test]
    fn the_last_value_per_key_decides_a_table() {
        let expected: BTreeMap<String, i64> =
            [("a".into(), 2), ("b".into(), 1), ("c".into(), 3)].into();
        let n = |v: &[u8]| std::str::from_utf8(v).ok()?.parse().ok();
        let out = vec![
            rec(0, 0, "a", b"1"),
            rec(0, 1, "a", b"2"),
            rec(1, 0, "b", b"2"),
            rec(1, 1, "c", b"1"),
            rec(1, 2, "z", b"1"),
        ];
        let v = expect_latest(&expected, &out, n);
        assert_eq!(
            (v.delivered, v.store_over, v.lost, v.unexpected),
            (2, 1, 1, 1)
        );
        assert!(v.at_least_once() || v.lost > 0);
        assert!(!v.exact());
    }
}
