//! The window store contract cases, run by `tests/window_contract.rs` over every key-value stack.
//! The randomized comparison with a model is in `windows_model.rs`.

use std::sync::{Arc, Mutex};

use weir_state::{
    ChangeLoggingStore, InMemoryStore, KeyValueStore, Offsets, StateError, WindowStore,
    WindowStoreConfig, WriteBatch,
};

use super::cases::{collect, settle};
use super::{Fixture, NAME, Recorder};

/// Segments of 50 ms, 100 ms retention: after a put at `t`, windows starting at or before
/// `t - 100` are expired and segments below `(t - 99) / 50` are dropped.
pub const CONFIG: WindowStoreConfig = WindowStoreConfig {
    retention_ms: 100,
    segment_interval_ms: 50,
    retain_duplicates: false,
};

pub const DUPLICATES: WindowStoreConfig = WindowStoreConfig {
    retain_duplicates: true,
    ..CONFIG
};

pub fn open<F: Fixture>(f: &mut F, config: WindowStoreConfig) -> (F::Store, WindowStore) {
    let mut kv = f.open();
    let windows = WindowStore::open(config, &mut kv).unwrap();
    (kv, windows)
}

pub fn v(s: &str) -> Option<Vec<u8>> {
    Some(s.as_bytes().to_vec())
}

/// The starts of fetched windows, checking each value is `v{start}`.
fn starts(got: Vec<(i64, Vec<u8>)>) -> Vec<i64> {
    got.into_iter()
        .map(|(start, value)| {
            assert_eq!(value, format!("v{start}").into_bytes(), "value of {start}");
            start
        })
        .collect()
}

/// The stored key prefix of segment `segment` (the layout's first 8 bytes).
pub fn segment_prefix(segment: i64) -> [u8; 8] {
    ((segment as u64) ^ (1 << 63)).to_be_bytes()
}

/// Every raw key of the key-value store.
pub fn raw_keys(kv: &dyn KeyValueStore) -> Vec<Vec<u8>> {
    collect(kv.all().unwrap())
        .into_iter()
        .map(|(k, _)| k)
        .collect()
}

pub fn put_fetch_overwrite_delete<F: Fixture>() {
    let mut f = F::new();
    let (mut kv, mut w) = open(&mut f, CONFIG);
    assert_eq!(w.observed_stream_time(), i64::MIN);
    assert_eq!(w.fetch(&kv, b"k", 10).unwrap(), None);
    assert!(w.put(&mut kv, b"k", 10, Some(b"v1")).unwrap());
    assert!(w.put(&mut kv, b"k", 20, Some(b"other")).unwrap());
    assert!(w.put(&mut kv, b"j", 10, Some(b"j")).unwrap());
    settle::<F>(&mut kv);
    assert_eq!(w.fetch(&kv, b"k", 10).unwrap(), v("v1"));
    assert!(w.put(&mut kv, b"k", 10, Some(b"v2")).unwrap());
    settle::<F>(&mut kv);
    assert_eq!(w.fetch(&kv, b"k", 10).unwrap(), v("v2"));
    assert_eq!(w.fetch(&kv, b"k", 20).unwrap(), v("other"));
    assert_eq!(w.fetch(&kv, b"j", 10).unwrap(), v("j"));
    let absent: [(&[u8], i64); 4] = [(b"k", 11), (b"kk", 10), (b"", 10), (b"k", 21)];
    for (key, start) in absent {
        assert_eq!(w.fetch(&kv, key, start).unwrap(), None, "{key:?} {start}");
    }
    assert!(w.put(&mut kv, b"k", 10, None).unwrap());
    assert!(w.put(&mut kv, b"never", 15, None).unwrap());
    settle::<F>(&mut kv);
    assert_eq!(w.fetch(&kv, b"k", 10).unwrap(), None);
    assert_eq!(
        w.fetch_range(&kv, b"k", 0, 100).unwrap(),
        vec![(20, b"other".to_vec())]
    );
    assert!(w.put(&mut kv, b"k", 30, Some(b"")).unwrap());
    settle::<F>(&mut kv);
    assert_eq!(w.fetch(&kv, b"k", 30).unwrap(), Some(Vec::new()));
    assert_eq!(w.observed_stream_time(), 30);
    assert_eq!(w.config(), &CONFIG);
}

