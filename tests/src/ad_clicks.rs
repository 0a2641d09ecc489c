//! `ad-clicks`: the end-to-end test topology of event time on a broker — a windowed count and a
//! stream–stream join over two co-partitioned topics — and its input, generated here with the
//! expected results worked out without weir.
//!
//! Topics (key: user id; value: `"<event time ms>:<id>"`, the event time read by a timestamp
//! extractor, so windows follow it and not the produce time):
//! * `ad-clicks` → tumbling 10 s windows, grace 1 h → count per user and window →
//!   `ad-click-counts` (key `user@window start`, value i64);
//! * `ad-impressions` ⋈ `ad-clicks` within 2 s either way (grace 1 h) → `ad-clicks-joined`
//!   (key user, value `"<impression id>|<click id>"`).
//!
//! The long grace keeps every record on time however the worker's fetches interleave, so the
//! expected results are exact functions of the input.

use std::collections::BTreeMap;
use std::time::Duration;

use weir_engine::{
    Consumed, Grouped, JoinWindows, Materialized, Produced, Serdes, StreamJoined, StreamsBuilder,
    StreamsError, TimeWindows, Topology,
};

pub const CLICKS: &str = "ad-clicks";
pub const IMPRESSIONS: &str = "ad-impressions";
pub const COUNTS: &str = "ad-click-counts";
pub const JOINED: &str = "ad-clicks-joined";
pub const WINDOW_MS: i64 = 10_000;
pub const JOIN_MS: i64 = 2_000;
const BASE: i64 = 1_700_000_000_000;
const USERS: usize = 20;

fn event_time(value: Option<&String>) -> Result<i64, String> {
    let v = value.ok_or("no value")?;
    let (ts, _) = v
        .split_once(':')
        .ok_or_else(|| format!("no event time in `{v}`"))?;
    ts.parse::<i64>()
        .map_err(|e| format!("event time `{ts}`: {e}"))
}

fn source() -> Consumed<String, String> {
    Consumed::with(Serdes::string(), Serdes::string())
        .with_timestamp_extractor(|_, v, _, _| event_time(v))
}

/// The topology for `application_id`.
pub fn topology(application_id: &str) -> Result<Topology, StreamsError> {
    let b = StreamsBuilder::new(application_id);
    let clicks = b.stream(CLICKS, source().named("clicks-source"));
    let impressions = b.stream(IMPRESSIONS, source().named("impressions-source"));
    let grace = Duration::from_secs(3600);
    clicks
        .group_by_key(Grouped::default())
        .windowed_by(TimeWindows::of_size_and_grace(
            Duration::from_millis(WINDOW_MS as u64),
            grace,
        ))
        .count(Materialized::as_("click-counts"))
        .to_stream()
        .map(|w, n| (format!("{}@{}", w.key, w.window.start), n))
        .to(COUNTS, Produced::with(Serdes::string(), Serdes::i64()));
    impressions
        .join_stream(
            &clicks,
            |i: &String, c: &String| {
                let id = |v: &String| v.split_once(':').map_or(v.clone(), |(_, id)| id.to_owned());
                format!("{}|{}", id(i), id(c))
            },
            JoinWindows::of_time_difference_and_grace(Duration::from_millis(JOIN_MS as u64), grace),
            StreamJoined::default().with_store_name("impression-clicks"),
        )
        .to(JOINED, Produced::with(Serdes::string(), Serdes::string()));
    b.build()
}

/// One generated record: topic, user, event time, id.
#[derive(Debug, Clone)]
pub struct Event {
    pub topic: &'static str,
    pub user: String,
    pub ts: i64,
    pub id: String,
}

impl Event {
    pub fn record(&self) -> (Option<Vec<u8>>, Option<Vec<u8>>) {
        (
            Some(self.user.clone().into_bytes()),
            Some(format!("{}:{}", self.ts, self.id).into_bytes()),
        )
    }
}

/// `n` clicks and `n` impressions, 37 ms apart in event time, spread over 20 users.
pub fn events(n: usize) -> (Vec<Event>, Vec<Event>) {
    let clicks = (0..n)
        .map(|i| Event {
            topic: CLICKS,
            user: format!("u{:02}", (i * 7) % USERS),
            ts: BASE + i as i64 * 37 + (i % 7) as i64 * 3,
            id: format!("c{i}"),
        })
        .collect();
    let impressions = (0..n)
        .map(|j| Event {
            topic: IMPRESSIONS,
            user: format!("u{:02}", (j * 3) % USERS),
            ts: BASE + j as i64 * 37 + 11,
            id: format!("i{j}"),
        })
        .collect();
    (clicks, impressions)
}

/// Clicks per `user@window start`.
pub fn expected_counts(clicks: &[Event]) -> BTreeMap<String, i64> {
    let mut out = BTreeMap::new();
    for c in clicks {
        let start = c.ts - c.ts.rem_euclid(WINDOW_MS);
        *out.entry(format!("{}@{start}", c.user)).or_insert(0) += 1;
    }
    out
}

/// Every `impression|click` pair of one user within 2 s of each other, with its count (1).
pub fn expected_pairs(clicks: &[Event], impressions: &[Event]) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    for i in impressions {
        for c in clicks {
            if c.user == i.user && (c.ts - i.ts).abs() <= JOIN_MS {
                *out.entry(format!("{}|{}", i.id, c.id)).or_insert(0) += 1;
            }
        }
    }
    out
}
