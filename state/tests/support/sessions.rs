//! The session store contract cases, run by `tests/session_contract.rs` over every key-value
//! stack, including a randomized comparison with a `BTreeMap` model.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use weir_state::{
    ChangeLoggingStore, InMemoryStore, KeyValueStore, Offsets, SessionStore, SessionStoreConfig,
    StateError, WriteBatch,
};

use super::cases::{collect, settle};
use super::scans::Rng;
use super::windows::{raw_keys, segment_prefix, v};
use super::{Fixture, NAME, Recorder};

/// Segments of 50 ms of session end, 100 ms retention.
pub const CONFIG: SessionStoreConfig = SessionStoreConfig {
    retention_ms: 100,
    segment_interval_ms: 50,
};

type Found = Vec<((i64, i64), Vec<u8>)>;

const NONE: [(i64, i64); 0] = [];

fn open<F: Fixture>(f: &mut F) -> (F::Store, SessionStore) {
    let mut kv = f.open();
    let sessions = SessionStore::open(CONFIG, &mut kv).unwrap();
    (kv, sessions)
}

fn bounds(found: Found) -> Vec<(i64, i64)> {
    found.into_iter().map(|(b, _)| b).collect()
}

pub fn put_fetch_remove<F: Fixture>() {
    let mut f = F::new();
    let (mut kv, mut s) = open(&mut f);
    assert_eq!(s.observed_stream_time(), i64::MIN);
    assert!(s.put(&mut kv, b"u", 0, 10, Some(b"1")).unwrap());
    assert!(s.put(&mut kv, b"u", 20, 20, Some(b"2")).unwrap());
    assert!(s.put(&mut kv, b"uu", 0, 10, Some(b"other")).unwrap());
    settle::<F>(&mut kv);
    assert_eq!(s.fetch_session(&kv, b"u", 0, 10).unwrap(), v("1"));
    assert_eq!(s.fetch_session(&kv, b"u", 20, 20).unwrap(), v("2"));
    assert_eq!(s.fetch_session(&kv, b"u", 0, 11).unwrap(), None);
    assert_eq!(s.fetch_session(&kv, b"u", 10, 0).unwrap(), None);
    assert_eq!(s.fetch_session(&kv, b"", 0, 10).unwrap(), None);
    assert!(s.put(&mut kv, b"u", 0, 10, Some(b"1b")).unwrap());
    settle::<F>(&mut kv);
    assert_eq!(
        s.fetch(&kv, b"u").unwrap(),
        vec![((0, 10), b"1b".to_vec()), ((20, 20), b"2".to_vec())]
    );
    assert!(s.put(&mut kv, b"u", 0, 10, None).unwrap());
    settle::<F>(&mut kv);
    assert_eq!(s.fetch_session(&kv, b"u", 0, 10).unwrap(), None);
    assert_eq!(bounds(s.fetch(&kv, b"u").unwrap()), [(20, 20)]);
    assert_eq!(bounds(s.fetch(&kv, b"uu").unwrap()), [(0, 10)]);
    let err = s.put(&mut kv, b"u", 5, 4, Some(b"x")).unwrap_err();
    assert!(matches!(err, StateError::InvalidWrite { .. }), "{err}");
    assert_eq!(err.store(), NAME);
    assert_eq!(s.observed_stream_time(), 20);
    assert_eq!(s.config(), &CONFIG);
}

