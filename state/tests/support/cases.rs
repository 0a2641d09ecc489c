//! The contract cases: point operations, batches, offsets, lifecycle. Scans are in `scans.rs`.

use std::collections::BTreeMap;
use std::ops::Bound;

use weir_state::{KeyValueStore, KvIter, Offsets, StateError, WriteBatch};

use super::Fixture;

pub type Model = BTreeMap<Vec<u8>, Vec<u8>>;

/// Commits the writes when the fixture reads after commit.
pub fn settle<F: Fixture>(store: &mut F::Store) {
    if F::SETTLE {
        store.commit(Offsets::new()).unwrap();
    }
}

pub fn collect(iter: KvIter<'_>) -> Vec<(Vec<u8>, Vec<u8>)> {
    iter.map(|entry| entry.unwrap()).collect()
}

pub fn model_entries(model: &Model) -> Vec<(Vec<u8>, Vec<u8>)> {
    model.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
}

fn some(v: &[u8]) -> Option<Vec<u8>> {
    Some(v.to_vec())
}

pub fn get_put_delete_overwrite<F: Fixture>() {
    let mut f = F::new();
    let mut s = f.open();
    assert_eq!(s.name(), super::NAME);
    assert_eq!(s.get(b"a").unwrap(), None);
    s.put(b"a", b"1").unwrap();
    s.put(b"b", b"2").unwrap();
    settle::<F>(&mut s);
    assert_eq!(s.get(b"a").unwrap(), some(b"1"));
    s.put(b"a", b"11").unwrap();
    s.delete(b"b").unwrap();
    s.delete(b"never-there").unwrap();
    settle::<F>(&mut s);
    assert_eq!(s.get(b"a").unwrap(), some(b"11"));
    assert_eq!(s.get(b"b").unwrap(), None);
    assert_eq!(s.get(b"never-there").unwrap(), None);
    s.put(b"b", b"again").unwrap();
    settle::<F>(&mut s);
    assert_eq!(s.get(b"b").unwrap(), some(b"again"));
}

pub fn empty_and_large_values<F: Fixture>() {
    let mut f = F::new();
    let mut s = f.open();
    let large: Vec<u8> = (0..1_000_000u32).map(|i| (i % 251) as u8).collect();
    s.put(b"empty", b"").unwrap();
    s.put(b"large", &large).unwrap();
    settle::<F>(&mut s);
    assert_eq!(s.get(b"empty").unwrap(), Some(Vec::new()));
    assert_eq!(s.get(b"large").unwrap(), Some(large.clone()));
    let all = collect(s.all().unwrap());
    assert_eq!(
        all,
        vec![(b"empty".to_vec(), Vec::new()), (b"large".to_vec(), large)]
    );
}

pub fn binary_keys<F: Fixture>() {
    let mut f = F::new();
    let mut s = f.open();
    let keys: Vec<Vec<u8>> = vec![
        vec![0xff, 0xff],
        vec![],
        vec![0x00],
        vec![0xff],
        vec![0x00, 0x00],
        vec![0x7f],
        vec![0x00, 0xff],
        vec![0xff, 0x00],
        vec![0x01],
    ];
    let mut model = Model::new();
    for (i, key) in keys.iter().enumerate() {
        let value = vec![i as u8, 0x00, 0xff];
        s.put(key, &value).unwrap();
        model.insert(key.clone(), value);
    }
    settle::<F>(&mut s);
    for (key, value) in &model {
        assert_eq!(s.get(key).unwrap().as_ref(), Some(value), "key {key:?}");
    }
    assert_eq!(collect(s.all().unwrap()), model_entries(&model));
    let mut reversed = model_entries(&model);
    reversed.reverse();
    assert_eq!(
        collect(s.reverse_range(Bound::Unbounded, Bound::Unbounded).unwrap()),
        reversed
    );
    s.delete(&[]).unwrap();
    s.delete(&[0xff, 0xff]).unwrap();
    settle::<F>(&mut s);
    model.remove(&Vec::new());
    model.remove(&vec![0xff, 0xff]);
    assert_eq!(s.get(&[]).unwrap(), None);
    assert_eq!(collect(s.all().unwrap()), model_entries(&model));
}

