//! The Processor API through the test driver: forwarding, record metadata, connected stores,
//! wall-clock and stream-time punctuation, cancellation and error reporting.
//!
//! The DSL has no way to declare a standalone state store for a processor (no
//! `StreamsBuilder::add_state_store`); a processor can only be connected to stores some DSL call
//! declared, such as a table's.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use weir_engine::testkit::{DriverConfig, TopologyTestDriver};
use weir_engine::{
    BoxError, Consumed, InitContext, Materialized, Processor, ProcessorContext, Produced,
    PunctuationId, PunctuationType, Record, Serdes, StreamsBuilder, StreamsError,
};

fn s(x: &str) -> String {
    x.to_owned()
}

fn kv(k: &str, v: &str) -> (String, Option<String>) {
    (s(k), Some(s(v)))
}

fn strings() -> Consumed<String, String> {
    Consumed::with(Serdes::string(), Serdes::string())
}

fn string_sink() -> Produced<String, String> {
    Produced::with(Serdes::string(), Serdes::string())
}

fn read(d: &mut TopologyTestDriver, topic: &str) -> Vec<(String, Option<String>)> {
    d.output_topic(topic, Serdes::string(), Serdes::string())
        .read_key_values(d)
        .unwrap()
}

/// Forwards each record with its metadata and context facts in the value, one ms later.
struct Describe;

impl Processor<String, String, String, String> for Describe {
    fn process(
        &mut self,
        ctx: &mut ProcessorContext<'_, '_, String, String>,
        record: Record<String, String>,
    ) -> Result<(), BoxError> {
        let m = ctx
            .record_metadata()
            .cloned()
            .ok_or("no metadata while processing")?;
        let value = format!(
            "{}@{}/{}/{} task={} app={} st={}",
            record.value,
            m.topic,
            m.partition,
            m.offset,
            ctx.task_id(),
            ctx.application_id(),
            ctx.stream_time()
        );
        let out = Record {
            key: record.key,
            value,
            timestamp: record.timestamp + 1,
            headers: record.headers,
        };
        ctx.forward(out)?;
        Ok(())
    }
}

#[test]
fn a_processor_forwards_records_and_sees_their_metadata() {
    let b = StreamsBuilder::new("app");
    b.stream("in", strings())
        .process(|| Describe, &[])
        .to("out", string_sink());
    let mut d = TopologyTestDriver::new(b.build().unwrap()).unwrap();
    let input = d.input_topic("in", Serdes::string(), Serdes::string());
    input.pipe_at(&mut d, s("a"), s("x"), 100).unwrap();
    input.pipe_at(&mut d, s("b"), s("y"), 50).unwrap();
    input.pipe_at(&mut d, s("c"), s("z"), 200).unwrap();
    let got = d
        .output_topic("out", Serdes::string(), Serdes::string())
        .read_records(&mut d)
        .unwrap();
    let got: Vec<(String, String, i64)> = got
        .into_iter()
        .map(|r| (r.key, r.value.unwrap(), r.timestamp))
        .collect();
    assert_eq!(
        got,
        vec![
            (s("a"), s("x@in/0/0 task=0_0 app=app st=100"), 101),
            (s("b"), s("y@in/0/1 task=0_0 app=app st=100"), 51),
            (s("c"), s("z@in/0/2 task=0_0 app=app st=200"), 201),
        ]
    );
}

#[test]
fn a_processor_is_not_given_tombstones() {
    let b = StreamsBuilder::new("app");
    b.stream("in", strings())
        .process(|| Describe, &[])
        .to("out", string_sink());
    let mut d = TopologyTestDriver::new(b.build().unwrap()).unwrap();
    let input = d.input_topic("in", Serdes::string(), Serdes::string());
    input.pipe_tombstone(&mut d, s("a")).unwrap();
    input.pipe(&mut d, s("b"), s("y")).unwrap();
    assert_eq!(
        read(&mut d, "out"),
        vec![kv("b", "y@in/0/1 task=0_0 app=app st=0")]
    );
}

/// Converts `amount` payments with the rate found in the connected `rates-store`.
struct Convert;

impl Processor<String, i64, String, i64> for Convert {
    fn process(
        &mut self,
        ctx: &mut ProcessorContext<'_, '_, String, i64>,
        record: Record<String, i64>,
    ) -> Result<(), BoxError> {
        let rate = ctx.store::<String, i64>("rates-store")?.get(&record.key)?;
        if let Some(rate) = rate {
            let value = record.value * rate;
            ctx.forward(record.with_value(value))?;
        }
        Ok(())
    }
}