pub fn find_sessions_bounds<F: Fixture>() {
    let mut f = F::new();
    let (mut kv, mut s) = open(&mut f);
    for (start, end) in [(0, 10), (20, 30), (40, 40), (45, 70), (-20, -5)] {
        let value = format!("{start}-{end}");
        s.put(&mut kv, b"k", start, end, Some(value.as_bytes()))
            .unwrap();
    }
    s.put(&mut kv, b"k\0", 0, 10, Some(b"extends k")).unwrap();
    s.put(&mut kv, b"", 0, 10, Some(b"empty key")).unwrap();
    settle::<F>(&mut kv);
    let find = |earliest_end, latest_start| {
        let found = s
            .find_sessions(&kv, b"k", earliest_end, latest_start)
            .unwrap();
        for ((start, end), value) in &found {
            assert_eq!(value, format!("{start}-{end}").as_bytes());
        }
        bounds(found)
    };
    assert_eq!(find(10, 40), [(0, 10), (20, 30), (40, 40)]);
    assert_eq!(find(11, 19), NONE);
    assert_eq!(find(30, 30), [(20, 30)]);
    assert_eq!(find(50, 50), [(45, 70)], "spans a segment boundary");
    assert_eq!(find(71, 100), NONE);
    assert_eq!(find(-10, 0), [(-20, -5), (0, 10)]);
    assert_eq!(
        find(i64::MIN, i64::MAX),
        [(-20, -5), (0, 10), (20, 30), (40, 40), (45, 70)]
    );
    assert_eq!(
        find(40, 0),
        NONE,
        "no session ends after 40 and starts before 0"
    );
    assert_eq!(bounds(s.find_sessions(&kv, b"", 0, 0).unwrap()), [(0, 10)]);
    let all: Vec<_> = s
        .all(&kv)
        .unwrap()
        .into_iter()
        .map(|(k, b, _)| (k, b))
        .collect();
    assert_eq!(all.len(), 7);
    assert_eq!(all[0], (b"k".to_vec(), (-20, -5)), "segment -1 first");
}

/// Session windowing with an inactivity gap, as the runtime will do it: find the sessions a
/// record at `t` merges with, remove them, put the merged one (value: records counted).
fn merge(s: &mut SessionStore, kv: &mut dyn KeyValueStore, key: &[u8], t: i64, gap: i64) {
    let found = s.find_sessions(kv, key, t - gap, t + gap).unwrap();
    let (mut start, mut end, mut count) = (t, t, 1u64);
    for ((s0, e0), value) in &found {
        start = start.min(*s0);
        end = end.max(*e0);
        count += String::from_utf8(value.clone())
            .unwrap()
            .parse::<u64>()
            .unwrap();
    }
    for ((s0, e0), _) in found {
        assert!(s.put(kv, key, s0, e0, None).unwrap());
    }
    assert!(
        s.put(kv, key, start, end, Some(count.to_string().as_bytes()))
            .unwrap()
    );
}

pub fn merge_sequences<F: Fixture>() {
    let mut f = F::new();
    let (mut kv, mut s) = open(&mut f);
    let counts = |s: &SessionStore, kv: &F::Store, key: &[u8]| -> Vec<((i64, i64), String)> {
        s.fetch(kv, key)
            .unwrap()
            .into_iter()
            .map(|(b, v)| (b, String::from_utf8(v).unwrap()))
            .collect()
    };
    let records: [(&[u8], i64); 6] = [
        (b"u", 0),
        (b"u2", 3),
        (b"u", 5),
        (b"u", 30),
        (b"u", 12),
        (b"u2", 40),
    ];
    for (key, t) in records {
        merge(&mut s, &mut kv, key, t, 10);
        settle::<F>(&mut kv);
    }
    let c = |b, n: &str| (b, n.to_owned());
    assert_eq!(counts(&s, &kv, b"u"), [c((0, 12), "3"), c((30, 30), "1")]);
    // A record between the two sessions bridges them.
    merge(&mut s, &mut kv, b"u", 21, 10);
    settle::<F>(&mut kv);
    assert_eq!(counts(&s, &kv, b"u"), [c((0, 30), "5")]);
    assert_eq!(counts(&s, &kv, b"u2"), [c((3, 3), "1"), c((40, 40), "1")]);
    kv.commit(Offsets::from([(0, 1)])).unwrap();
    merge(&mut s, &mut kv, b"u2", 35, 10);
    assert_eq!(counts(&s, &kv, b"u2"), [c((3, 3), "1"), c((35, 40), "2")]);
}