pub fn put_all_with_deletes_and_duplicates<F: Fixture>() {
    let mut f = F::new();
    let mut s = f.open();
    s.put(b"a", b"0").unwrap();
    s.put(b"b", b"0").unwrap();
    settle::<F>(&mut s);
    s.put_all(vec![
        (b"a".to_vec(), some(b"1")),
        (b"c".to_vec(), some(b"x")),
        (b"a".to_vec(), some(b"2")),
        (b"b".to_vec(), None),
        (b"c".to_vec(), None),
        (b"d".to_vec(), some(b"4")),
        (b"d".to_vec(), some(b"5")),
        (b"e".to_vec(), None),
        (b"e".to_vec(), some(b"e")),
    ])
    .unwrap();
    settle::<F>(&mut s);
    assert_eq!(s.get(b"a").unwrap(), some(b"2"));
    assert_eq!(s.get(b"b").unwrap(), None);
    assert_eq!(s.get(b"c").unwrap(), None);
    assert_eq!(s.get(b"d").unwrap(), some(b"5"));
    let keys: Vec<_> = collect(s.all().unwrap())
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    assert_eq!(keys, vec![b"a".to_vec(), b"d".to_vec(), b"e".to_vec()]);
    s.put_all(Vec::new()).unwrap();
}

pub fn approximate_count<F: Fixture>() {
    let mut f = F::new();
    let mut s = f.open();
    assert_eq!(s.approximate_num_entries().unwrap(), 0);
    for i in 0..100u32 {
        s.put(format!("key-{i:03}").as_bytes(), b"v").unwrap();
    }
    s.commit(Offsets::new()).unwrap();
    for i in 0..10u32 {
        s.delete(format!("key-{i:03}").as_bytes()).unwrap();
    }
    settle::<F>(&mut s);
    let count = s.approximate_num_entries().unwrap();
    if F::EXACT_COUNT {
        assert_eq!(count, 90);
    } else {
        assert!(
            (45..=180).contains(&count),
            "estimate {count} too far from 90"
        );
    }
}