pub fn range_bounds<F: Fixture>() {
    let mut f = F::new();
    let (mut kv, mut w) = open(&mut f, CONFIG);
    for start in (0..=90).step_by(10) {
        assert!(
            w.put(&mut kv, b"k", start, v(&format!("v{start}")).as_deref())
                .unwrap()
        );
    }
    w.put(&mut kv, b"x", 50, Some(b"v50")).unwrap();
    settle::<F>(&mut kv);
    let fetch = |from, to| starts(w.fetch_range(&kv, b"k", from, to).unwrap());
    let backward = |from, to| starts(w.backward_fetch_range(&kv, b"k", from, to).unwrap());
    assert_eq!(fetch(10, 30), [10, 20, 30]);
    assert_eq!(fetch(11, 29), [20]);
    assert_eq!(fetch(20, 20), [20]);
    assert_eq!(fetch(21, 29), [0; 0]);
    assert_eq!(fetch(30, 10), [0; 0], "reversed bounds");
    assert_eq!(fetch(40, 60), [40, 50, 60], "across a segment boundary");
    assert_eq!(
        fetch(i64::MIN, i64::MAX),
        (0..=90).step_by(10).collect::<Vec<_>>()
    );
    assert_eq!(fetch(91, i64::MAX), [0; 0]);
    assert_eq!(backward(10, 30), [30, 20, 10]);
    assert_eq!(backward(30, 10), [0; 0]);
    assert_eq!(
        backward(i64::MIN, i64::MAX),
        (0..=9).rev().map(|i| i * 10).collect::<Vec<i64>>()
    );
    let keyed = |from: &[u8], to: &[u8], t0, t1| -> Vec<(String, i64)> {
        w.fetch_key_range(&kv, from, to, t0, t1)
            .unwrap()
            .into_iter()
            .map(|(k, s, _)| (String::from_utf8(k).unwrap(), s))
            .collect()
    };
    let pairs = |p: &[(&str, i64)]| -> Vec<(String, i64)> {
        p.iter().map(|(k, s)| ((*k).to_owned(), *s)).collect()
    };
    assert_eq!(
        keyed(b"k", b"k", 20, 40),
        pairs(&[("k", 20), ("k", 30), ("k", 40)])
    );
    assert_eq!(keyed(b"a", b"z", 45, 55), pairs(&[("k", 50), ("x", 50)]));
    assert_eq!(keyed(b"x", b"x", 0, 100), pairs(&[("x", 50)]));
    assert_eq!(keyed(b"l", b"w", 0, 100), pairs(&[]));
    assert_eq!(keyed(b"z", b"a", 0, 100), pairs(&[]), "reversed keys");
    assert_eq!(keyed(b"a", b"z", 60, 40), pairs(&[]), "reversed times");
    let all_starts = |got: Vec<(Vec<u8>, i64, Vec<u8>)>| -> Vec<i64> {
        got.into_iter().map(|(_, s, _)| s).collect()
    };
    assert_eq!(
        all_starts(w.fetch_all(&kv, 0, 40).unwrap()),
        [0, 10, 20, 30, 40]
    );
    assert_eq!(all_starts(w.fetch_all(&kv, 50, 50).unwrap()), [50, 50]);
    // By start, then key.
    let all: Vec<_> = w
        .all(&kv)
        .unwrap()
        .into_iter()
        .map(|(k, s, _)| (k, s))
        .collect();
    assert_eq!(all[5..7], [(b"k".to_vec(), 50), (b"x".to_vec(), 50)]);
    assert_eq!(
        all_starts(w.all(&kv).unwrap()),
        [0, 10, 20, 30, 40, 50, 50, 60, 70, 80, 90]
    );
}

