//! Two user-interests workers on one broker, each with a state endpoint: any user's count is
//! answered by either worker (the non-owner forwards to the owner, named in the answer), and a
//! non-owner asked with `?redirect=1` answers 307 with the owner's address.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use serde_json::Value;
use weir_tests::{
    Broker, WorkerArgs, WorkerProcess, create_topic, free_port, produce, temp_state_dir,
    unique_name,
};
use weir_topologies::model::Search;
use weir_topologies::user_interests;

const WORKER: &str = env!("CARGO_BIN_EXE_weir-test-worker");
const USERS: usize = 12;

/// `GET path` on `127.0.0.1:port`: (status, headers, body).
fn get(port: u16, path: &str) -> (u16, String, String) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut raw = String::new();
    s.read_to_string(&mut raw).unwrap();
    let status = raw[9..12].parse().unwrap();
    let (head, body) = raw.split_once("\r\n\r\n").unwrap_or((&raw, ""));
    (status, head.to_owned(), body.to_owned())
}

fn json(port: u16, path: &str) -> (u16, Value) {
    let (s, _, body) = get(port, path);
    (s, serde_json::from_str(&body).unwrap_or(Value::Null))
}

fn tasks_of(port: u16) -> BTreeSet<String> {
    let (_, v) = json(port, "/tasks");
    v["applications"][0]["tasks"]
        .as_array()
        .map(|ts| {
            ts.iter()
                .map(|t| t["id"].as_str().unwrap().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn either_worker_answers_any_key() {
    let broker = Broker::start();
    let bootstrap = broker.bootstrap();
    create_topic(&bootstrap, user_interests::INPUT, 4, false);
    create_topic(&bootstrap, user_interests::COUNTS, 4, false);
    create_topic(&bootstrap, user_interests::INTERESTS, 4, false);
    let app = unique_name("routing");
    let ports = [free_port(), free_port()];
    let states = [temp_state_dir(), temp_state_dir()];
    let mut workers: Vec<WorkerProcess> = (0..2)
        .map(|i| {
            let args = WorkerArgs::new("user-interests", &bootstrap, &app, states[i].path())
                .commit_interval_ms(200)
                .set("http.addr", &format!("127.0.0.1:{}", ports[i]));
            WorkerProcess::start(WORKER, &format!("w{i}"), &args)
        })
        .collect();

    let searches: Vec<_> = (0..USERS)
        .flat_map(|u| (0..=u).map(move |n| (u, n)))
        .map(|(u, n)| {
            let s = Search {
                user_id: format!("user-{u:02}"),
                query: "q".into(),
                product_id: format!("p-{n}"),
                category: "toys".into(),
                ts: n as i64,
            };
            (
                Some(format!("user-{u:02}").into_bytes()),
                Some(serde_json::to_vec(&s).unwrap()),
            )
        })
        .collect();
    produce(&bootstrap, user_interests::INPUT, searches);

    // Both workers hold tasks, and every task of the store's sub-topology is somewhere.
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let (a, b) = (tasks_of(ports[0]), tasks_of(ports[1]));
        let ready = ports.iter().all(|p| json(*p, "/ready").0 == 200);
        if ready && !a.is_empty() && !b.is_empty() && a.is_disjoint(&b) && a.len() + b.len() == 8 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "workers never split the tasks: {a:?} / {b:?}\n{}\n{}",
            workers[0].log_tail(30),
            workers[1].log_tail(30)
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    // Every user's count, from both workers; the answer names the same instance either way,
    // and both instances answer some keys.
    let mut owners = BTreeSet::new();
    for u in 0..USERS {
        let path = format!("/stores/search-counts/keys/user-{u:02}");
        let expected = u as i64 + 1;
        let deadline = Instant::now() + Duration::from_secs(60);
        let answers = loop {
            let answers: Vec<(u16, Value)> = ports.iter().map(|p| json(*p, &path)).collect();
            if answers
                .iter()
                .all(|(s, v)| *s == 200 && v["value"] == expected)
            {
                break answers;
            }
            assert!(Instant::now() < deadline, "user-{u:02}: {answers:?}");
            std::thread::sleep(Duration::from_millis(300));
        };
        assert_eq!(
            answers[0].1["instance"], answers[1].1["instance"],
            "{answers:?}"
        );
        assert_eq!(answers[0].1["task"], answers[1].1["task"]);
        owners.insert(answers[0].1["instance"].as_str().unwrap().to_owned());
        // The non-owner redirects when asked to.
        let task = answers[0].1["task"].as_str().unwrap().to_owned();
        let non_owner = if tasks_of(ports[0]).contains(&task) {
            ports[1]
        } else {
            ports[0]
        };
        let owner = if non_owner == ports[0] {
            ports[1]
        } else {
            ports[0]
        };
        let (s, head, _) = get(non_owner, &format!("{path}?redirect=1"));
        assert_eq!(s, 307, "{head}");
        assert!(
            head.to_lowercase().contains(&format!(
                "location: http://127.0.0.1:{owner}/stores/search-counts/keys/user-{u:02}"
            )),
            "{head}"
        );
    }
    assert_eq!(owners.len(), 2, "both workers own some keys: {owners:?}");
    // An absent key is a 404 from either worker.
    for p in ports {
        assert_eq!(json(p, "/stores/search-counts/keys/nobody").0, 404);
    }
    for w in &mut workers {
        w.terminate(Duration::from_secs(30));
    }
}
