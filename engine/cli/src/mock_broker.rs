//! `weir mock-broker`: librdkafka's mock cluster (the embedded broker of `weir demo`) on its
//! own, for benchmarks and experiments on a broker that costs little: prints `bootstrap
//! 127.0.0.1:PORT` as its first line, creates the topics it is given (the mock cluster has no
//! CreateTopics API; topics a client merely names are auto-created with the mock's default
//! partition count), and runs until SIGTERM/SIGINT.
//!
//! Its limits are the mock cluster's: at most 100k batches or 5 MiB per partition (older data
//! is dropped silently) and transactions that do not isolate.

use std::io::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use weir_engine::kafka::embedded::EmbeddedBroker;

use crate::commands::Failure;
use crate::signals::stop_on_signals;

#[derive(clap::Args, Debug)]
pub struct MockBrokerArgs {
    /// A topic to create, `NAME` or `NAME:PARTITIONS` (repeatable).
    #[arg(long = "topic", value_name = "NAME[:PARTITIONS]")]
    pub topics: Vec<String>,
    /// Partitions of a `--topic` given without a count.
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(i32).range(1..=10_000))]
    pub partitions: i32,
    /// Brokers in the cluster.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(i32).range(1..=16))]
    pub brokers: i32,
    /// The port: only 0 (the mock cluster picks a free port of 127.0.0.1 itself).
    #[arg(long, default_value_t = 0)]
    pub port: u16,
}

/// `NAME[:PARTITIONS]` as a topic and its partition count.
fn topic_spec(spec: &str, default: i32) -> Result<(&str, i32), Failure> {
    let bad = |why: &str| Failure::BadInput(format!("--topic {spec}: {why}"));
    match spec.rsplit_once(':') {
        None if !spec.is_empty() => Ok((spec, default)),
        Some((name, n)) if !name.is_empty() => match n.parse::<i32>() {
            Ok(p) if p >= 1 => Ok((name, p)),
            _ => Err(bad("PARTITIONS must be a whole number ≥ 1")),
        },
        _ => Err(bad("a topic name is needed")),
    }
}

pub fn mock_broker(args: &MockBrokerArgs) -> Result<(), Failure> {
    if args.port != 0 {
        return Err(Failure::BadInput(
            "--port: the mock cluster picks its own port; give 0 (or leave it out)".into(),
        ));
    }
    let topics = args
        .topics
        .iter()
        .map(|t| topic_spec(t, args.partitions))
        .collect::<Result<Vec<_>, _>>()?;
    let broker = EmbeddedBroker::start(args.brokers).map_err(|e| Failure::Run(e.into()))?;
    for (name, partitions) in topics {
        broker
            .create_topic(name, partitions)
            .map_err(|e| Failure::Run(e.into()))?;
    }
    let stop = Arc::new(AtomicBool::new(false));
    stop_on_signals(stop.clone(), "stopping the mock broker");
    println!("bootstrap {}", broker.bootstrap_servers());
    let _ = std::io::stdout().flush();
    while !stop.load(Ordering::Acquire) {
        std::thread::sleep(Duration::from_millis(100));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topic_specs() {
        assert_eq!(topic_spec("a", 8).ok(), Some(("a", 8)));
        assert_eq!(topic_spec("a:3", 8).ok(), Some(("a", 3)));
        assert!(topic_spec("a:0", 8).is_err());
        assert!(topic_spec(":3", 8).is_err());
        assert!(topic_spec("", 8).is_err());
        assert!(topic_spec("a:x", 8).is_err());
    }
}