pub fn expiry_by_session_end<F: Fixture>() {
    let mut f = F::new();
    let (mut kv, mut s) = open(&mut f);
    for end in (0..150).step_by(10) {
        s.put(&mut kv, b"a", end - 5, end, Some(b"a")).unwrap();
        s.put(&mut kv, b"b", -1_000, end, Some(b"long")).unwrap();
    }
    settle::<F>(&mut kv);
    assert_eq!(raw_keys(&kv).len(), 30);
    // Observed 140: sessions ending at or before 40 are expired, whatever their start.
    assert_eq!(s.fetch_session(&kv, b"b", -1_000, 40).unwrap(), None);
    assert_eq!(s.fetch_session(&kv, b"b", -1_000, 50).unwrap(), v("long"));
    assert_eq!(
        s.find_sessions(&kv, b"b", i64::MIN, i64::MAX)
            .unwrap()
            .len(),
        10
    );
    s.observe(&mut kv, 199).unwrap();
    settle::<F>(&mut kv);
    let raw = raw_keys(&kv);
    assert_eq!(raw.len(), 10);
    assert!(
        raw.iter()
            .all(|k| k.as_slice() >= segment_prefix(2).as_slice())
    );
    assert_eq!(
        bounds(s.fetch(&kv, b"a").unwrap()),
        (100..150)
            .step_by(10)
            .map(|e| (e - 5, e))
            .collect::<Vec<_>>()
    );
    if F::EXACT_COUNT {
        assert_eq!(kv.approximate_num_entries().unwrap(), 10);
    }
    assert!(!s.put(&mut kv, b"a", 0, 99, Some(b"late")).unwrap());
    assert!(!s.put(&mut kv, b"a", 95, 99, None).unwrap());
    assert!(s.put(&mut kv, b"a", 0, 100, Some(b"live segment")).unwrap());
    settle::<F>(&mut kv);
    assert_eq!(raw_keys(&kv).len(), 11);
    assert!(s.put(&mut kv, b"c", 300, 300, Some(b"c")).unwrap());
    settle::<F>(&mut kv);
    assert_eq!(raw_keys(&kv).len(), 1);
    assert_eq!(
        s.all(&kv).unwrap(),
        vec![(b"c".to_vec(), (300, 300), b"c".to_vec())]
    );
}

pub fn reopen_and_restore<F: Fixture>() {
    // The changelog a logged session store writes, expired sessions included.
    let recorder = Recorder(Arc::new(Mutex::new(Vec::new())));
    let mut source = ChangeLoggingStore::new(InMemoryStore::new(NAME), Box::new(recorder.clone()));
    let mut sessions = SessionStore::open(CONFIG, &mut source).unwrap();
    for t in (0..=300).step_by(7) {
        merge(&mut sessions, &mut source, b"u", t, 10);
        merge(&mut sessions, &mut source, b"v", t + 3, 3);
    }
    let changelog = recorder.0.lock().unwrap().clone();
    let source = source.into_inner();

    let mut f = F::new();
    let mut kv = f.open();
    kv.restore(WriteBatch {
        writes: changelog.clone(),
        offsets: Offsets::from([(0, changelog.len() as i64 - 1)]),
    })
    .unwrap();
    let s = SessionStore::open(CONFIG, &mut kv).unwrap();
    assert_eq!(s.observed_stream_time(), 297);
    assert_eq!(collect(kv.all().unwrap()), collect(source.all().unwrap()));
    assert_eq!(s.all(&kv).unwrap(), sessions.all(&source).unwrap());
    assert_eq!(bounds(s.fetch(&kv, b"u").unwrap()), [(0, 294)]);
    if F::PERSISTENT {
        kv.close().unwrap();
        drop(kv);
        let (kv, s) = open(&mut f);
        assert_eq!(s.observed_stream_time(), 297);
        assert_eq!(s.all(&kv).unwrap(), sessions.all(&source).unwrap());
    }
}

/// Sessions by (key, end, start), as the store orders one key's sessions.
#[derive(Default)]
struct Model {
    observed: Option<i64>,
    sessions: BTreeMap<(Vec<u8>, i64, i64), Vec<u8>>,
}

impl Model {
    fn live_from(&self) -> Option<i64> {
        let live = i128::from(self.observed?) - i128::from(CONFIG.retention_ms) + 1;
        i64::try_from(live).ok()
    }

