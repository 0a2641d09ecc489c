//! user-recommendations and message-filter end to end: the worker binary on tansu, records in
//! through the topics, answers read back from the output topics.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use weir_tests::{
    Broker, ConsumeOpts, WorkerArgs, WorkerProcess, consume_all, create_topic, produce,
    temp_state_dir, unique_name,
};
use weir_topologies::model::{BlockList, Message, RecommendationRequest, Recommendations, Search};
use weir_topologies::{message_filter, user_recommendations as ur};

const WORKER: &str = env!("CARGO_BIN_EXE_weir-test-worker");

type Rec = (Option<Vec<u8>>, Option<Vec<u8>>);

fn json_record(key: &str, value: &impl serde::Serialize) -> Rec {
    (
        Some(key.as_bytes().to_vec()),
        Some(serde_json::to_vec(value).unwrap()),
    )
}

fn search(user: &str, product: &str, category: &str, ts: i64) -> Rec {
    let s = Search {
        user_id: user.into(),
        query: format!("looking for {product}"),
        product_id: product.into(),
        category: category.into(),
        ts,
    };
    // Keyed by user, as the CLIENT API does: one user's searches stay in order on one partition
    // (the topology still re-keys through its repartition topic). Searches of one user spread
    // over partitions would reach the interests in any order.
    json_record(user, &s)
}

