//! The state endpoint over a real socket, on a worker running on the embedded broker: health,
//! readiness, token, topology, tasks, stores, keys (found, absent, bad), global stores, paginated
//! ranges, and 4xx answers for bad requests.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use serde_json::Value;
use weir_engine::http::{EndpointConfig, StateEndpoint};
use weir_engine::kafka::embedded::EmbeddedBroker;
use weir_engine::kafka::tools::RecordWriter;
use weir_engine::{
    Consumed, Grouped, KafkaStreams, Materialized, Serdes, StreamsBuilder, StreamsConfig,
};

const TOKEN: &str = "s3cret";

/// `GET path` over a fresh connection: (status, body).
fn get(addr: SocketAddr, path: &str, token: Option<&str>) -> (u16, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: test\r\n{auth}Connection: close\r\n\r\n"
    )
    .unwrap();
    let mut raw = String::new();
    s.read_to_string(&mut raw).unwrap();
    let status: u16 = raw[9..12].parse().unwrap();
    let body = raw.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or("");
    // axum answers small bodies with a content-length; chunked bodies are not expected here.
    (status, body.to_owned())
}

fn json(addr: SocketAddr, path: &str) -> (u16, Value) {
    let (status, body) = get(addr, path, Some(TOKEN));
    let v = serde_json::from_str(&body).unwrap_or_else(|e| panic!("{path}: {e}: {body}"));
    (status, v)
}

