//! The window store's randomized contract case: thousands of seeded operations (puts, deletes,
//! stream-time moves, commits, every query) on a store stack and on a plain `BTreeMap` model of
//! Kafka Streams' semantics, compared after every step.

use std::collections::BTreeMap;

use weir_state::{KeyValueStore, Offsets, WindowStoreConfig};

use super::Fixture;
use super::cases::settle;
use super::scans::Rng;
use super::windows::{CONFIG, DUPLICATES, open, raw_keys, segment_prefix};

/// Windows by (key, start), each with its values in the order they were put.
struct Model {
    config: WindowStoreConfig,
    observed: Option<i64>,
    windows: BTreeMap<(Vec<u8>, i64), Vec<Vec<u8>>>,
}

impl Model {
    fn segment(&self, t: i64) -> i64 {
        t.div_euclid(self.config.segment_interval_ms)
    }

    fn live_from(&self) -> Option<i64> {
        let live = i128::from(self.observed?) - i128::from(self.config.retention_ms) + 1;
        i64::try_from(live).ok()
    }

    fn live(&self, start: i64) -> bool {
        self.live_from().is_none_or(|from| start >= from)
    }

    fn segment_live(&self, start: i64) -> bool {
        self.live_from()
            .is_none_or(|from| self.segment(start) >= self.segment(from))
    }

    fn observe(&mut self, t: i64) {
        self.observed = Some(self.observed.map_or(t, |o| o.max(t)));
    }

    fn put(&mut self, key: &[u8], start: i64, value: Option<Vec<u8>>) -> bool {
        if self.config.retain_duplicates && value.is_none() {
            return self.segment_live(start);
        }
        self.observe(start);
        if !self.segment_live(start) {
            return false;
        }
        let slot = (key.to_vec(), start);
        match value {
            Some(v) if self.config.retain_duplicates => {
                self.windows.entry(slot).or_default().push(v)
            }
            Some(v) => {
                self.windows.insert(slot, vec![v]);
            }
            None => {
                self.windows.remove(&slot);
            }
        }
        true
    }

    /// Live windows of keys in `[kf, kt]` starting in `[from, to]`, in the store's order:
    /// start, key, insertion.
    fn scan(&self, kf: &[u8], kt: &[u8], from: i64, to: i64) -> Vec<(Vec<u8>, i64, Vec<u8>)> {
        let mut out: Vec<_> = self
            .windows
            .iter()
            .filter(|((k, _), _)| kf <= k.as_slice() && k.as_slice() <= kt)
            .filter(|((_, s), _)| from <= *s && *s <= to && self.live(*s))
            .flat_map(|((k, s), values)| values.iter().map(move |v| (k.clone(), *s, v.clone())))
            .collect();
        out.sort_by_key(|(k, s, _)| (*s, k.clone()));
        out
    }

    fn fetch_range(&self, key: &[u8], from: i64, to: i64) -> Vec<(i64, Vec<u8>)> {
        self.scan(key, key, from, to)
            .into_iter()
            .map(|(_, s, v)| (s, v))
            .collect()
    }
}

pub fn randomized_against_a_model<F: Fixture>() {
    run::<F>(CONFIG, 0x2545_f491_4f6c_dd1d);
}

pub fn randomized_duplicates_against_a_model<F: Fixture>() {
    run::<F>(DUPLICATES, 0x9e37_79b9_7f4a_7c15);
}

fn run<F: Fixture>(config: WindowStoreConfig, seed: u64) {
    let mut f = F::new();
    let (mut kv, mut w) = open(&mut f, config);
    let mut model = Model {
        config,
        observed: None,
        windows: BTreeMap::new(),
    };
    let mut rng = Rng(seed);
    // Stream time starts negative and drifts up through many segments.
    let mut now: i64 = -500;
    for step in 0..4_000u32 {
        now += rng.below(4) as i64;
        let key = rng.key();
        let start = now - 130 + rng.below(150) as i64;
        let time = |rng: &mut Rng| now - 250 + rng.below(300) as i64;
        match rng.below(12) {
            0..=4 => {
                let value = step.to_be_bytes().to_vec();
                let stored = w.put(&mut kv, &key, start, Some(&value)).unwrap();
                assert_eq!(stored, model.put(&key, start, Some(value)), "put at {step}");
            }
            5 => {
                let stored = w.put(&mut kv, &key, start, None).unwrap();
                assert_eq!(stored, model.put(&key, start, None), "delete at {step}");
            }
            6 => {
                w.observe(&mut kv, now).unwrap();
                model.observe(now);
            }
            7 => kv.commit(Offsets::from([(0, i64::from(step))])).unwrap(),
            8 => {
                let expected = model.fetch_range(&key, start, start).into_iter().next();
                let got = w.fetch(&kv, &key, start).unwrap();
                assert_eq!(
                    got,
                    expected.map(|(_, v)| v),
                    "fetch {key:?}@{start} at {step}"
                );
            }
            _ => {
                let (from, to) = (time(&mut rng), time(&mut rng));
                let mut expected = model.fetch_range(&key, from, to);
                let got = w.fetch_range(&kv, &key, from, to).unwrap();
                assert_eq!(got, expected, "fetch_range {key:?} {from}..={to} at {step}");
                expected.reverse();
                let got = w.backward_fetch_range(&kv, &key, from, to).unwrap();
                assert_eq!(got, expected, "backward {key:?} {from}..={to} at {step}");
            }
        }
        settle::<F>(&mut kv);
        assert_eq!(
            w.observed_stream_time(),
            model.observed.unwrap_or(i64::MIN),
            "observed at {step}"
        );
        if step % 50 == 0 {
            let (kf, kt) = (rng.key(), rng.key());
            let (from, to) = (time(&mut rng), time(&mut rng));
            let got = w.fetch_key_range(&kv, &kf, &kt, from, to).unwrap();
            let expected = model.scan(&kf, &kt, from, to);
            assert_eq!(
                got, expected,
                "key range {kf:?}..={kt:?} {from}..={to} at {step}"
            );
            let got = w.fetch_all(&kv, from, to).unwrap();
            assert_eq!(
                got,
                model.scan(&[], &[0xff; 8], from, to),
                "fetch_all at {step}"
            );
            let got = w.all(&kv).unwrap();
            let all = model.scan(&[], &[0xff; 8], i64::MIN, i64::MAX);
            assert_eq!(got, all, "all at {step}");
        }
    }
    // Expired segments were dropped whole: every stored key lies in a live segment.
    let live_segment = model.segment(model.live_from().unwrap_or(i64::MIN));
    let lowest = segment_prefix(live_segment);
    let raw = raw_keys(&kv);
    assert!(raw.iter().all(|k| k.as_slice() >= lowest.as_slice()));
    assert!(raw.len() >= model.scan(&[], &[0xff; 8], i64::MIN, i64::MAX).len());
}
