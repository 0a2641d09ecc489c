//! Reliability scenario 7 (RELIABILITY.md): the state endpoint of a user-interests worker under
//! a bounded fuzz run of bad requests — random methods, paths, keys (raw bytes, bad
//! percent-encoding, 10 KB keys), query strings, header sets and broken request lines — over
//! loopback, while the worker processes a steady load of searches. Every answer must be 2xx,
//! 3xx (a redirect asked for) or 4xx with a JSON body where the route is the endpoint's; the
//! worker must not panic or exit, and must process the load at its normal rate.
//!
//! CI: 10,000 requests; `WEIR_RELIABILITY_FULL=1`: 20,000 (≤ 60 s either way).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use weir_tests::scenario::{self, Rng};
use weir_tests::{
    Broker, WorkerArgs, WorkerProcess, committed_offsets, create_topic, free_port, produce,
    temp_state_dir, unique_name,
};
use weir_topologies::user_interests;

const WORKER: &str = env!("CARGO_BIN_EXE_weir-test-worker");

/// One raw HTTP exchange: the status code, or `None` when the server closed without one.
fn exchange(port: u16, request: &[u8]) -> Option<(u16, String)> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    s.write_all(request).ok()?;
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw);
    let text = String::from_utf8_lossy(&raw).into_owned();
    let status = text.get(9..12)?.parse().ok()?;
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    Some((status, body))
}

const METHODS: &[&str] = &[
    "GET", "GET", "GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH", "BREW",
];
const STORES: &[&str] = &[
    "search-counts",
    "user-interests",
    "nope",
    "",
    "%00",
    "..",
    "search-counts%2F..",
];
const QUERIES: &[&str] = &[
    "",
    "?redirect=1",
    "?redirect=maybe",
    "?from=a&to=z",
    "?from=z&to=a",
    "?limit=-1",
    "?limit=99999999999999999999",
    "?limit=abc",
    "?from=%ff%fe&to=%00",
    "?=&&==",
    "?from",
    "?%zz",
];

fn key(rng: &mut Rng) -> String {
    match rng.range(0, 6) {
        0 => format!("user-{:02}", rng.range(0, 20)),
        1 => (0..rng.range(1, 40))
            .map(|_| format!("%{:02x}", rng.range(0, 256)))
            .collect(),
        2 => "%zz%".into(),
        3 => "k".repeat(10_000),
        4 => String::new(),
        _ => "a/b/../../c".into(),
    }
}

fn path(rng: &mut Rng) -> String {
    let store = STORES[rng.range(0, STORES.len())];
    let query = QUERIES[rng.range(0, QUERIES.len())];
    match rng.range(0, 10) {
        0..=3 => format!("/stores/{store}/keys/{}{query}", key(rng)),
        4 => format!("/stores/{store}/range{query}"),
        5 => format!("/stores{query}"),
        6 => [
            "/health",
            "/ready",
            "/tasks",
            "/topology",
            "/instances",
            "/metrics",
        ][rng.range(0, 6)]
        .to_owned(),
        7 => format!("/{}", key(rng)),
        8 => "//stores///keys".into(),
        _ => format!("/stores/{store}/keys/{}/extra{query}", key(rng)),
    }
}

fn request(rng: &mut Rng) -> Vec<u8> {
    let method = METHODS[rng.range(0, METHODS.len())];
    let path = path(rng);
    let mut headers = String::from("Host: fuzz\r\nConnection: close\r\n");
    match rng.range(0, 8) {
        0 => headers.push_str("Content-Length: 5\r\n\r\nhello"),
        1 => headers.push_str("Content-Length: -3\r\n"),
        2 => headers.push_str("Transfer-Encoding: chunked, gzip\r\n"),
        3 => headers.push_str(&format!("X-Big: {}\r\n", "x".repeat(20_000))),
        4 => headers.push_str("Accept: */*\r\nAccept: text/html\r\n"),
        _ => {}
    }
    match rng.range(0, 30) {
        0 => b"GARBAGE\r\n\r\n".to_vec(),
        1 => format!("{method} {path}\r\n\r\n").into_bytes(),
        2 => vec![0xff, 0xfe, b'\r', b'\n', b'\r', b'\n'],
        _ => {
            let mut r = format!("{method} {path} HTTP/1.1\r\n{headers}").into_bytes();
            if !headers.ends_with("hello") {
                r.extend_from_slice(b"\r\n");
            }
            r
        }
    }
}

/// Input records the worker has committed (sum over partitions).
fn committed(bootstrap: &str, app: &str) -> i64 {
    committed_offsets(bootstrap, app, user_interests::INPUT)
        .into_iter()
        .map(|o| o.unwrap_or(0))
        .sum()
}

fn searches(from: usize, n: usize) -> Vec<(Option<Vec<u8>>, Option<Vec<u8>>)> {
    (from..from + n)
        .map(|i| {
            let user = format!("user-{:02}", i % 20);
            let value = serde_json::json!({
                "user_id": user, "query": "q", "product_id": format!("p-{i}"),
                "category": "toys", "ts": i,
            });
            (
                Some(user.into_bytes()),
                Some(value.to_string().into_bytes()),
            )
        })
        .collect()
}

