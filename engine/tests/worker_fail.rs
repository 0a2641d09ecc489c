//! The `fail` handler on a worker (librdkafka's mock cluster, in process): a record whose
//! processing fails stops the worker with an error that names the task, the topic-partition and
//! the offset of that record, and the kind of the error underneath; the records before it were
//! processed and their outputs written.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::{Duration, Instant};

use weir_engine::kafka::embedded::EmbeddedBroker;
use weir_engine::kafka::tools::{RecordWriter, read_topic};
use weir_engine::{
    BoxError, Consumed, ErrorKind, KafkaStreams, Produced, Serdes, StreamsBuilder, StreamsConfig,
    StreamsError,
};

#[test]
fn a_failing_record_stops_the_worker_naming_where_it_is() {
    let broker = EmbeddedBroker::start(1).unwrap();
    let bootstrap = broker.bootstrap_servers();
    let b = StreamsBuilder::new("fail-app");
    b.stream(
        "numbers",
        Consumed::with(Serdes::string(), Serdes::string()),
    )
    .try_map_values(|v: String| -> Result<String, BoxError> {
        Ok((v.parse::<i64>()? * 10).to_string())
    })
    .to("tens", Produced::with(Serdes::string(), Serdes::string()));
    let topology = b.build().unwrap();
    broker.create_topics_of(&topology, 1, &[]).unwrap();
    let writer = RecordWriter::new(&bootstrap).unwrap();
    for v in ["1", "2", "three", "4"] {
        writer.send("numbers", b"k", Some(v.as_bytes())).unwrap();
    }
    writer.flush(Duration::from_secs(10)).unwrap();

    let state = tempfile::tempdir().unwrap();
    let mut config = StreamsConfig::new("fail-app");
    for (k, v) in [
        ("bootstrap.servers", bootstrap.as_str()),
        ("processing.exception.handler", "fail"),
        ("commit.interval.ms", "100"),
        ("state.dir", &state.path().display().to_string()),
    ] {
        config.set(k, v).unwrap();
    }
    let mut streams = KafkaStreams::new(topology, config);
    streams.start().unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while !streams.is_stopping() {
        assert!(Instant::now() < deadline, "the worker did not stop in 60 s");
        std::thread::sleep(Duration::from_millis(50));
    }
    let e = streams.wait().unwrap_err();
    let text = e.to_string();
    assert!(
        text.starts_with("task 0_0, record numbers-0@2: "),
        "the error names task, topic-partition and offset: {text}"
    );
    assert!(text.contains("invalid digit"), "{text}");
    assert_eq!(e.kind(), ErrorKind::Record);
    assert!(
        matches!(e.root(), StreamsError::Process { processor, .. } if processor.starts_with("KSTREAM-MAPVALUES-")),
        "{e:?}"
    );
    let out: Vec<String> = read_topic(&bootstrap, "tens", Duration::from_secs(10))
        .unwrap()
        .into_iter()
        .map(|(_, v)| String::from_utf8(v.unwrap()).unwrap())
        .collect();
    assert_eq!(
        out,
        ["10", "20"],
        "the records before the bad one were processed"
    );
}
