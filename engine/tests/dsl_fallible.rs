//! Fallible user functions in the DSL (`try_map_values`, `try_map`, `try_filter`): a function's
//! error is a processing error of that record, named after the node, and the configured handler
//! takes it — the pipe call fails (no handler), the record is skipped and counted, or it goes to
//! the dead-letter topic with its original bytes — while the records around it flow.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use weir_engine::testkit::{DriverConfig, TopologyTestDriver};
use weir_engine::{
    BoxError, Consumed, Produced, Serdes, StreamsBuilder, StreamsConfig, StreamsError, Topology,
};

/// `qty` parsed as an integer, doubled; then re-keyed by the quantity's parity.
fn topology() -> Topology {
    let b = StreamsBuilder::new("fallible");
    b.stream("in", Consumed::with(Serdes::string(), Serdes::string()))
        .try_map_values(|v: String| -> Result<i64, BoxError> { Ok(v.trim().parse::<i64>()?) })
        .try_filter(|_, n| {
            if *n == 13 {
                Err("13 is unlucky".into())
            } else {
                Ok(*n >= 0)
            }
        })
        .try_map(|k: String, n: i64| -> Result<(String, String), BoxError> {
            let doubled = n.checked_mul(2).ok_or("overflow")?;
            Ok((format!("{k}-{}", n % 2), doubled.to_string()))
        })
        .to("out", Produced::with(Serdes::string(), Serdes::string()));
    b.build().unwrap()
}

fn driver(handler: Option<(&str, Option<&str>)>) -> TopologyTestDriver {
    let error_handling = handler.map(|(h, dlq)| {
        let mut c = StreamsConfig::new("fallible")
            .with("processing.exception.handler", h)
            .unwrap();
        if let Some(dlq) = dlq {
            c = c.with("dead.letter.topic", dlq).unwrap();
        }
        c
    });
    let config = DriverConfig {
        error_handling,
        ..DriverConfig::default()
    };
    TopologyTestDriver::with_config(topology(), config).unwrap()
}

fn pipe(d: &mut TopologyTestDriver, k: &str, v: &str) -> Result<(), StreamsError> {
    d.input_topic("in", Serdes::string(), Serdes::string())
        .pipe(d, k.to_owned(), v.to_owned())
}

fn out(d: &mut TopologyTestDriver) -> Vec<(String, Option<String>)> {
    d.output_topic("out", Serdes::string(), Serdes::string())
        .read_key_values(d)
        .unwrap()
}

const INPUT: [(&str, &str); 5] = [
    ("a", "2"),
    ("b", "two"),                 // try_map_values fails
    ("c", "13"),                  // try_filter fails
    ("d", "9223372036854775807"), // try_map fails (overflow)
    ("e", "-1"),                  // filtered out, not an error
];

#[test]
fn without_a_handler_the_first_failure_is_the_pipe_calls_error_naming_the_node() {
    let mut d = driver(None);
    pipe(&mut d, "a", "2").unwrap();
    let e = pipe(&mut d, "b", "two").unwrap_err();
    match &e {
        StreamsError::Process { processor, source } => {
            assert!(processor.starts_with("KSTREAM-MAPVALUES-"), "{processor}");
            assert!(source.to_string().contains("invalid digit"), "{source}");
        }
        other => panic!("expected a processing error, got {other}"),
    }
    let e = pipe(&mut d, "c", "13").unwrap_err();
    assert!(e.to_string().contains("13 is unlucky"), "{e}");
    let e = pipe(&mut d, "d", "9223372036854775807").unwrap_err();
    assert!(
        matches!(&e, StreamsError::Process { processor, .. } if processor.starts_with("KSTREAM-MAP-")),
        "{e}"
    );
    assert_eq!(out(&mut d), vec![("a-0".to_owned(), Some("4".to_owned()))]);
}

#[test]
fn skip_counts_each_failed_record_and_the_others_flow() {
    let mut d = driver(Some(("log_and_continue", None)));
    for (k, v) in INPUT {
        pipe(&mut d, k, v).unwrap();
    }
    pipe(&mut d, "f", "3").unwrap();
    assert_eq!(
        out(&mut d),
        vec![
            ("a-0".to_owned(), Some("4".to_owned())),
            ("f-1".to_owned(), Some("6".to_owned())),
        ]
    );
    assert_eq!(d.skipped_records(), 3);
}

#[test]
fn dead_letter_keeps_the_original_bytes_of_each_failed_record() {
    let mut d = driver(Some(("dead_letter", Some("bad"))));
    for (k, v) in INPUT {
        pipe(&mut d, k, v).unwrap();
    }
    assert_eq!(out(&mut d), vec![("a-0".to_owned(), Some("4".to_owned()))]);
    let dead: Vec<(Vec<u8>, Vec<u8>)> = d
        .read_raw("bad")
        .into_iter()
        .map(|r| (r.key.unwrap(), r.value.unwrap()))
        .collect();
    assert_eq!(
        dead,
        vec![
            (b"b".to_vec(), b"two".to_vec()),
            (b"c".to_vec(), b"13".to_vec()),
            (b"d".to_vec(), b"9223372036854775807".to_vec()),
        ]
    );
}