pub fn prefix_and_binary_keys<F: Fixture>() {
    let mut f = F::new();
    let (mut kv, mut w) = open(&mut f, CONFIG);
    let keys: [&[u8]; 10] = [
        b"",
        b"a",
        b"a\0",
        b"ab",
        b"abc",
        b"b",
        &[0xff],
        &[0xff, 0xff],
        &[0x00],
        &[0x00, 0x00],
    ];
    let value = |key: &[u8], start: i64| [key, &start.to_be_bytes()].concat();
    for start in [10, 60] {
        for key in keys {
            w.put(&mut kv, key, start, Some(&value(key, start)))
                .unwrap();
        }
    }
    settle::<F>(&mut kv);
    for key in keys {
        let expected: Vec<_> = [10, 60].into_iter().map(|s| (s, value(key, s))).collect();
        assert_eq!(
            w.fetch_range(&kv, key, i64::MIN, i64::MAX).unwrap(),
            expected,
            "{key:?}"
        );
        assert_eq!(w.fetch(&kv, key, 60).unwrap(), Some(value(key, 60)));
    }
    // Key ranges: by start, then key bytes.
    let mut sorted = keys.to_vec();
    sorted.sort();
    let expect = |from: &[u8], to: &[u8]| -> Vec<(Vec<u8>, i64, Vec<u8>)> {
        [10, 60]
            .into_iter()
            .flat_map(|s| sorted.iter().map(move |k| (k.to_vec(), s)))
            .filter(|(k, _)| from <= k.as_slice() && k.as_slice() <= to)
            .map(|(k, s)| (k.clone(), s, value(&k, s)))
            .collect()
    };
    let ranges: [(&[u8], &[u8]); 7] = [
        (b"a", b"ab"),
        (b"", &[0xff, 0xff]),
        (b"a\0", b"a\0"),
        (b"", b""),
        (b"a", b"a"),
        (&[0x00], &[0x00, 0x00]),
        (&[0xff], &[0xff, 0xff, 0xff]),
    ];
    for (from, to) in ranges {
        assert_eq!(
            w.fetch_key_range(&kv, from, to, i64::MIN, i64::MAX)
                .unwrap(),
            expect(from, to),
            "{from:?}..={to:?}"
        );
    }
    assert_eq!(w.all(&kv).unwrap(), expect(b"", &[0xff, 0xff]));
    // Deleting "a" leaves the keys it prefixes alone.
    w.put(&mut kv, b"a", 10, None).unwrap();
    settle::<F>(&mut kv);
    assert_eq!(w.fetch(&kv, b"a", 10).unwrap(), None);
    assert_eq!(w.fetch(&kv, b"ab", 10).unwrap(), Some(value(b"ab", 10)));
    assert_eq!(w.fetch(&kv, b"a\0", 10).unwrap(), Some(value(b"a\0", 10)));
}

