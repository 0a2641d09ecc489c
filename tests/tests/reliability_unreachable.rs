//! Reliability scenario 5 (RELIABILITY.md): the broker unreachable when the worker starts, and
//! again mid-run. A [`Proxy`] stands between every client and tansu (which advertises the
//! proxy's address); cutting it resets every connection and refuses new ones, while the broker
//! keeps its data. The worker must keep retrying, say so in its log and in `/ready` (503 with
//! the reason), never exit, and finish with 0 lost once the broker is back.
//!
//! CI: 10 s outages; `WEIR_RELIABILITY_FULL=1`: 60 s.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashSet;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use weir_tests::scenario;
use weir_tests::verify;
use weir_tests::{
    Broker, Proxy, TopicTail, WorkerArgs, WorkerProcess, free_port, temp_state_dir, unique_name,
};
use weir_topologies::product_filter;

const WORKER: &str = env!("CARGO_BIN_EXE_weir-test-worker");

/// `GET /ready`: (status, body); `None` while the endpoint does not answer.
fn ready(port: u16) -> Option<(u16, String)> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        s,
        "GET /ready HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut raw = String::new();
    s.read_to_string(&mut raw).ok()?;
    let status = raw.get(9..12)?.parse().ok()?;
    Some((
        status,
        raw.split_once("\r\n\r\n")
            .map(|(_, b)| b.to_owned())
            .unwrap_or_default(),
    ))
}

/// Watches the worker through an outage of `secs`: it must stay up and `/ready` must say 503
/// naming the broker. Returns the last `/ready` body seen.
fn ride_out(w: &mut WorkerProcess, http: u16, secs: u64) -> String {
    let until = Instant::now() + Duration::from_secs(secs);
    let mut last = String::new();
    let mut said_unreachable = false;
    while Instant::now() < until {
        assert!(
            w.is_running(),
            "the worker exited while the broker was unreachable\n{}",
            w.log_tail(40)
        );
        if let Some((status, body)) = ready(http) {
            // librdkafka notices the lost connections within moments; give it 2 s.
            let noticed =
                Instant::now() + Duration::from_secs(secs) - until > Duration::from_secs(2);
            assert!(
                status != 200 || !noticed,
                "ready while the broker is unreachable: {body}"
            );
            said_unreachable |= status == 503 && body.contains("broker");
            last = body;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    assert!(
        said_unreachable,
        "/ready never named the broker during the outage; last: {last}\n{}",
        w.log_tail(30)
    );
    last
}

/// Seconds until `/ready` answers 200 again (the worker resumed), at most 120.
fn until_ready(w: &mut WorkerProcess, http: u16) -> f64 {
    let t = Instant::now();
    while ready(http).map(|(s, _)| s) != Some(200) {
        assert!(
            t.elapsed() < Duration::from_secs(120),
            "not ready 120 s after the broker came back\n{}",
            w.log_tail(40)
        );
        assert!(w.is_running(), "the worker exited\n{}", w.log_tail(40));
        std::thread::sleep(Duration::from_millis(100));
    }
    t.elapsed().as_secs_f64()
}

#[test]
fn scenario_5_a_worker_rides_out_an_unreachable_broker_at_start_and_mid_run() {
    let outage = scenario::scale(10, 60);
    let n = scenario::scale(20_000, 100_000);
    let proxy_port = free_port();
    let broker = Broker::start_advertising(proxy_port);
    let mut proxy = Proxy::start(
        proxy_port,
        SocketAddr::from(([127, 0, 0, 1], broker.port())),
    );
    let b = proxy.address();
    let (inputs, expected) = scenario::product_filter_input(&b, n);
    let mut out = TopicTail::uncommitted(&broker.bootstrap(), product_filter::OUTPUT);

    // 1. Unreachable at start.
    proxy.cut();
    let http = free_port();
    let state = temp_state_dir();
    let app = unique_name("rel-unreachable");
    let args = WorkerArgs::new("product-filter", &b, &app, state.path())
        .commit_interval_ms(500)
        .set("producer.queue.buffering.max.messages", "2000")
        .set("producer.linger.ms", "100")
        .set("http.addr", &format!("127.0.0.1:{http}"));
    let t0 = Instant::now();
    let mut w = WorkerProcess::spawn(WORKER, "unreachable", &args);
    let at_start = ride_out(&mut w, http, outage);
    proxy.open();
    let ready_after_start_outage = until_ready(&mut w, http);
    let reopened = Instant::now();
    let (mut seen, mut read) = (HashSet::new(), 0usize);
    let mut distinct = |out: &TopicTail| {
        for r in &out.records()[read..] {
            seen.insert(r.key.clone());
        }
        read = out.records().len();
        seen.len()
    };
    while distinct(&out) < expected / 3 {
        assert!(
            reopened.elapsed() < Duration::from_secs(120),
            "no progress after the broker came back\n{}",
            w.log_tail(40)
        );
        assert!(w.is_running(), "the worker exited\n{}", w.log_tail(40));
        out.poll(Duration::from_millis(100));
    }
    let first_recovery = reopened.elapsed().as_secs_f64();

    // 2. Unreachable mid-run.
    proxy.cut();
    let mid_run = ride_out(&mut w, http, outage);
    proxy.open();
    let ready_after_mid_run_outage = until_ready(&mut w, http);
    let reopened = Instant::now();
    while distinct(&out) < expected {
        assert!(
            reopened.elapsed() < Duration::from_secs(180),
            "{} of {expected} after the second outage\n{}",
            seen.len(),
            w.log_tail(40)
        );
        assert!(w.is_running(), "the worker exited\n{}", w.log_tail(40));
        out.poll(Duration::from_millis(100));
    }
    out.wait_idle(Duration::from_secs(2), Duration::from_secs(30));
    let log = w.log();
    w.terminate(Duration::from_secs(30));
    let verdict = verify::expect_products(&inputs, scenario::product_passes, out.records());
    scenario::report(
        "5 broker unreachable",
        &[
            ("outage_s", outage.to_string()),
            ("products", n.to_string()),
            ("lost", verdict.lost.to_string()),
            ("duplicated", verdict.duplicated.to_string()),
            ("wrong", verdict.wrong.to_string()),
            (
                "ready_s_after_start_outage",
                format!("{ready_after_start_outage:.1}"),
            ),
            (
                "third_of_output_s_after_start_outage",
                format!("{first_recovery:.1}"),
            ),
            (
                "ready_s_after_mid_run_outage",
                format!("{ready_after_mid_run_outage:.1}"),
            ),
            ("total_s", format!("{:.1}", t0.elapsed().as_secs_f64())),
        ],
    );
    eprintln!("/ready at start: {at_start}\n/ready mid-run: {mid_run}");
    assert!(
        log.lines().any(|l| l.contains("unreachable")
            || l.contains("AllBrokersDown")
            || l.contains("all brokers down")),
        "the log never said the broker was unreachable"
    );
    assert!(verdict.at_least_once(), "{verdict}");
}