pub fn apply_with_offsets<F: Fixture>() {
    let mut f = F::new();
    let mut s = f.open();
    assert!(s.committed_offsets().unwrap().is_empty());
    let batch = |key: &[u8], offsets: &[(i32, i64)]| WriteBatch {
        writes: vec![(key.to_vec(), some(b"v"))],
        offsets: offsets.iter().copied().collect(),
    };
    s.apply(batch(b"a", &[(0, 5)])).unwrap();
    assert_eq!(s.committed_offsets().unwrap(), Offsets::from([(0, 5)]));
    s.apply(batch(b"b", &[(1, 7)])).unwrap();
    assert_eq!(
        s.committed_offsets().unwrap(),
        Offsets::from([(0, 5), (1, 7)])
    );
    s.apply(WriteBatch {
        writes: Vec::new(),
        offsets: Offsets::from([(0, 9)]),
    })
    .unwrap();
    assert_eq!(
        s.committed_offsets().unwrap(),
        Offsets::from([(0, 9), (1, 7)])
    );
    s.put(b"c", b"v").unwrap();
    s.commit(Offsets::from([(2, 0)])).unwrap();
    assert_eq!(
        s.committed_offsets().unwrap(),
        Offsets::from([(0, 9), (1, 7), (2, 0)])
    );
    for key in [b"a", b"b", b"c"] {
        assert_eq!(s.get(key).unwrap(), some(b"v"));
    }
    // A batch with an impossible offset is refused whole.
    let err = s.apply(batch(b"bad", &[(0, 10), (3, -1)])).unwrap_err();
    assert!(
        matches!(
            err,
            StateError::InvalidOffsets {
                partition: 3,
                offset: -1,
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(s.get(b"bad").unwrap(), None);
    assert_eq!(
        s.committed_offsets().unwrap(),
        Offsets::from([(0, 9), (1, 7), (2, 0)])
    );
}

pub fn restore_applies_directly<F: Fixture>() {
    let mut f = F::new();
    let mut s = f.open();
    s.put(b"a", b"old").unwrap();
    s.commit(Offsets::from([(0, 1)])).unwrap();
    assert_eq!(s.get(b"a").unwrap(), some(b"old"));
    assert_eq!(s.get(b"b").unwrap(), None);
    s.restore(WriteBatch {
        writes: vec![
            (b"a".to_vec(), some(b"new")),
            (b"b".to_vec(), some(b"b")),
            (b"z".to_vec(), None),
        ],
        offsets: Offsets::from([(0, 4)]),
    })
    .unwrap();
    assert_eq!(s.get(b"a").unwrap(), some(b"new"));
    assert_eq!(s.get(b"b").unwrap(), some(b"b"));
    assert_eq!(s.committed_offsets().unwrap(), Offsets::from([(0, 4)]));
}

pub fn closed_store_refuses_everything<F: Fixture>() {
    let mut f = F::new();
    let mut s = f.open();
    s.put(b"a", b"1").unwrap();
    s.commit(Offsets::from([(0, 1)])).unwrap();
    s.close().unwrap();
    fn closed<T: std::fmt::Debug>(result: Result<T, StateError>) {
        match result {
            Err(StateError::Closed { store }) => assert_eq!(store, super::NAME),
            other => panic!("expected Closed, got {other:?}"),
        }
    }
    let writes = || vec![(b"b".to_vec(), some(b"2"))];
    closed(s.get(b"a"));
    closed(s.put(b"b", b"2"));
    closed(s.delete(b"a"));
    closed(s.delete_range(b"a", b"b"));
    closed(s.put_all(writes()));
    closed(s.apply(WriteBatch {
        writes: writes(),
        offsets: Offsets::from([(0, 2)]),
    }));
    closed(s.range(Bound::Unbounded, Bound::Unbounded).map(|_| ()));
    closed(
        s.reverse_range(Bound::Unbounded, Bound::Unbounded)
            .map(|_| ()),
    );
    closed(s.prefix_scan(b"a").map(|_| ()));
    closed(s.all().map(|_| ()));
    closed(s.approximate_num_entries());
    closed(s.committed_offsets());
    closed(s.flush());
    closed(s.commit(Offsets::from([(0, 3)])));
    closed(s.abort());
    closed(s.restore(WriteBatch::of(writes())));
    closed(s.close());
    assert_eq!(s.size_on_disk(), 0);
}

pub fn reopen_keeps_data_and_offsets<F: Fixture>() {
    if !F::PERSISTENT {
        return;
    }
    let mut f = F::new();
    let mut s = f.open();
    s.put(b"a", b"1").unwrap();
    s.put(b"b", b"2").unwrap();
    s.apply(WriteBatch {
        writes: vec![(b"b".to_vec(), None), (b"c".to_vec(), some(b"3"))],
        offsets: Offsets::from([(0, 41), (4, 2)]),
    })
    .unwrap();
    s.flush().unwrap();
    assert!(s.size_on_disk() > 0);
    s.close().unwrap();
    drop(s);

    let mut s = f.open();
    assert_eq!(
        s.committed_offsets().unwrap(),
        Offsets::from([(0, 41), (4, 2)])
    );
    assert_eq!(
        collect(s.all().unwrap()),
        vec![
            (b"a".to_vec(), b"1".to_vec()),
            (b"c".to_vec(), b"3".to_vec())
        ]
    );
    // The reopened store keeps working, and the checkpoint keeps merging.
    s.put(b"d", b"4").unwrap();
    s.commit(Offsets::from([(0, 42)])).unwrap();
    drop(s); // no close: the write-ahead log carries it
    let s = f.open();
    assert_eq!(s.get(b"d").unwrap(), some(b"4"));
    assert_eq!(
        s.committed_offsets().unwrap(),
        Offsets::from([(0, 42), (4, 2)])
    );
}

pub fn delete_range_bounds_and_empty_ranges<F: Fixture>() {
    let mut f = F::new();
    let mut s = f.open();
    let keys: &[&[u8]] = &[
        b"",
        b"a",
        b"a\0",
        b"ab",
        b"b",
        b"b\0",
        b"ba",
        b"c",
        &[0xff, 0xff],
    ];
    let mut model = Model::new();
    for &key in keys {
        s.put(key, key).unwrap();
        model.insert(key.to_vec(), key.to_vec());
    }
    settle::<F>(&mut s);
    // Empty and inverted ranges delete nothing.
    s.delete_range(b"b", b"b").unwrap();
    s.delete_range(b"c", b"a").unwrap();
    s.delete_range(b"a\0\0", b"a\0\x01").unwrap();
    assert_eq!(collect(s.all().unwrap()), model_entries(&model));
    // `from` is included, `to` excluded; keys extending `to` lie above it.
    s.delete_range(b"a\0", b"b").unwrap();
    for key in [&b"a\0"[..], b"ab"] {
        model.remove(key);
    }
    settle::<F>(&mut s);
    assert_eq!(collect(s.all().unwrap()), model_entries(&model));
    assert_eq!(s.get(b"b").unwrap(), some(b"b"));
    assert_eq!(s.get(b"a").unwrap(), some(b"a"));
    // From the empty key (the smallest) up to a binary bound.
    s.delete_range(b"", b"b\0").unwrap();
    for key in [&b""[..], b"a", b"b"] {
        model.remove(key);
    }
    assert_eq!(collect(s.all().unwrap()), model_entries(&model));
    // The range can be written again.
    s.put(b"a", b"again").unwrap();
    model.insert(b"a".to_vec(), b"again".to_vec());
    settle::<F>(&mut s);
    assert_eq!(collect(s.all().unwrap()), model_entries(&model));
    if F::EXACT_COUNT {
        assert_eq!(s.approximate_num_entries().unwrap(), model.len() as u64);
    }
    if F::PERSISTENT {
        s.commit(Offsets::from([(0, 1)])).unwrap();
        s.close().unwrap();
        drop(s);
        let s = f.open();
        assert_eq!(collect(s.all().unwrap()), model_entries(&model));
    }
}

pub fn delete_range_covers_uncommitted_writes<F: Fixture>() {
    let mut f = F::new();
    let mut s = f.open();
    let mut model = Model::new();
    for i in 0..10u8 {
        s.put(&[i], b"committed").unwrap();
        model.insert(vec![i], b"committed".to_vec());
    }
    s.commit(Offsets::new()).unwrap();
    // Uncommitted (in buffering layers) overwrites, deletes and new keys, in and out of range.
    for (key, value) in [
        (vec![2], Some(&b"new"[..])),
        (vec![3], None),
        (vec![3, 0], Some(b"new")),
        (vec![7], Some(b"new")),
        (vec![8], None),
        (vec![9, 9], Some(b"new")),
    ] {
        match value {
            Some(v) => {
                s.put(&key, v).unwrap();
                model.insert(key, v.to_vec());
            }
            None => {
                s.delete(&key).unwrap();
                model.remove(&key);
            }
        }
    }
    s.delete_range(&[2], &[7]).unwrap();
    model.retain(|k, _| !(k.as_slice() >= &[2][..] && k.as_slice() < &[7][..]));
    assert_eq!(collect(s.all().unwrap()), model_entries(&model));
    assert_eq!(s.get(&[3, 0]).unwrap(), None);
    s.commit(Offsets::from([(0, 3)])).unwrap();
    assert_eq!(collect(s.all().unwrap()), model_entries(&model));
    assert_eq!(s.get(&[7]).unwrap(), some(b"new"));
    assert_eq!(s.get(&[8]).unwrap(), None);
    if F::EXACT_COUNT {
        assert_eq!(s.approximate_num_entries().unwrap(), model.len() as u64);
    }
}