#[test]
fn recommendations_list_recent_allowed_products_and_never_a_forbidden_one() {
    let broker = Broker::start();
    let bootstrap = broker.bootstrap();
    create_topic(&bootstrap, ur::SEARCHES, 3, false);
    create_topic(&bootstrap, ur::REQUESTS, 3, false);
    create_topic(&bootstrap, ur::FORBIDDEN, 1, true);
    create_topic(&bootstrap, ur::OUTPUT, 3, false);
    produce(
        &bootstrap,
        ur::FORBIDDEN,
        [(Some(b"p-2".to_vec()), Some(b"counterfeit".to_vec()))],
    );
    let state = temp_state_dir();
    let args = WorkerArgs::new(
        "user-recommendations",
        &bootstrap,
        &unique_name("ur"),
        state.path(),
    )
    .commit_interval_ms(200);
    let mut worker = WorkerProcess::start(WORKER, "ur-1", &args);

    produce(
        &bootstrap,
        ur::SEARCHES,
        [
            search("u1", "p-1", "home", 1),
            search("u1", "p-2", "fashion", 2),
            search("u1", "p-3", "home", 3),
            search("u2", "p-4", "toys", 4),
        ],
    );
    // Searches reach the interests stores through repartition topics, requests directly: ask
    // until the answers reflect all three searches of u1 and the one of u2 (each request has
    // its own id; users on other partitions catch up independently).
    let expected = vec!["p-3".to_owned(), "p-1".to_owned()];
    let deadline = Instant::now() + Duration::from_secs(90);
    let mut answers: BTreeMap<String, Recommendations> = BTreeMap::new();
    for round in 0.. {
        assert!(
            Instant::now() < deadline,
            "no complete answer for u1; answers {answers:?}\nworker log:\n{}",
            worker.log_tail(40)
        );
        let requests: Vec<Rec> = ["u1", "u2", "u3"]
            .iter()
            .map(|u| {
                let r = RecommendationRequest {
                    user_id: (*u).into(),
                    request_id: format!("{u}-{round}"),
                };
                json_record(u, &r)
            })
            .collect();
        produce(&bootstrap, ur::REQUESTS, requests);
        let out = consume_all(
            &bootstrap,
            ur::OUTPUT,
            ConsumeOpts::expect(3 * (round + 1)).timeout(Duration::from_secs(30)),
        );
        for r in &out {
            let a: Recommendations = serde_json::from_slice(r.value.as_deref().unwrap()).unwrap();
            assert_eq!(r.key_str().as_deref(), Some(a.user_id.as_str()));
            assert!(
                !a.products.contains(&"p-2".to_owned()),
                "a forbidden product was recommended: {a:?}"
            );
            answers.insert(a.request_id.clone(), a);
        }
        if answers
            .get(&format!("u1-{round}"))
            .is_some_and(|a| a.products == expected)
            && answers
                .get(&format!("u2-{round}"))
                .is_some_and(|a| !a.products.is_empty())
        {
            let u2 = &answers[&format!("u2-{round}")];
            assert_eq!(u2.products, ["p-4"]);
            assert_eq!(u2.top_categories, ["toys"]);
            let u3 = &answers[&format!("u3-{round}")];
            assert!(u3.products.is_empty(), "{u3:?}");
            assert_eq!(
                answers[&format!("u1-{round}")].top_categories,
                ["home", "fashion"]
            );
            break;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    worker.terminate(Duration::from_secs(30));
}

fn message(sender: &str, recipient: &str, text: &str) -> Rec {
    let m = Message {
        sender: sender.into(),
        recipient: recipient.into(),
        text: text.into(),
    };
    json_record(recipient, &m)
}

#[test]
fn messages_from_blocked_senders_are_dropped_and_forbidden_words_masked() {
    let broker = Broker::start();
    let bootstrap = broker.bootstrap();
    create_topic(&bootstrap, message_filter::INPUT, 3, false);
    create_topic(&bootstrap, message_filter::BLOCKED, 3, true);
    create_topic(&bootstrap, message_filter::WORDS, 1, true);
    create_topic(&bootstrap, message_filter::OUTPUT, 3, false);
    // Tables first: a worker reads them to their end (global) or restores the co-partitioned
    // table before it processes messages of the same partition in timestamp order.
    produce(
        &bootstrap,
        message_filter::BLOCKED,
        [json_record(
            "bob",
            &BlockList {
                blocked: vec!["mallory".into()],
            },
        )],
    );
    produce(
        &bootstrap,
        message_filter::WORDS,
        [(Some(b"scam".to_vec()), Some(b"fraud".to_vec()))],
    );
    let state = temp_state_dir();
    let args = WorkerArgs::new(
        "message-filter",
        &bootstrap,
        &unique_name("mf"),
        state.path(),
    )
    .commit_interval_ms(200);
    // No waiting for the worker to take the tables in first: its task reads `messages` and
    // `blocked-users` together and processes their records in timestamp order (the block list,
    // produced first, before every message), waiting for a partition with data not fetched yet
    // (`max.task.idle.ms` 0, KIP-695); `forbidden-words` is a global table, read to its end
    // before processing starts.
    let mut worker = WorkerProcess::start(WORKER, "mf-1", &args);
    let mut input: Vec<Rec> = (0..30)
        .map(|i| message("alice", "bob", &format!("no SCAM here #{i}")))
        .collect();
    input.extend((0..30).map(|i| message("mallory", "bob", &format!("blocked #{i}"))));
    input.extend((0..30).map(|i| message("mallory", "carol", &format!("scam-free #{i}"))));
    produce(&bootstrap, message_filter::INPUT, input);
    let out = consume_all(
        &bootstrap,
        message_filter::OUTPUT,
        ConsumeOpts::expect(60).timeout(Duration::from_secs(90)),
    );
    let all = consume_all(
        &bootstrap,
        message_filter::OUTPUT,
        ConsumeOpts::until_idle(Duration::from_secs(2)),
    );
    assert_eq!(out.len(), 60, "worker log:\n{}", worker.log_tail(40));
    assert_eq!(all.len(), 60, "blocked messages passed");
    let texts: Vec<Message> = all
        .iter()
        .map(|r| serde_json::from_slice(r.value.as_deref().unwrap()).unwrap())
        .collect();
    assert!(
        texts
            .iter()
            .all(|m| !(m.sender == "mallory" && m.recipient == "bob"))
    );
    let to_bob: Vec<&Message> = texts.iter().filter(|m| m.recipient == "bob").collect();
    assert_eq!(to_bob.len(), 30);
    assert!(
        to_bob.iter().all(|m| m.text.starts_with("no **** here #")),
        "{to_bob:?}"
    );
    let to_carol: Vec<&Message> = texts.iter().filter(|m| m.recipient == "carol").collect();
    assert!(
        to_carol.iter().all(|m| m.text.starts_with("****-free #")),
        "{to_carol:?}"
    );
    worker.terminate(Duration::from_secs(30));
}