    fn segment(t: i64) -> i64 {
        t.div_euclid(CONFIG.segment_interval_ms)
    }

    fn put(&mut self, key: &[u8], start: i64, end: i64, value: Option<Vec<u8>>) -> bool {
        self.observed = Some(self.observed.map_or(end, |o| o.max(end)));
        if self
            .live_from()
            .is_some_and(|from| Self::segment(end) < Self::segment(from))
        {
            return false;
        }
        let slot = (key.to_vec(), end, start);
        match value {
            Some(v) => self.sessions.insert(slot, v),
            None => self.sessions.remove(&slot),
        };
        true
    }

    fn find(&self, key: &[u8], earliest_end: i64, latest_start: i64) -> Found {
        let live_from = self.live_from().unwrap_or(i64::MIN);
        self.sessions
            .iter()
            .filter(|((k, end, start), _)| {
                k == key && *end >= earliest_end.max(live_from) && *start <= latest_start
            })
            .map(|((_, end, start), v)| ((*start, *end), v.clone()))
            .collect()
    }
}

pub fn randomized_against_a_model<F: Fixture>() {
    let mut f = F::new();
    let (mut kv, mut s) = open(&mut f);
    let mut model = Model::default();
    let mut rng = Rng(0x5851_f42d_4c95_7f2d);
    let mut now: i64 = -300;
    for step in 0..4_000u32 {
        now += rng.below(4) as i64;
        let key = rng.key();
        let end = now - 130 + rng.below(150) as i64;
        let start = end - rng.below(60) as i64;
        match rng.below(10) {
            0..=3 => {
                let value = step.to_be_bytes().to_vec();
                let stored = s.put(&mut kv, &key, start, end, Some(&value)).unwrap();
                assert_eq!(
                    stored,
                    model.put(&key, start, end, Some(value)),
                    "put at {step}"
                );
            }
            4 => {
                // Remove a session that exists, when the key has one.
                let existing = model.find(&key, i64::MIN, i64::MAX).into_iter().next();
                let ((start, end), _) = existing.unwrap_or(((start, end), Vec::new()));
                let stored = s.put(&mut kv, &key, start, end, None).unwrap();
                assert_eq!(
                    stored,
                    model.put(&key, start, end, None),
                    "remove at {step}"
                );
            }
            5 => {
                s.observe(&mut kv, now).unwrap();
                model.observed = Some(model.observed.map_or(now, |o| o.max(now)));
            }
            6 => kv.commit(Offsets::from([(0, i64::from(step))])).unwrap(),
            7 => {
                let expected = model
                    .find(&key, end, start)
                    .into_iter()
                    .find(|(b, _)| *b == (start, end));
                let got = s.fetch_session(&kv, &key, start, end).unwrap();
                assert_eq!(got, expected.map(|(_, v)| v), "fetch_session at {step}");
            }
            _ => {
                let earliest_end = now - 200 + rng.below(250) as i64;
                let latest_start = now - 200 + rng.below(250) as i64;
                let got = s
                    .find_sessions(&kv, &key, earliest_end, latest_start)
                    .unwrap();
                let expected = model.find(&key, earliest_end, latest_start);
                assert_eq!(
                    got, expected,
                    "find {key:?} {earliest_end} {latest_start} at {step}"
                );
            }
        }
        settle::<F>(&mut kv);
        assert_eq!(
            s.observed_stream_time(),
            model.observed.unwrap_or(i64::MIN),
            "observed at {step}"
        );
        if step % 100 == 0 {
            let got = s.all(&kv).unwrap();
            let live_from = model.live_from().unwrap_or(i64::MIN);
            let mut expected: Vec<_> = model
                .sessions
                .iter()
                .filter(|((_, end, _), _)| *end >= live_from)
                .map(|((k, end, start), v)| (k.clone(), (*start, *end), v.clone()))
                .collect();
            expected.sort_by_key(|(k, (start, end), _)| (*end, k.clone(), *start));
            assert_eq!(got, expected, "all at {step}");
        }
    }
}
