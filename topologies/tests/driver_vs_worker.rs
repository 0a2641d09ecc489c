//! The test driver shows what a worker does: each shipped topology's golden inputs go through
//! `TopologyTestDriver` and through a worker (`KafkaStreams`) on the embedded broker
//! (librdkafka's mock cluster, in process), and both must produce the same output records (key,
//! value, timestamp, headers, in order per topic) and leave the same store contents.
//!
//! The worker gets the records one at a time in the driver's order, each once the one before
//! it is processed (the global store checkpointed it, or the group's committed offsets reached
//! the end of every source and repartition partition): across topics a worker processes in
//! fetch order, so feeding everything at once would test the fetch order, not the engine.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support {
    pub mod cases;
}

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use rdkafka::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Header, Headers as _, Message, OwnedHeaders};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::{Offset, TopicPartitionList};
use support::cases::{self, Case};
use weir_engine::kafka::embedded::EmbeddedBroker;
use weir_engine::kafka::status::{StoreRead, WorkerStatus};
use weir_engine::{KafkaStreams, StreamsConfig, Topology};
use weir_topologies::golden::{
    GoldenRecord, decode_record, encode_record, input_order, read_inputs, replay,
};

const TIMEOUT: Duration = Duration::from_secs(30);

type Outputs = BTreeMap<String, Vec<GoldenRecord>>;
type Stores = BTreeMap<String, Vec<(Vec<u8>, Vec<u8>)>>;

fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + TIMEOUT;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Every store of the topology after the driver ran the inputs.
fn driver_run(case: &Case, inputs: &[(String, Vec<GoldenRecord>)]) -> (Outputs, Stores) {
    let (outputs, mut driver) = replay(
        case.topology(),
        inputs,
        &case.formats,
        case.error_handling(),
    )
    .unwrap();
    let names = store_names(&case.topology());
    let stores = names
        .into_iter()
        .map(|n| {
            let entries = driver.read_store_raw(&n).unwrap();
            (n, entries)
        })
        .collect();
    (outputs, stores)
}

fn store_names(topology: &Topology) -> Vec<String> {
    let mut names: Vec<String> = topology
        .subtopologies()
        .iter()
        .flat_map(|s| s.store_names().iter().cloned())
        .collect();
    names.extend(topology.global_tables().map(|(_, store)| store.to_owned()));
    names.sort();
    names.dedup();
    names
}

fn client(bootstrap: &str) -> ClientConfig {
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", bootstrap);
    c
}

/// The end offset of partition 0 of `topic`.
fn end_of(consumer: &BaseConsumer, topic: &str) -> i64 {
    consumer
        .fetch_watermarks(topic, 0, Duration::from_secs(5))
        .unwrap()
        .1
}

/// The group's committed offset of partition 0 of each of `topics`.
fn committed(consumer: &BaseConsumer, topics: &[String]) -> Vec<i64> {
    let mut tpl = TopicPartitionList::new();
    for t in topics {
        tpl.add_partition(t, 0);
    }
    let c = consumer
        .committed_offsets(tpl, Duration::from_secs(5))
        .unwrap();
    topics
        .iter()
        .map(|t| match c.find_partition(t, 0).map(|p| p.offset()) {
            Some(Offset::Offset(o)) => o,
            _ => 0,
        })
        .collect()
}

/// Every record of partition 0 of `topic`, decoded in the case's formats.
fn read_output(bootstrap: &str, case: &Case, topic: &str) -> Vec<GoldenRecord> {
    let consumer: BaseConsumer = client(bootstrap)
        .set("group.id", "driver-vs-worker-reader")
        .set("enable.auto.commit", "false")
        .create()
        .unwrap();
    let end = end_of(&consumer, topic);
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset(topic, 0, Offset::Beginning)
        .unwrap();
    consumer.assign(&tpl).unwrap();
    let mut out = Vec::new();
    let deadline = Instant::now() + TIMEOUT;
    let mut next = 0;
    while next < end {
        assert!(
            Instant::now() < deadline,
            "reading {topic}: {next} of {end}"
        );
        let Some(m) = consumer.poll(Duration::from_millis(100)) else {
            continue;
        };
        let m = m.unwrap();
        next = m.offset() + 1;
        let headers: Vec<(&str, Option<&[u8]>)> = m
            .headers()
            .map(|h| h.iter().map(|h| (h.key, h.value)).collect())
            .unwrap_or_default();
        out.push(
            decode_record(
                topic,
                &case.formats,
                m.key(),
                m.payload(),
                m.timestamp().to_millis().unwrap(),
                &headers,
            )
            .unwrap(),
        );
    }
    out
}

/// Every entry of `store` across the worker's tasks (and its global store), in key order.
fn worker_store(
    streams: &KafkaStreams,
    status: &WorkerStatus,
    store: &str,
) -> Vec<(Vec<u8>, Vec<u8>)> {
    if let Some(g) = streams.global_stores().iter().find(|g| g.name() == store) {
        return g.with(|s| s.all()?.collect::<Result<Vec<_>, _>>()).unwrap();
    }
    let mut entries = Vec::new();
    for task in status.tasks() {
        if !task.stores.iter().any(|s| s.name == store) {
            continue;
        }
        let mut after = None;
        loop {
            let read = StoreRead::Range {
                from: None,
                to: None,
                prefix: None,
                after: after.clone(),
                limit: 1000,
            };
            let r = status
                .query(task.task, store, read)
                .expect("the task is on this worker")
                .recv_timeout(TIMEOUT)
                .unwrap()
                .unwrap();
            after = r.entries.last().map(|(k, _)| k.clone());
            entries.extend(r.entries);
            if !r.more {
                break;
            }
        }
    }
    entries.sort();
    entries
}

