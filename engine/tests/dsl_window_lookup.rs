//! Golden tests of `KStream::left_join_window` through the test driver: requests joined with the
//! window of their key that ended last at or before them, at most one window size earlier, in a
//! sliding-window count and a tumbling-window count; and the build errors (sessions, a
//! suppressed table). Expected outputs are worked out by hand in the comments.
//! Notation: `a@[s,e]` is key `a` in sliding window `[s, e]`; size d.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use weir_engine::testkit::TopologyTestDriver;
use weir_engine::{
    Consumed, EmitStrategy, Grouped, Materialized, Produced, Serdes, SessionWindows,
    SlidingWindows, StreamsBuilder, TimeWindows,
};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn strings() -> Consumed<String, String> {
    Consumed::with(Serdes::string(), Serdes::string())
}

fn pipe(d: &mut TopologyTestDriver, topic: &str, key: &str, value: &str, ts: i64) {
    d.input_topic(topic, Serdes::string(), Serdes::string())
        .pipe_at(d, key.to_owned(), value.to_owned(), ts)
        .unwrap();
}

/// `(key, value, timestamp)` of every answer.
fn answers(d: &mut TopologyTestDriver) -> Vec<(String, String, i64)> {
    d.output_topic("answers", Serdes::string(), Serdes::string())
        .read_records(d)
        .unwrap()
        .into_iter()
        .map(|r| (r.key, r.value.unwrap_or_default(), r.timestamp))
        .collect()
}

/// Searches counted per key in windows, requests answered with the count of the window found
/// (`-` for none).
fn topology(sliding: bool) -> weir_engine::Topology {
    let b = StreamsBuilder::new("window-lookup");
    let grouped = b
        .stream("searches", strings())
        .group_by_key(Grouped::default());
    let windowed = if sliding {
        // Grace = d, so a window stays readable for d after its end.
        grouped.windowed_by_sliding(SlidingWindows::of_time_difference_and_grace(
            ms(100),
            ms(100),
        ))
    } else {
        grouped.windowed_by(TimeWindows::of_size_and_grace(ms(100), ms(100)))
    };
    let counts = windowed.count(Materialized::as_("counts"));
    b.stream("requests", strings())
        .left_join_window(&counts, |req, n| match n {
            Some(n) => format!("{req}:{n}"),
            None => format!("{req}:-"),
        })
        .named("lookup-counts")
        .to(
            "answers",
            Produced::with(Serdes::string(), Serdes::string()),
        );
    b.build().unwrap()
}

#[test]
fn a_request_sees_the_window_that_ended_last_within_one_size() {
    let mut d = TopologyTestDriver::new(topology(true)).unwrap();
    // d = 100, grace 100.
    //   r1 a@50   no search yet                                        → "r1:-"
    //   s  a@200  a@[100,200] = 1
    //   s  a@230  a@[130,230] = 2; a@[201,301] = 1 (right window of 200, holds 230)
    //   r2 a@260  windows ending in [160, 260]: [100,200], [130,230] → the last: 2 → "r2:2"
    //   r3 b@260  b has no windows                                     → "r3:-"
    //   r4 a@320  ending in [220, 320]: [130,230] (230), [201,301] (301) → 301: 1 → "r4:1"
    //   r5 a@420  ending in [320, 420]: none (last search 230, more than d before) → "r5:-"
    pipe(&mut d, "requests", "a", "r1", 50);
    pipe(&mut d, "searches", "a", "s", 200);
    pipe(&mut d, "searches", "a", "s", 230);
    pipe(&mut d, "requests", "a", "r2", 260);
    pipe(&mut d, "requests", "b", "r3", 260);
    pipe(&mut d, "requests", "a", "r4", 320);
    pipe(&mut d, "requests", "a", "r5", 420);
    let s = |k: &str, v: &str, t: i64| (k.to_owned(), v.to_owned(), t);
    assert_eq!(
        answers(&mut d),
        vec![
            s("a", "r1:-", 50),
            s("a", "r2:2", 260),
            s("b", "r3:-", 260),
            s("a", "r4:1", 320),
            s("a", "r5:-", 420),
        ]
    );
}

#[test]
fn a_request_sees_the_last_tumbling_window_over() {
    let mut d = TopologyTestDriver::new(topology(false)).unwrap();
    // size 100, grace 100.
    //   s  a@10, a@20, a@120 → a@[0,100) = 2, a@[100,200) = 1
    //   r1 a@150  windows ending in [50, 150]: [0,100) → 2   (the open [100,200) is not over)
    //   r2 a@200  ending in [100, 200]: [0,100) (100), [100,200) (200) → the last: 1
    //   r3 a@301  ending in [201, 301]: none                 → "-"
    pipe(&mut d, "searches", "a", "s", 10);
    pipe(&mut d, "searches", "a", "s", 20);
    pipe(&mut d, "searches", "a", "s", 120);
    pipe(&mut d, "requests", "a", "r1", 150);
    pipe(&mut d, "requests", "a", "r2", 200);
    pipe(&mut d, "requests", "a", "r3", 301);
    let s = |k: &str, v: &str, t: i64| (k.to_owned(), v.to_owned(), t);
    assert_eq!(
        answers(&mut d),
        vec![
            s("a", "r1:2", 150),
            s("a", "r2:1", 200),
            s("a", "r3:-", 301)
        ]
    );
}

#[test]
fn sessions_and_suppressed_tables_are_build_errors() {
    let b = StreamsBuilder::new("window-lookup");
    let sessions = b
        .stream("searches", strings())
        .group_by_key(Grouped::default())
        .windowed_by_session(SessionWindows::of_inactivity_gap_and_grace(ms(10), ms(0)))
        .count(Materialized::as_("sessions"));
    b.stream("requests", strings())
        .left_join_window(&sessions, |r, n| format!("{r}{n:?}"))
        .to(
            "answers",
            Produced::with(Serdes::string(), Serdes::string()),
        );
    let err = b.build().err().expect("sessions refused").to_string();
    assert!(err.contains("holds sessions"), "{err}");

    let b = StreamsBuilder::new("window-lookup");
    let finals = b
        .stream("searches", strings())
        .group_by_key(Grouped::default())
        .windowed_by(TimeWindows::of_size_and_grace(ms(10), ms(0)))
        .emit_strategy(EmitStrategy::OnWindowClose)
        .count(Materialized::as_("finals"));
    b.stream("requests", strings())
        .left_join_window(&finals, |r, n| format!("{r}{n:?}"))
        .to(
            "answers",
            Produced::with(Serdes::string(), Serdes::string()),
        );
    let err = b
        .build()
        .err()
        .expect("a suppressed table refused")
        .to_string();
    assert!(err.contains("not materialized"), "{err}");
}