fn eventually(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn the_endpoint_answers_over_a_socket() {
    let broker = EmbeddedBroker::start(1).unwrap();
    let b = StreamsBuilder::new("counts-app");
    b.global_table(
        "labels",
        Consumed::with(Serdes::string(), Serdes::string()),
        Materialized::as_("labels"),
    );
    b.stream("words", Consumed::with(Serdes::string(), Serdes::string()))
        .group_by_key(Grouped::default())
        .count(Materialized::as_("counts"));
    let topology = b.build().unwrap();
    broker.create_topics_of(&topology, 2, &[]).unwrap();
    let state = tempfile::tempdir().unwrap();
    let config = StreamsConfig::new("counts-app")
        .with("bootstrap.servers", &broker.bootstrap_servers())
        .and_then(|c| c.with("state.dir", &state.path().display().to_string()))
        .and_then(|c| c.with("commit.interval.ms", "100"))
        .unwrap();
    let mut streams = KafkaStreams::new(topology, config);
    streams.start().unwrap();
    let endpoint = StateEndpoint::start(
        EndpointConfig {
            bind: "127.0.0.1:0".into(),
            token: Some(TOKEN.into()),
            metrics: None,
            tls: None,
        },
        vec![weir_engine::http::AppState::of(&streams)],
    )
    .unwrap();
    let addr = endpoint.local_addr();

    let w = RecordWriter::new(&broker.bootstrap_servers()).unwrap();
    for k in ["k1", "k1", "k1", "k2"] {
        w.send("words", k.as_bytes(), Some(b"x")).unwrap();
    }
    for i in 0..25 {
        w.send("words", format!("w{i:02}").as_bytes(), Some(b"x"))
            .unwrap();
    }
    w.send("labels", b"a", Some(b"alpha")).unwrap();
    w.flush(Duration::from_secs(10)).unwrap();

    // Health needs no token; everything else does.
    assert_eq!(get(addr, "/health", None).0, 200);
    let (status, body) = get(addr, "/tasks", None);
    assert_eq!(status, 401, "{body}");
    assert_eq!(get(addr, "/tasks", Some("wrong")).0, 401);
    eventually("ready", || json(addr, "/ready").0 == 200);
    eventually("k1 counted three times", || {
        let (s, v) = json(addr, "/stores/counts/keys/k1");
        s == 200 && v["value"] == 3
    });
    let (_, v) = json(addr, "/stores/counts/keys/k1");
    assert_eq!(v["key"], "k1");
    assert_eq!(v["store"], "counts");
    assert!(v["task"].as_str().unwrap().starts_with("0_"), "{v}");

    // Absent key, unknown store (with a suggestion), bad requests.
    let (s, v) = json(addr, "/stores/counts/keys/nobody");
    assert_eq!(s, 404, "{v}");
    assert_eq!(v["error"], "key not found");
    let (s, v) = json(addr, "/stores/count/keys/k1");
    assert_eq!(s, 404);
    assert!(
        v["error"]
            .as_str()
            .unwrap()
            .contains("did you mean `counts`"),
        "{v}"
    );
    for bad in [
        "/stores/counts/range?limit=0",
        "/stores/counts/range?limit=1001",
        "/stores/counts/range?limit=ten",
        "/stores/counts/range?cursor=zz",
        "/topology?format=yaml",
    ] {
        let (s, v) = json(addr, bad);
        assert_eq!(s, 400, "{bad}: {v}");
        assert!(v["error"].is_string(), "{bad}: {v}");
    }
    assert_eq!(get(addr, "/no/such/route", Some(TOKEN)).0, 404);
    assert_eq!(json(addr, "/metrics").0, 404);

    // The global store answers every key.
    eventually("the label", || {
        json(addr, "/stores/labels/keys/a").1["value"] == "alpha"
    });

    // Ranges: pages of 10 in key order, following the cursor, cover every key once.
    eventually("all 27 keys", || {
        json(addr, "/stores/counts/range?limit=1000").1["entries"]
            .as_array()
            .is_some_and(|e| e.len() == 27)
    });
    let mut keys = Vec::new();
    let mut path = "/stores/counts/range?limit=10".to_owned();
    let mut pages = 0;
    loop {
        let (s, v) = json(addr, &path);
        assert_eq!(s, 200, "{v}");
        pages += 1;
        for e in v["entries"].as_array().unwrap() {
            keys.push(e["key"].as_str().unwrap().to_owned());
        }
        match v["next_cursor"].as_str() {
            Some(c) => path = format!("/stores/counts/range?limit=10&cursor={c}"),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(keys.len(), 27);
    let mut sorted = keys.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(keys, sorted, "pages in key order, no repeats");
    let (_, v) = json(addr, "/stores/counts/range?prefix=w1");
    assert_eq!(v["entries"].as_array().unwrap().len(), 10);
    let (_, v) = json(addr, "/stores/counts/range?from=w20&to=w23");
    let got: Vec<&str> = v["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["key"].as_str().unwrap())
        .collect();
    // `to` is inclusive, as Kafka Streams' range(from, to); `to_exclusive` is not.
    assert_eq!(got, ["w20", "w21", "w22", "w23"]);
    let (_, v) = json(addr, "/stores/counts/range?from=w20&to_exclusive=w23");
    assert_eq!(v["entries"].as_array().unwrap().len(), 3, "{v}");
    // Every error is JSON: a path that is not UTF-8, a repeated parameter, both bounds, an
    // unknown application.
    for (bad, status) in [
        ("/stores/counts/keys/%FF", 400),
        ("/stores/counts/range?limit=1&limit=2", 400),
        ("/stores/counts/range?to=w1&to_exclusive=w2", 400),
        ("/stores/counts/range?application=nope", 404),
    ] {
        let (s, v) = json(addr, bad);
        assert_eq!(s, status, "{bad}: {v}");
        assert!(v["error"].is_string(), "{bad}: {v}");
    }
    let (_, v) = json(addr, "/stores/counts/range?application=counts-ap");
    assert!(
        v["error"]
            .as_str()
            .unwrap()
            .starts_with("no application `counts-ap`; did you mean `counts-app`?"),
        "{v}"
    );

    // Stores, tasks, topology.
    let (_, v) = json(addr, "/stores");
    let counts = v["stores"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "counts")
        .unwrap();
    assert_eq!(counts["tasks"].as_array().unwrap().len(), 2);
    assert_eq!(counts["value_format"], "i64");
    let (_, v) = json(addr, "/tasks");
    let tasks = v["applications"][0]["tasks"].as_array().unwrap();
    assert_eq!(tasks.len(), 2);
    assert!(tasks.iter().all(|t| t["state"] == "running"), "{v}");
    let (_, v) = json(addr, "/topology");
    assert_eq!(v["applications"][0]["application"], "counts-app");
    let (s, text) = get(addr, "/topology?format=text", Some(TOKEN));
    assert_eq!(s, 200);
    assert!(text.contains("Sub-topology: 0"), "{text}");

    drop(endpoint);
    streams.close().unwrap();
}

#[test]
fn with_a_certificate_the_endpoint_serves_https_only() {
    let fixtures = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/registry");
    let config = EndpointConfig {
        tls: Some((fixtures.join("tls_cert.pem"), fixtures.join("tls_key.pem"))),
        token: Some(TOKEN.into()),
        ..EndpointConfig::new("127.0.0.1:0")
    };
    let endpoint = StateEndpoint::start(config, Vec::new()).unwrap();
    let port = endpoint.local_addr().port();
    // A client that trusts the test CA (the certificate is for localhost and 127.0.0.1).
    let pem = std::fs::read(fixtures.join("tls_cert.pem")).unwrap();
    let certs: Vec<_> = ureq::tls::parse_pem(&pem)
        .filter_map(|i| match i {
            Ok(ureq::tls::PemItem::Certificate(c)) => Some(c),
            _ => None,
        })
        .collect();
    let tls = ureq::tls::TlsConfig::builder()
        .root_certs(ureq::tls::RootCerts::new_with_certs(&certs))
        .build();
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .tls_config(tls)
        .build()
        .into();
    let mut health = agent
        .get(format!("https://localhost:{port}/health"))
        .call()
        .unwrap();
    assert_eq!(health.status(), 200);
    assert!(
        health
            .body_mut()
            .read_to_string()
            .unwrap()
            .contains("\"up\"")
    );
    let ready = agent
        .get(format!("https://localhost:{port}/ready"))
        .call()
        .unwrap();
    assert_eq!(ready.status(), 401, "the token is still required over TLS");
    // Plain HTTP on the TLS port gets no answer.
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    write!(
        s,
        "GET /health HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw);
    assert!(!String::from_utf8_lossy(&raw).contains("200 OK"));
    // A client that does not trust the certificate fails the handshake.
    let strict: ureq::Agent = ureq::Agent::config_builder().build().into();
    assert!(
        strict
            .get(format!("https://localhost:{port}/health"))
            .call()
            .is_err()
    );
}

#[test]
fn windowed_and_session_keys_are_answered_by_window_start() {
    // Records with explicit event times (a timestamp extractor reads them from the value):
    // k at 1,000, 3,000 and 12,000 ms → tumbling 10 s windows [0,10000) = 2, [10000,20000) = 1;
    // sessions with a 5 s gap → [1000,3000] = 2 and [12000,12000] = 1.
    let broker = EmbeddedBroker::start(1).unwrap();
    let b = StreamsBuilder::new("windows-app");
    let extract = |_: &String, v: Option<&String>, _: i64, _: i64| {
        v.and_then(|v| v.parse::<i64>().ok())
            .ok_or_else(|| "not a time".to_owned())
    };
    let grouped = b
        .stream(
            "clicks",
            Consumed::with(Serdes::string(), Serdes::string()).with_timestamp_extractor(extract),
        )
        .group_by_key(Grouped::default());
    grouped
        .windowed_by(weir_engine::TimeWindows::of_size_and_grace(
            Duration::from_secs(10),
            Duration::from_secs(3600),
        ))
        .count(Materialized::as_("windowed-counts"));
    grouped
        .windowed_by_session(weir_engine::SessionWindows::of_inactivity_gap_and_grace(
            Duration::from_secs(5),
            Duration::from_secs(3600),
        ))
        .count(Materialized::as_("sessions"));
    let topology = b.build().unwrap();
    broker.create_topics_of(&topology, 2, &[]).unwrap();
    let state = tempfile::tempdir().unwrap();
    let config = StreamsConfig::new("windows-app")
        .with("bootstrap.servers", &broker.bootstrap_servers())
        .and_then(|c| c.with("state.dir", &state.path().display().to_string()))
        .and_then(|c| c.with("commit.interval.ms", "100"))
        .unwrap();
    let mut streams = KafkaStreams::new(topology, config);
    streams.start().unwrap();
    let endpoint = StateEndpoint::start(
        EndpointConfig {
            bind: "127.0.0.1:0".into(),
            token: None,
            metrics: None,
            tls: None,
        },
        vec![weir_engine::http::AppState::of(&streams)],
    )
    .unwrap();
    let addr = endpoint.local_addr();
    let w = RecordWriter::new(&broker.bootstrap_servers()).unwrap();
    for t in ["1000", "3000", "12000"] {
        w.send("clicks", b"k", Some(t.as_bytes())).unwrap();
    }
    w.flush(Duration::from_secs(10)).unwrap();

    eventually("both windows counted", || {
        let (s, v) = json(addr, "/stores/windowed-counts/keys/k");
        s == 200 && v["windows"].as_array().is_some_and(|w| w.len() == 2)
    });
    let (_, v) = json(addr, "/stores/windowed-counts/keys/k");
    assert_eq!(
        v["windows"],
        serde_json::json!([
            {"start": 0, "end": 10000, "value": 2},
            {"start": 10000, "end": 20000, "value": 1},
        ]),
        "{v}"
    );
    // `from`/`to` bound the window start (inclusive).
    let (_, v) = json(addr, "/stores/windowed-counts/keys/k?from=5000&to=10000");
    assert_eq!(
        v["windows"],
        serde_json::json!([{"start": 10000, "end": 20000, "value": 1}])
    );
    let (s, v) = json(addr, "/stores/windowed-counts/keys/nobody");
    assert_eq!((s, v["windows"].clone()), (200, serde_json::json!([])));
    let (s, v) = json(addr, "/stores/windowed-counts/keys/k?from=yesterday");
    assert_eq!(s, 400, "{v}");
    let (s, v) = json(addr, "/stores/windowed-counts/range");
    assert_eq!(s, 400, "a window store has no key range: {v}");

    eventually("two sessions", || {
        let (s, v) = json(addr, "/stores/sessions/keys/k");
        s == 200 && v["windows"].as_array().is_some_and(|w| w.len() == 2)
    });
    let (_, v) = json(addr, "/stores/sessions/keys/k");
    assert_eq!(
        v["windows"],
        serde_json::json!([
            {"start": 1000, "end": 3000, "value": 2},
            {"start": 12000, "end": 12000, "value": 1},
        ]),
        "{v}"
    );
    let (s, _) = json(addr, "/stores/sessions/keys/k?from=0");
    assert_eq!(s, 400, "from/to apply to window stores only");
    streams.close().unwrap();
}