pub fn negative_and_zero_timestamps<F: Fixture>() {
    let mut f = F::new();
    let (mut kv, mut w) = open(&mut f, CONFIG);
    for start in [-75, -50, -1, 0, 1] {
        assert!(
            w.put(&mut kv, b"k", start, v(&format!("v{start}")).as_deref())
                .unwrap()
        );
    }
    // Observed 1: windows at or before -99 are expired, segment -2 ([-100, -50)) is live.
    assert!(!w.put(&mut kv, b"k", i64::MIN, Some(b"old")).unwrap());
    settle::<F>(&mut kv);
    let fetch = |w: &WindowStore, kv: &F::Store, from, to| {
        starts(w.fetch_range(kv, b"k", from, to).unwrap())
    };
    assert_eq!(fetch(&w, &kv, -100, 0), [-75, -50, -1, 0]);
    assert_eq!(fetch(&w, &kv, -1, 1), [-1, 0, 1]);
    assert_eq!(fetch(&w, &kv, i64::MIN, -51), [-75]);
    assert_eq!(
        starts(w.backward_fetch_range(&kv, b"k", -60, 0).unwrap()),
        [0, -1, -50]
    );
    assert_eq!(w.fetch(&kv, b"k", 0).unwrap(), v("v0"));
    assert_eq!(w.fetch(&kv, b"k", i64::MIN).unwrap(), None);
    let all: Vec<i64> = w
        .fetch_all(&kv, -60, -1)
        .unwrap()
        .into_iter()
        .map(|e| e.1)
        .collect();
    assert_eq!(all, [-50, -1]);
    // Observed 30: -75 is expired but its segment (-2) is still live: kept, never returned.
    assert!(w.put(&mut kv, b"k", 30, Some(b"v30")).unwrap());
    settle::<F>(&mut kv);
    assert_eq!(w.fetch(&kv, b"k", -75).unwrap(), None);
    assert_eq!(fetch(&w, &kv, i64::MIN, i64::MAX), [-50, -1, 0, 1, 30]);
    // A write to the live segment is accepted even when the window itself is expired (as in
    // Kafka Streams' segmented stores); it is never read back.
    assert!(w.put(&mut kv, b"k", -80, Some(b"v-80")).unwrap());
    assert_eq!(w.fetch(&kv, b"k", -80).unwrap(), None);
    assert_eq!(w.observed_stream_time(), 30);
}

pub fn duplicates_retained_in_order<F: Fixture>() {
    let mut f = F::new();
    let (mut kv, mut w) = open(&mut f, DUPLICATES);
    let puts: [(&[u8], i64, &str); 6] = [
        (b"k", 10, "1"),
        (b"k", 10, "2"),
        (b"j", 10, "j"),
        (b"k", 10, "3"),
        (b"k", 20, "x"),
        (b"kk", 10, "kk"),
    ];
    for (key, start, value) in puts {
        assert!(w.put(&mut kv, key, start, Some(value.as_bytes())).unwrap());
    }
    assert!(
        w.put(&mut kv, b"k", 10, None).unwrap(),
        "a delete is a no-op"
    );
    settle::<F>(&mut kv);
    let values = |got: Vec<(i64, Vec<u8>)>| -> Vec<(i64, String)> {
        got.into_iter()
            .map(|(s, v)| (s, String::from_utf8(v).unwrap()))
            .collect()
    };
    let mut expected = vec![
        (10, "1".into()),
        (10, "2".into()),
        (10, "3".into()),
        (20, "x".into()),
    ];
    assert_eq!(values(w.fetch_range(&kv, b"k", 0, 100).unwrap()), expected);
    let mut reversed = expected.clone();
    reversed.reverse();
    assert_eq!(
        values(w.backward_fetch_range(&kv, b"k", 0, 100).unwrap()),
        reversed
    );
    assert_eq!(w.fetch(&kv, b"k", 10).unwrap(), v("1"));
    let keyed: Vec<(Vec<u8>, i64)> = w
        .fetch_key_range(&kv, b"j", b"k", 0, 100)
        .unwrap()
        .into_iter()
        .map(|(k, s, _)| (k, s))
        .collect();
    assert_eq!(
        keyed,
        [
            (b"j".to_vec(), 10),
            (b"k".to_vec(), 10),
            (b"k".to_vec(), 10),
            (b"k".to_vec(), 10),
            (b"k".to_vec(), 20)
        ]
    );
    // Committed duplicates below, new ones above (uncommitted in buffering stacks).
    kv.commit(Offsets::from([(0, 1)])).unwrap();
    w.put(&mut kv, b"k", 10, Some(b"4")).unwrap();
    settle::<F>(&mut kv);
    expected.insert(3, (10, "4".into()));
    assert_eq!(values(w.fetch_range(&kv, b"k", 0, 100).unwrap()), expected);
    if F::PERSISTENT {
        // The numbering continues after a reopen: no duplicate is overwritten or reordered.
        kv.commit(Offsets::from([(0, 2)])).unwrap();
        kv.close().unwrap();
        drop(kv);
        let (mut kv, mut w) = open(&mut f, DUPLICATES);
        w.put(&mut kv, b"k", 10, Some(b"5")).unwrap();
        settle::<F>(&mut kv);
        expected.insert(4, (10, "5".into()));
        assert_eq!(values(w.fetch_range(&kv, b"k", 0, 100).unwrap()), expected);
    }
}