#[test]
fn a_processor_reads_a_connected_table_store() {
    let b = StreamsBuilder::new("app");
    let longs = || Consumed::with(Serdes::string(), Serdes::i64());
    b.table("rates", longs(), Materialized::as_("rates-store"));
    b.stream("payments", longs())
        .process(|| Convert, &["rates-store"])
        .to("converted", Produced::with(Serdes::string(), Serdes::i64()));
    let topology = b.build().unwrap();
    // The processor and the table share a store, hence a task.
    assert_eq!(topology.subtopologies().len(), 1);
    assert!(
        topology
            .describe()
            .contains("(stores: [rates-store])\n      --> KSTREAM-SINK"),
        "{}",
        topology.describe()
    );
    let mut d = TopologyTestDriver::new(topology).unwrap();
    let (rates, payments) = (
        d.input_topic("rates", Serdes::string(), Serdes::i64()),
        d.input_topic("payments", Serdes::string(), Serdes::i64()),
    );
    payments.pipe(&mut d, s("EUR"), 10).unwrap(); // no rate yet
    rates.pipe(&mut d, s("EUR"), 3).unwrap();
    payments.pipe(&mut d, s("EUR"), 10).unwrap();
    rates.pipe(&mut d, s("EUR"), 4).unwrap();
    payments.pipe(&mut d, s("EUR"), 10).unwrap();
    let out = d
        .output_topic("converted", Serdes::string(), Serdes::i64())
        .read_values(&mut d)
        .unwrap();
    assert_eq!(out, vec![30, 40]);
}

/// Forwards the first record of each key only, remembering keys in the `seen` store.
struct Dedup;

impl Processor<String, String, String, String> for Dedup {
    fn process(
        &mut self,
        ctx: &mut ProcessorContext<'_, '_, String, String>,
        record: Record<String, String>,
    ) -> Result<(), BoxError> {
        let mut seen = ctx.store::<String, String>("seen")?;
        if seen.get(&record.key)?.is_some() {
            return Ok(());
        }
        seen.put(&record.key, &record.value)?;
        ctx.forward(record)?;
        Ok(())
    }
}

#[test]
fn a_processor_writes_its_own_state_to_a_connected_store() {
    let b = StreamsBuilder::new("app");
    // Without `add_state_store`, the only way to declare a store for a processor is to borrow
    // one from a table over a topic nothing writes.
    b.table(
        "dedup-unused",
        strings(),
        Materialized::as_("seen").without_logging(),
    );
    b.stream("in", strings())
        .process(|| Dedup, &["seen"])
        .to("out", string_sink());
    let mut d = TopologyTestDriver::new(b.build().unwrap()).unwrap();
    let input = d.input_topic("in", Serdes::string(), Serdes::string());
    for (k, v) in [("a", "1"), ("b", "2"), ("a", "3"), ("b", "4"), ("c", "5")] {
        input.pipe(&mut d, s(k), s(v)).unwrap();
    }
    assert_eq!(
        read(&mut d, "out"),
        vec![kv("a", "1"), kv("b", "2"), kv("c", "5")]
    );
    assert_eq!(
        d.read_store::<String, String>("seen").unwrap(),
        vec![(s("a"), s("1")), (s("b"), s("2")), (s("c"), s("5"))]
    );
}

#[test]
fn a_store_asked_for_with_other_types_is_an_unknown_store_error() {
    struct WrongTypes;
    impl Processor<String, String, String, String> for WrongTypes {
        fn process(
            &mut self,
            ctx: &mut ProcessorContext<'_, '_, String, String>,
            _record: Record<String, String>,
        ) -> Result<(), BoxError> {
            ctx.store::<String, i64>("seen")?;
            Ok(())
        }
    }
    let b = StreamsBuilder::new("app");
    b.table("dedup-unused", strings(), Materialized::as_("seen"));
    b.stream("in", strings())
        .process(|| WrongTypes, &["seen"])
        .to("out", string_sink());
    let mut d = TopologyTestDriver::new(b.build().unwrap()).unwrap();
    let err = d
        .input_topic("in", Serdes::string(), Serdes::string())
        .pipe(&mut d, s("a"), s("1"))
        .unwrap_err();
    assert!(
        matches!(&err, StreamsError::UnknownStore(name) if name.contains("seen")),
        "{err}"
    );
}

/// Fails on records whose value is "bad".
struct Picky;

impl Processor<String, String, String, String> for Picky {
    fn process(
        &mut self,
        ctx: &mut ProcessorContext<'_, '_, String, String>,
        record: Record<String, String>,
    ) -> Result<(), BoxError> {
        if record.value == "bad" {
            return Err(format!("cannot handle {}", record.key).into());
        }
        ctx.forward(record)?;
        Ok(())
    }
}

