//! The Faust chat filter's drop-in (`topologies/definitions/faust-chat-filter.yaml`) end to end:
//! a worker process on tansu fed unkeyed records in the Faust app's own formats, the output
//! read back from `filtered_messages`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;
use std::time::Duration;

use serde_json::{Value, json};
use weir_tests::{
    Broker, ConsumeOpts, WorkerArgs, WorkerProcess, consume_all, create_topic, produce,
    temp_state_dir,
};

const WORKER: &str = env!("CARGO_BIN_EXE_weir-test-worker");

/// An unkeyed JSON record, as a Faust producer sends it by default.
fn unkeyed(value: Value) -> (Option<Vec<u8>>, Option<Vec<u8>>) {
    (None, Some(serde_json::to_vec(&value).unwrap()))
}

#[test]
fn the_chat_filter_drop_in_drops_blocked_senders_and_masks_words_of_unkeyed_faust_records() {
    let broker = Broker::start();
    let bootstrap = broker.bootstrap();
    for (topic, partitions, compact) in [
        ("forbidden_words", 1, false),
        ("blocked_users", 1, false),
        ("messages", 2, false),
        ("filtered_messages", 2, false),
        ("faust-chat-filter-forbidden-words", 1, true),
        ("faust-chat-filter-blocked-pairs", 1, true),
    ] {
        create_topic(&bootstrap, topic, partitions, compact);
    }
    produce(
        &bootstrap,
        "forbidden_words",
        [
            unkeyed(json!({"action": "add", "word": "Дурак"})),
            unkeyed(json!({"action": "add", "word": "scam"})),
            unkeyed(json!({"action": "remove", "word": "scam"})),
        ],
    );
    produce(
        &bootstrap,
        "blocked_users",
        [unkeyed(json!({"user": "Игорь", "blocked": "Виктор"}))],
    );
    let definition = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../topologies/definitions/faust-chat-filter.yaml");
    let state = temp_state_dir();
    let args = WorkerArgs::new(
        &format!("file:{}", definition.display()),
        &bootstrap,
        "faust-chat-filter",
        state.path(),
    )
    .commit_interval_ms(200);
    let mut worker = WorkerProcess::start(WORKER, "chat-1", &args);

    // The lists reach the global tables through the compacted topics the worker writes; wait
    // for the last change to be written before sending messages.
    let words = consume_all(
        &bootstrap,
        "faust-chat-filter-forbidden-words",
        ConsumeOpts::expect(3).timeout(Duration::from_secs(60)),
    );
    assert_eq!(words.len(), 3, "worker log:\n{}", worker.log_tail(40));
    assert_eq!(words[2].key.as_deref(), Some("scam".as_bytes()));
    assert_eq!(words[2].value, None, "a remove is a tombstone");
    let pairs = consume_all(
        &bootstrap,
        "faust-chat-filter-blocked-pairs",
        ConsumeOpts::expect(1).timeout(Duration::from_secs(30)),
    );
    assert_eq!(pairs.len(), 1);
    // The global thread reads those topics on its own: give it a moment.
    std::thread::sleep(Duration::from_secs(2));

    produce(
        &bootstrap,
        "messages",
        [
            unkeyed(json!({"sender": "Виктор", "recipient": "Игорь", "text": "Привет!"})),
            unkeyed(
                json!({"sender": "Игорь", "recipient": "Виктор", "text": "Ты ДУРАК, это scam"}),
            ),
            unkeyed(json!({"sender": "Анна", "recipient": "Игорь", "text": "дурак?"})),
        ],
    );
    let out = consume_all(
        &bootstrap,
        "filtered_messages",
        ConsumeOpts::expect(2).timeout(Duration::from_secs(60)),
    );
    let mut texts: Vec<(Option<Vec<u8>>, Value)> = out
        .iter()
        .map(|r| {
            (
                r.key.clone(),
                serde_json::from_slice(r.value.as_deref().unwrap()).unwrap(),
            )
        })
        .collect();
    texts.sort_by(|a, b| a.1["sender"].as_str().cmp(&b.1["sender"].as_str()));
    assert_eq!(
        texts,
        [
            (
                None,
                json!({"sender": "Анна", "recipient": "Игорь", "text": "*****?"})
            ),
            (
                None,
                json!({"sender": "Игорь", "recipient": "Виктор", "text": "Ты *****, это scam"})
            ),
        ],
        "worker log:\n{}",
        worker.log_tail(40)
    );
    worker.terminate(Duration::from_secs(30));
}
