//! The contract cases for scans: ranges with every bound combination, both directions, prefix
//! scans, and a randomized comparison against a `BTreeMap` model.

use std::ops::Bound;

use weir_state::{KeyValueStore, Offsets};

use super::Fixture;
use super::cases::{Model, collect, model_entries, settle};

/// Writes a committed generation of keys, then a second generation on top (overwrites, deletes,
/// new keys) that stays uncommitted unless the fixture settles: layers that buffer writes must
/// merge both.
fn layered<F: Fixture>(store: &mut F::Store) -> Model {
    let mut model = Model::new();
    for i in 0..20 {
        let key = format!("k{i:02}").into_bytes();
        store.put(&key, format!("v1-{i}").as_bytes()).unwrap();
        model.insert(key, format!("v1-{i}").into_bytes());
    }
    store.commit(Offsets::new()).unwrap();
    for key in ["k03", "k07", "k15", "k99"] {
        store.delete(key.as_bytes()).unwrap();
        model.remove(key.as_bytes());
    }
    for (key, value) in [
        ("k05", "v2"),
        ("k055", "new"),
        ("k20", "new"),
        ("a", "first"),
    ] {
        store.put(key.as_bytes(), value.as_bytes()).unwrap();
        model.insert(key.as_bytes().to_vec(), value.as_bytes().to_vec());
    }
    settle::<F>(store);
    model
}

fn bounds(points: &[&'static [u8]]) -> Vec<Bound<&'static [u8]>> {
    let mut all = vec![Bound::Unbounded];
    for &p in points {
        all.push(Bound::Included(p));
        all.push(Bound::Excluded(p));
    }
    all
}

fn in_range(key: &[u8], from: Bound<&[u8]>, to: Bound<&[u8]>) -> bool {
    let above = match from {
        Bound::Included(f) => key >= f,
        Bound::Excluded(f) => key > f,
        Bound::Unbounded => true,
    };
    let below = match to {
        Bound::Included(t) => key <= t,
        Bound::Excluded(t) => key < t,
        Bound::Unbounded => true,
    };
    above && below
}

const POINTS: &[&[u8]] = &[
    b"", b"a", b"k", b"k00", b"k03", b"k05", b"k055", b"k10", b"k19", b"k20", b"z",
];

pub fn range_all_bound_combinations<F: Fixture>() {
    let mut f = F::new();
    let mut s = f.open();
    let model = layered::<F>(&mut s);
    for from in bounds(POINTS) {
        for to in bounds(POINTS) {
            let expected: Vec<_> = model_entries(&model)
                .into_iter()
                .filter(|(k, _)| in_range(k, from, to))
                .collect();
            assert_eq!(
                collect(s.range(from, to).unwrap()),
                expected,
                "range {from:?}..{to:?}"
            );
        }
    }
}

pub fn reverse_range_all_bound_combinations<F: Fixture>() {
    let mut f = F::new();
    let mut s = f.open();
    let model = layered::<F>(&mut s);
    for from in bounds(POINTS) {
        for to in bounds(POINTS) {
            let mut expected: Vec<_> = model_entries(&model)
                .into_iter()
                .filter(|(k, _)| in_range(k, from, to))
                .collect();
            expected.reverse();
            let got = collect(s.reverse_range(from, to).unwrap());
            assert_eq!(got, expected, "reverse range {from:?}..{to:?}");
        }
    }
}

pub fn prefix_scans<F: Fixture>() {
    let mut f = F::new();
    let mut s = f.open();
    let keys: &[&[u8]] = &[
        b"ab",
        b"abc",
        b"abd",
        b"ac",
        b"b",
        &[0xfe, 0xff],
        &[0xff],
        &[0xff, 0x00],
        &[0xff, 0xff],
        &[0xff, 0xff, 0x01],
        &[0x00],
    ];
    let mut model = Model::new();
    for &key in keys {
        s.put(key, key).unwrap();
        model.insert(key.to_vec(), key.to_vec());
    }
    s.commit(Offsets::new()).unwrap();
    // Uncommitted on top (for buffering layers): a delete and a new key inside prefixes.
    s.delete(b"abc").unwrap();
    model.remove(b"abc".as_slice());
    s.put(&[0xff, 0xff, 0xff], b"new").unwrap();
    model.insert(vec![0xff, 0xff, 0xff], b"new".to_vec());
    settle::<F>(&mut s);
    let prefixes: &[&[u8]] = &[
        b"ab",
        b"a",
        b"abc",
        b"abz",
        b"",
        b"zz",
        &[0xff],
        &[0xff, 0xff],
        &[0xfe],
        &[0x00],
    ];
    for &prefix in prefixes {
        let expected: Vec<_> = model_entries(&model)
            .into_iter()
            .filter(|(k, _)| k.starts_with(prefix))
            .collect();
        assert_eq!(
            collect(s.prefix_scan(prefix).unwrap()),
            expected,
            "prefix {prefix:?}"
        );
    }
}

/// xorshift64*: deterministic and dependency-free.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    /// Short keys over a tiny alphabet, so operations collide and prefixes overlap.
    pub fn key(&mut self) -> Vec<u8> {
        const ALPHABET: [u8; 4] = [0x00, 0x01, 0x7f, 0xff];
        (0..self.below(4))
            .map(|_| ALPHABET[self.below(4) as usize])
            .collect()
    }
}

pub fn randomized_against_a_model<F: Fixture>() {
    let mut f = F::new();
    let mut s = f.open();
    let mut model = Model::new();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for step in 0..3_000u32 {
        match rng.below(10) {
            0..=3 => {
                let (key, value) = (rng.key(), step.to_be_bytes());
                s.put(&key, &value).unwrap();
                model.insert(key, value.to_vec());
            }
            4..=5 => {
                let key = rng.key();
                s.delete(&key).unwrap();
                model.remove(&key);
            }
            6 => {
                let writes: Vec<_> = (0..rng.below(5))
                    .map(|i| (rng.key(), (rng.below(3) > 0).then(|| vec![i as u8])))
                    .collect();
                for (key, value) in &writes {
                    match value {
                        Some(v) => model.insert(key.clone(), v.clone()),
                        None => model.remove(key),
                    };
                }
                s.put_all(writes).unwrap();
            }
            7 => s.commit(Offsets::from([(0, i64::from(step))])).unwrap(),
            _ => {
                let key = rng.key();
                assert_eq!(
                    s.get(&key).unwrap().as_ref(),
                    model.get(&key),
                    "get {key:?} at {step}"
                );
            }
        }
        settle::<F>(&mut s);
        if step % 100 == 0 {
            let (a, b) = (rng.key(), rng.key());
            let (from, to) = (Bound::Included(a.as_slice()), Bound::Excluded(b.as_slice()));
            let mut expected: Vec<_> = model_entries(&model)
                .into_iter()
                .filter(|(k, _)| in_range(k, from, to))
                .collect();
            assert_eq!(
                collect(s.range(from, to).unwrap()),
                expected,
                "range at {step}"
            );
            expected.reverse();
            assert_eq!(
                collect(s.reverse_range(from, to).unwrap()),
                expected,
                "rev at {step}"
            );
            let prefix = rng.key();
            let expected: Vec<_> = model_entries(&model)
                .into_iter()
                .filter(|(k, _)| k.starts_with(&prefix))
                .collect();
            assert_eq!(
                collect(s.prefix_scan(&prefix).unwrap()),
                expected,
                "prefix at {step}"
            );
            assert_eq!(
                collect(s.all().unwrap()),
                model_entries(&model),
                "all at {step}"
            );
        }
    }
}