#[test]
fn a_processor_error_names_the_processor_and_processing_continues() {
    let b = StreamsBuilder::new("app");
    b.stream("in", strings())
        .process(|| Picky, &[])
        .named("picky")
        .to("out", string_sink());
    let mut d = TopologyTestDriver::new(b.build().unwrap()).unwrap();
    let input = d.input_topic("in", Serdes::string(), Serdes::string());
    let err = input.pipe(&mut d, s("k1"), s("bad")).unwrap_err();
    match &err {
        StreamsError::Process { processor, source } => {
            assert_eq!(processor, "picky");
            assert_eq!(source.to_string(), "cannot handle k1");
        }
        other => panic!("expected a Process error, got {other:?}"),
    }
    assert_eq!(err.kind(), weir_engine::ErrorKind::Record);
    input.pipe(&mut d, s("k2"), s("good")).unwrap();
    assert_eq!(read(&mut d, "out"), vec![kv("k2", "good")]);
}

/// Fails in `init`.
struct FailsInInit;

impl Processor<String, String, String, String> for FailsInInit {
    fn init(&mut self, _ctx: &mut InitContext<'_, '_>) -> Result<(), BoxError> {
        Err("no config".into())
    }
    fn process(
        &mut self,
        _ctx: &mut ProcessorContext<'_, '_, String, String>,
        _record: Record<String, String>,
    ) -> Result<(), BoxError> {
        Ok(())
    }
}

#[test]
fn an_init_error_names_the_processor() {
    let b = StreamsBuilder::new("app");
    b.stream("in", strings())
        .process(|| FailsInInit, &[])
        .named("needs-config")
        .to("out", string_sink());
    let Err(err) = TopologyTestDriver::new(b.build().unwrap()) else {
        panic!("init error ignored")
    };
    match &err {
        StreamsError::Process { processor, source } => {
            assert_eq!(source.to_string(), "no config");
            assert_eq!(processor, "needs-config");
        }
        other => panic!("expected a Process error, got {other:?}"),
    }
}

/// Forwards each input record as `("rec", value)` and each punctuation as `("tick", fire time)`;
/// cancels its punctuation once it fires at or after `cancel_at`.
struct Ticker {
    interval: Duration,
    kind: PunctuationType,
    cancel_at: i64,
    id: Option<PunctuationId>,
}

impl Ticker {
    fn new(interval_ms: u64, kind: PunctuationType, cancel_at: i64) -> Self {
        Ticker {
            interval: Duration::from_millis(interval_ms),
            kind,
            cancel_at,
            id: None,
        }
    }
}

impl Processor<String, String, String, String> for Ticker {
    fn init(&mut self, ctx: &mut InitContext<'_, '_>) -> Result<(), BoxError> {
        assert_eq!(ctx.application_id(), "app");
        self.id = Some(ctx.schedule(self.interval, self.kind));
        Ok(())
    }

    fn process(
        &mut self,
        ctx: &mut ProcessorContext<'_, '_, String, String>,
        record: Record<String, String>,
    ) -> Result<(), BoxError> {
        ctx.forward(Record::new(s("rec"), record.value, record.timestamp))?;
        Ok(())
    }

    fn punctuate(
        &mut self,
        ctx: &mut ProcessorContext<'_, '_, String, String>,
        id: PunctuationId,
        timestamp: i64,
    ) -> Result<(), BoxError> {
        assert_eq!(Some(id), self.id);
        assert!(
            ctx.record_metadata().is_none(),
            "record metadata inside a punctuation"
        );
        let clock = match self.kind {
            PunctuationType::StreamTime => ctx.stream_time(),
            PunctuationType::WallClockTime => ctx.wall_clock_time(),
        };
        ctx.forward(Record::new(
            s("tick"),
            format!("{timestamp} clock={clock}"),
            timestamp,
        ))?;
        if timestamp >= self.cancel_at {
            ctx.cancel(id);
        }
        Ok(())
    }
}

fn ticker_driver(ticker: impl Fn() -> Ticker + Send + Sync + 'static) -> TopologyTestDriver {
    let b = StreamsBuilder::new("app");
    b.stream("in", strings())
        .process(ticker, &[])
        .to("out", string_sink());
    TopologyTestDriver::new(b.build().unwrap()).unwrap()
}

fn read_records(d: &mut TopologyTestDriver) -> Vec<(String, String, i64)> {
    let out = d.output_topic("out", Serdes::string(), Serdes::string());
    out.read_records(d)
        .unwrap()
        .into_iter()
        .map(|r| (r.key, r.value.unwrap(), r.timestamp))
        .collect()
}

/// Kafka Streams fires a wall-clock punctuation one interval after it was scheduled; the driver
/// knows its clock when the task is created.
#[test]
fn wall_clock_punctuation_fires_one_interval_after_init() {
    let mut d = ticker_driver(|| Ticker::new(1000, PunctuationType::WallClockTime, i64::MAX));
    d.advance_wall_clock_time(Duration::from_millis(1000))
        .unwrap();
    assert_eq!(
        read_records(&mut d),
        vec![(s("tick"), s("1000 clock=1000"), 1000)]
    );
}