fn worker_run(case: &Case, inputs: &[(String, Vec<GoldenRecord>)]) -> (Outputs, Stores) {
    let broker = EmbeddedBroker::start(1).unwrap();
    let bootstrap = broker.bootstrap_servers();
    let topology = case.topology();
    let dead_letters: Vec<&str> = case
        .config
        .iter()
        .filter(|(k, _)| k == "dead.letter.topic")
        .map(|(_, v)| v.as_str())
        .collect();
    broker
        .create_topics_of(&topology, 1, &dead_letters)
        .unwrap();
    let globals: BTreeMap<String, String> = topology
        .global_tables()
        .map(|(t, s)| (t.to_owned(), s.to_owned()))
        .collect();
    let mut group_sources: Vec<String> = topology
        .source_topics()
        .into_iter()
        .filter(|t| !globals.contains_key(t))
        .collect();
    group_sources.extend(topology.repartition_topics().map(str::to_owned));
    group_sources.sort();
    group_sources.dedup();
    let mut outputs: Vec<String> = topology
        .sink_topics()
        .into_iter()
        .filter(|t| !group_sources.contains(t))
        .collect();
    outputs.extend(dead_letters.iter().map(|t| (*t).to_owned()));
    let names = store_names(&topology);

    let state = tempfile::tempdir().unwrap();
    let mut config = StreamsConfig::new(case.application);
    for (k, v) in [
        ("bootstrap.servers", bootstrap.as_str()),
        ("commit.interval.ms", "10"),
        ("state.dir", &state.path().display().to_string()),
    ] {
        config.set(k, v).unwrap();
    }
    for (k, v) in &case.config {
        config.set(k, v).unwrap();
    }
    let mut streams = KafkaStreams::new(topology, config);
    streams.start().unwrap();
    let status = streams.status();
    wait_for("the worker to be ready", || status.ready().is_ok());

    let producer: BaseProducer = client(&bootstrap).create().unwrap();
    let probe: BaseConsumer = client(&bootstrap)
        .set("group.id", case.application)
        .set("enable.auto.commit", "false")
        .create()
        .unwrap();
    for (ts, i, j) in input_order(inputs, 0).unwrap() {
        let (topic, records) = &inputs[i];
        let (key, value, headers) = encode_record(topic, &case.formats, &records[j]).unwrap();
        let mut h = OwnedHeaders::new();
        for (k, v) in headers.iter() {
            h = h.insert(Header { key: k, value: v });
        }
        let mut record = BaseRecord::<[u8], [u8]>::to(topic).timestamp(ts).headers(h);
        if let Some(k) = &key {
            record = record.key(k);
        }
        if let Some(v) = &value {
            record = record.payload(v);
        }
        producer.send(record).map_err(|(e, _)| e).unwrap();
        producer.flush(TIMEOUT).unwrap();
        let offset = end_of(&probe, topic) - 1;
        if let Some(store) = globals.get(topic) {
            let g = streams
                .global_stores()
                .iter()
                .find(|g| g.name() == store)
                .unwrap()
                .clone();
            wait_for(&format!("{topic}@{offset} in the global store"), || {
                g.with(|s| s.committed_offsets())
                    .unwrap()
                    .get(&0)
                    .is_some_and(|&c| c >= offset)
            });
        } else {
            wait_for(&format!("{topic}@{offset} processed"), || {
                let ends: Vec<i64> = group_sources.iter().map(|t| end_of(&probe, t)).collect();
                committed(&probe, &group_sources) == ends
            });
        }
    }
    let outputs = outputs
        .into_iter()
        .map(|t| {
            let records = read_output(&bootstrap, case, &t);
            (t, records)
        })
        .filter(|(_, r)| !r.is_empty())
        .collect();
    let stores = names
        .into_iter()
        .map(|n| {
            let entries = worker_store(&streams, &status, &n);
            (n, entries)
        })
        .collect();
    streams.close().unwrap();
    (outputs, stores)
}

fn assert_same(case: Case) {
    let inputs = read_inputs(&case.dir(), case.inputs).unwrap();
    let (driver_out, driver_stores) = driver_run(&case, &inputs);
    let (worker_out, worker_stores) = worker_run(&case, &inputs);
    assert!(
        !driver_out.is_empty(),
        "{}: the driver wrote nothing",
        case.name
    );
    assert_eq!(
        worker_out, driver_out,
        "{}: the worker's outputs differ from the driver's",
        case.name
    );
    assert!(
        !driver_stores.is_empty(),
        "{}: no store to compare",
        case.name
    );
    assert_eq!(
        worker_stores, driver_stores,
        "{}: the worker's stores differ from the driver's",
        case.name
    );
}

#[test]
fn product_filter_driver_and_worker_agree() {
    assert_same(cases::product_filter());
}

#[test]
fn user_recommendations_driver_and_worker_agree() {
    assert_same(cases::user_recommendations());
}

#[test]
fn message_filter_driver_and_worker_agree() {
    assert_same(cases::message_filter());
}

#[test]
fn user_interests_driver_and_worker_agree() {
    assert_same(cases::user_interests());
}