pub fn expiry_drops_whole_segments<F: Fixture>() {
    let mut f = F::new();
    let (mut kv, mut w) = open(&mut f, CONFIG);
    for start in (0..150).step_by(10) {
        for key in [&b"a"[..], b"b"] {
            w.put(&mut kv, key, start, v(&format!("v{start}")).as_deref())
                .unwrap();
        }
    }
    settle::<F>(&mut kv);
    // Observed 140: windows up to 40 expired, but segment 0 ([0, 50)) is live: nothing dropped.
    assert_eq!(raw_keys(&kv).len(), 30);
    assert_eq!(w.fetch(&kv, b"a", 40).unwrap(), None);
    assert_eq!(w.fetch(&kv, b"a", 50).unwrap(), v("v50"));
    let count_before = kv.approximate_num_entries().unwrap();
    // Stream time 199 with no write: segments 0 and 1 go, in one range delete each time.
    w.observe(&mut kv, 199).unwrap();
    settle::<F>(&mut kv);
    let raw = raw_keys(&kv);
    assert_eq!(raw.len(), 10);
    assert!(
        raw.iter()
            .all(|k| k.as_slice() >= segment_prefix(2).as_slice()),
        "{raw:?}"
    );
    assert_eq!(
        starts(w.fetch_range(&kv, b"a", i64::MIN, i64::MAX).unwrap()),
        [100, 110, 120, 130, 140]
    );
    if F::EXACT_COUNT {
        assert_eq!(kv.approximate_num_entries().unwrap(), 10);
    }
    // RocksDB's estimate counts the range tombstone's memtable until a flush: see below.
    // Writes to dropped segments are refused and leave nothing behind.
    assert!(!w.put(&mut kv, b"a", 90, Some(b"late")).unwrap());
    assert!(!w.put(&mut kv, b"c", 0, None).unwrap());
    assert_eq!(w.fetch(&kv, b"a", 90).unwrap(), None);
    settle::<F>(&mut kv);
    assert_eq!(raw_keys(&kv).len(), 10);
    // Observing an earlier time changes nothing.
    w.observe(&mut kv, 150).unwrap();
    assert_eq!(w.observed_stream_time(), 199);
    // A put far ahead drops segment 2 as well.
    assert!(w.put(&mut kv, b"b", 260, Some(b"v260")).unwrap());
    settle::<F>(&mut kv);
    assert_eq!(raw_keys(&kv).len(), 1);
    assert_eq!(
        w.all(&kv).unwrap(),
        vec![(b"b".to_vec(), 260, b"v260".to_vec())]
    );
    assert!(w.fetch_all(&kv, i64::MIN, 259).unwrap().is_empty());
    if F::EXACT_COUNT {
        assert_eq!(kv.approximate_num_entries().unwrap(), 1);
    }
    // After a commit and (for persistent stacks) a reopen, the drop holds.
    kv.commit(Offsets::from([(0, 9)])).unwrap();
    if F::PERSISTENT {
        kv.close().unwrap();
        drop(kv);
        let (kv, w) = open(&mut f, CONFIG);
        assert_eq!(raw_keys(&kv).len(), 1);
        assert_eq!(w.all(&kv).unwrap().len(), 1);
        assert!(kv.approximate_num_entries().unwrap() < count_before);
    }
}