#[test]
fn wall_clock_punctuation_fires_once_per_interval_until_cancelled() {
    let mut d = ticker_driver(|| Ticker::new(1000, PunctuationType::WallClockTime, 13_000));
    // Whether the first advance fires is covered above; start from a known schedule.
    d.advance_wall_clock_time(Duration::from_millis(1000))
        .unwrap();
    read_records(&mut d);
    d.advance_wall_clock_time(Duration::from_millis(1000))
        .unwrap();
    assert_eq!(
        read_records(&mut d),
        vec![(s("tick"), s("2000 clock=2000"), 2000)]
    );
    d.advance_wall_clock_time(Duration::from_millis(500))
        .unwrap();
    assert_eq!(read_records(&mut d), vec![]);
    d.advance_wall_clock_time(Duration::from_millis(500))
        .unwrap();
    assert_eq!(
        read_records(&mut d),
        vec![(s("tick"), s("3000 clock=3000"), 3000)]
    );
    // Records do not trigger wall-clock punctuation, and carry the wall clock as timestamp.
    d.input_topic("in", Serdes::string(), Serdes::string())
        .pipe(&mut d, s("k"), s("v"))
        .unwrap();
    assert_eq!(read_records(&mut d), vec![(s("rec"), s("v"), 3000)]);
    // Missed intervals are skipped, not fired in a burst; the punctuation cancels itself here.
    d.advance_wall_clock_time(Duration::from_millis(10_000))
        .unwrap();
    assert_eq!(
        read_records(&mut d),
        vec![(s("tick"), s("13000 clock=13000"), 13_000)]
    );
    d.advance_wall_clock_time(Duration::from_millis(5_000))
        .unwrap();
    assert_eq!(read_records(&mut d), vec![], "cancelled punctuation fired");
    assert_eq!(d.wall_clock_ms(), 18_000);
}

#[test]
fn wall_clock_starts_at_the_configured_time() {
    let b = StreamsBuilder::new("app");
    b.stream("in", strings())
        .process(
            || Ticker::new(1000, PunctuationType::WallClockTime, i64::MAX),
            &[],
        )
        .to("out", string_sink());
    let config = DriverConfig {
        start_time_ms: 1_000_000,
        ..DriverConfig::default()
    };
    let mut d = TopologyTestDriver::with_config(b.build().unwrap(), config).unwrap();
    assert_eq!(d.wall_clock_ms(), 1_000_000);
    d.input_topic("in", Serdes::string(), Serdes::string())
        .pipe(&mut d, s("k"), s("v"))
        .unwrap();
    assert_eq!(read_records(&mut d), vec![(s("rec"), s("v"), 1_000_000)]);
    d.advance_wall_clock_time(Duration::from_millis(1000))
        .unwrap();
    read_records(&mut d);
    d.advance_wall_clock_time(Duration::from_millis(1000))
        .unwrap();
    assert_eq!(
        read_records(&mut d),
        vec![(s("tick"), s("1002000 clock=1002000"), 1_002_000)]
    );
}

#[test]
fn stream_time_punctuation_follows_record_timestamps() {
    let mut d = ticker_driver(|| Ticker::new(100, PunctuationType::StreamTime, 450));
    let input = d.input_topic("in", Serdes::string(), Serdes::string());
    let at = |d: &mut TopologyTestDriver, v: &str, ts: i64| {
        input.pipe_at(d, s("k"), s(v), ts).unwrap();
        read_records(d)
    };
    // Whether the first record fires is left open (Kafka does, weir starts the schedule).
    at(&mut d, "a", 0);
    assert_eq!(at(&mut d, "b", 50), vec![(s("rec"), s("b"), 50)]);
    assert_eq!(
        at(&mut d, "c", 100),
        vec![
            (s("rec"), s("c"), 100),
            (s("tick"), s("100 clock=100"), 100)
        ]
    );
    assert_eq!(at(&mut d, "d", 150), vec![(s("rec"), s("d"), 150)]);
    // Wall-clock time does not move stream time.
    d.advance_wall_clock_time(Duration::from_secs(3600))
        .unwrap();
    assert_eq!(read_records(&mut d), vec![]);
    // A jump fires once; a late record does not move stream time back.
    assert_eq!(
        at(&mut d, "e", 450),
        vec![
            (s("rec"), s("e"), 450),
            (s("tick"), s("450 clock=450"), 450)
        ]
    );
    assert_eq!(at(&mut d, "late", 120), vec![(s("rec"), s("late"), 120)]);
    // Cancelled at 450.
    assert_eq!(at(&mut d, "f", 900), vec![(s("rec"), s("f"), 900)]);
}