/// Seconds the worker took to commit `n` more searches produced now.
fn load_seconds(bootstrap: &str, app: &str, from: usize, n: usize, w: &mut WorkerProcess) -> f64 {
    let before = committed(bootstrap, app);
    let t = Instant::now();
    produce(bootstrap, user_interests::INPUT, searches(from, n));
    while committed(bootstrap, app) < before + n as i64 {
        assert!(
            t.elapsed() < Duration::from_secs(120),
            "load not processed\n{}",
            w.log_tail(30)
        );
        assert!(w.is_running(), "the worker exited\n{}", w.log_tail(30));
        std::thread::sleep(Duration::from_millis(50));
    }
    t.elapsed().as_secs_f64()
}

#[test]
fn scenario_7_the_state_endpoint_answers_bad_requests_with_4xx_and_keeps_processing() {
    let broker = Broker::start();
    let b = broker.bootstrap();
    for t in [
        user_interests::INPUT,
        user_interests::COUNTS,
        user_interests::INTERESTS,
    ] {
        create_topic(&b, t, 2, false);
    }
    let app = unique_name("rel-http");
    let port = free_port();
    let state = temp_state_dir();
    let args = WorkerArgs::new("user-interests", &b, &app, state.path())
        .commit_interval_ms(100)
        .set("http.addr", &format!("127.0.0.1:{port}"));
    let mut w = WorkerProcess::start(WORKER, "rel-http", &args);
    let load = 5_000;
    // Warm-up (the group join, the first fetches), then the baseline; the fuzz's load follows.
    load_seconds(&b, &app, 2 * load, 1_000, &mut w);
    let baseline = load_seconds(&b, &app, 0, load, &mut w);

    let requests = scenario::scale(10_000, 20_000);
    let mut rng = Rng::for_scenario("scenario-7");
    let bootstrap = b.clone();
    let app2 = app.clone();
    // The load runs beside the fuzz, on its own thread.
    let loader = std::thread::spawn(move || {
        let t = Instant::now();
        let before = committed(&bootstrap, &app2);
        produce(&bootstrap, user_interests::INPUT, searches(load, load));
        while committed(&bootstrap, &app2) < before + load as i64
            && t.elapsed() < Duration::from_secs(120)
        {
            std::thread::sleep(Duration::from_millis(50));
        }
        t.elapsed().as_secs_f64()
    });
    let t = Instant::now();
    let mut statuses: BTreeMap<u16, usize> = BTreeMap::new();
    let (mut closed, mut bad, mut not_json) = (0usize, Vec::new(), 0usize);
    let mut sent = 0;
    while sent < requests && t.elapsed() < Duration::from_secs(60) {
        let req = request(&mut rng);
        sent += 1;
        match exchange(port, &req) {
            None => closed += 1,
            Some((status, body)) => {
                *statuses.entry(status).or_default() += 1;
                if !(200..500).contains(&status) && bad.len() < 10 {
                    bad.push(format!(
                        "{status} for {:?}",
                        String::from_utf8_lossy(&req[..req.len().min(200)])
                    ));
                }
                // 400 and 431 come from the HTTP parser (hyper) before any route: no body; an
                // answer to HEAD has none either.
                let ours = (400..500).contains(&status)
                    && status != 400
                    && status != 431
                    && !req.starts_with(b"HEAD ");
                if ours && serde_json::from_str::<serde_json::Value>(&body).is_err() {
                    not_json += 1;
                }
            }
        }
    }
    let fuzz_s = t.elapsed().as_secs_f64();
    let during = loader.join().unwrap();
    let alive = w.is_running();
    let log = w.log();
    let panicked = log.contains("panicked");
    scenario::report(
        "7 http fuzz",
        &[
            ("requests", sent.to_string()),
            ("seconds", format!("{fuzz_s:.1}")),
            ("statuses", format!("{statuses:?}").replace(' ', "")),
            ("closed_without_answer", closed.to_string()),
            ("non_json_4xx", not_json.to_string()),
            ("load_s_before", format!("{baseline:.2}")),
            ("load_s_during", format!("{during:.2}")),
            ("worker_alive", alive.to_string()),
            ("panics", panicked.to_string()),
        ],
    );
    assert!(bad.is_empty(), "answers outside 2xx-4xx: {bad:#?}");
    assert_eq!(
        not_json, 0,
        "4xx answers of the endpoint without a JSON body"
    );
    assert!(
        alive && !panicked,
        "the worker died or panicked\n{}",
        w.log_tail(40)
    );
    assert!(
        during < baseline * 4.0 + 2.0,
        "the load took {during:.2} s during the fuzz, {baseline:.2} s before it"
    );
    w.terminate(Duration::from_secs(30));
}