pub fn reopen_recovers_observed_time<F: Fixture>() {
    if !F::PERSISTENT {
        return;
    }
    let mut f = F::new();
    let (mut kv, mut w) = open(&mut f, CONFIG);
    for start in (10..=230).step_by(20) {
        w.put(&mut kv, b"a", start, v(&format!("v{start}")).as_deref())
            .unwrap();
    }
    // Stream time 250: live from 151, segment 2 ([100, 150)) dropped.
    w.observe(&mut kv, 250).unwrap();
    let before = w.all(&kv).unwrap();
    assert_eq!(before.len(), 4, "{before:?}"); // 170, 190, 210, 230
    kv.commit(Offsets::from([(0, 12)])).unwrap();
    kv.close().unwrap();
    drop(kv);

    let (mut kv, mut w) = open(&mut f, CONFIG);
    // Recovered from the largest stored start: the last run's observe(250) is not stored, so
    // the window at 150 (expired at 250, but in a live segment) is visible again until the
    // runtime observes its stream time.
    assert_eq!(w.observed_stream_time(), 230);
    assert_eq!(w.fetch(&kv, b"a", 150).unwrap(), v("v150"));
    w.observe(&mut kv, 250).unwrap();
    assert_eq!(w.all(&kv).unwrap(), before);
    assert_eq!(w.fetch(&kv, b"a", 170).unwrap(), v("v170"));
    assert_eq!(w.fetch(&kv, b"a", 150).unwrap(), None);
    assert!(!w.put(&mut kv, b"a", 90, Some(b"late")).unwrap());
    assert_eq!(kv.committed_offsets().unwrap(), Offsets::from([(0, 12)]));
    kv.close().unwrap();
    drop(kv);

    // Another segment interval would misread every key: refused.
    let mut kv = f.open();
    let other = WindowStoreConfig {
        segment_interval_ms: 30,
        ..CONFIG
    };
    let err = WindowStore::open(other, &mut kv).unwrap_err();
    assert!(matches!(err, StateError::InvalidConfig { .. }), "{err}");
    assert_eq!(err.store(), NAME);
}

/// A changelog as a logged window store writes it: every put, old windows included (the source
/// drops expired segments locally; the topic keeps them until its own retention).
pub fn changelog_of(
    config: WindowStoreConfig,
) -> (Vec<weir_state::Write>, InMemoryStore, WindowStore) {
    let recorder = Recorder(Arc::new(Mutex::new(Vec::new())));
    let mut source = ChangeLoggingStore::new(InMemoryStore::new(NAME), Box::new(recorder.clone()));
    let mut w = WindowStore::open(config, &mut source).unwrap();
    for start in (0..=300).step_by(10) {
        for key in [&b"a"[..], b"ab", b"b"] {
            w.put(&mut source, key, start, Some(format!("{start}").as_bytes()))
                .unwrap();
        }
        if start % 50 == 0 {
            w.put(&mut source, b"b", start, None).unwrap();
        }
    }
    let writes = recorder.0.lock().unwrap().clone();
    (writes, source.into_inner(), w)
}

pub fn restore_then_open_drops_expired<F: Fixture>() {
    for config in [CONFIG, DUPLICATES] {
        let (changelog, source, source_windows) = changelog_of(config);
        let mut f = F::new();
        let mut kv = f.open();
        let last = changelog.len() as i64 - 1;
        for (i, chunk) in changelog.chunks(40).enumerate() {
            let offset = (i as i64 * 40 + chunk.len() as i64 - 1).min(last);
            kv.restore(WriteBatch {
                writes: chunk.to_vec(),
                offsets: Offsets::from([(0, offset)]),
            })
            .unwrap();
        }
        assert!(
            raw_keys(&kv).len() > raw_keys(&source).len(),
            "old windows restored"
        );
        let w = WindowStore::open(config, &mut kv).unwrap();
        assert_eq!(w.observed_stream_time(), 300);
        // Exactly what the source kept: expired segments gone, the live ones whole.
        assert_eq!(collect(kv.all().unwrap()), collect(source.all().unwrap()));
        assert_eq!(w.all(&kv).unwrap(), source_windows.all(&source).unwrap());
        assert_eq!(w.fetch(&kv, b"a", 300).unwrap(), v("300"));
        assert_eq!(w.fetch(&kv, b"a", 200).unwrap(), None);
        assert_eq!(kv.committed_offsets().unwrap(), Offsets::from([(0, last)]));
    }
}
