//! rdkafka [`ClientConfig`]s built from a [`StreamsConfig`]: the group consumer, the restore /
//! global consumer, the producer and the admin client.
//!
//! Each config is layered, later layers winning:
//! 1. weir's defaults for the client (overridable: `auto.offset.reset`, `linger.ms`, ...);
//! 2. the pass-through properties of [`StreamsConfig::kafka`] without a client prefix;
//! 3. those with the client's prefix (`consumer.`, `producer.`, `admin.`), prefix removed;
//! 4. the settings weir depends on (`group.id`, `enable.auto.commit`, `isolation.level`,
//!    `transactional.id`, ...), which `StreamsConfig::set` already refuses to take from users.

use rdkafka::config::ClientConfig;

use weir_core::config::{CLIENT_PREFIXES, StreamsConfig};

/// `bootstrap.servers` and the pass-through properties for a client of kind `prefix`
/// (`"consumer."`, `"producer."` or `"admin."`) over `defaults` (steps 1–3).
fn base(config: &StreamsConfig, prefix: &str, defaults: &[(&str, &str)]) -> ClientConfig {
    let mut c = ClientConfig::new();
    // Step 1: weir's defaults.
    c.set("bootstrap.servers", &config.bootstrap_servers);
    for (k, v) in defaults {
        c.set(*k, *v);
    }
    // Step 2: general pass-through properties.
    for (k, v) in &config.kafka {
        if !CLIENT_PREFIXES.iter().any(|p| k.starts_with(p)) {
            c.set(k, v);
        }
    }
    // Step 3: properties for this kind of client.
    for (k, v) in &config.kafka {
        if let Some(k) = k.strip_prefix(prefix) {
            c.set(k, v);
        }
    }
    c
}

/// `isolation.level` for consumers: committed data only under exactly-once; everything
/// otherwise (Kafka Streams' choice under at-least-once).
fn isolation_level(config: &StreamsConfig) -> &'static str {
    if config.exactly_once() {
        "read_committed"
    } else {
        "read_uncommitted"
    }
}

/// The stream thread's consumer in the application's group (`group.id` = `application.id`).
///
/// `assignment_strategy` is librdkafka's `partition.assignment.strategy` (`range` keeps
/// co-partitioned topics together; `cooperative-sticky` moves fewer partitions). Offsets are
/// committed by weir only. `group.instance.id` is set from the config when present; a worker
/// with several stream threads must make it unique per thread.
pub(crate) fn group_consumer_config(
    config: &StreamsConfig,
    assignment_strategy: &str,
) -> ClientConfig {
    let client_id = format!("{}-consumer", config.application_id);
    let mut c = base(
        config,
        "consumer.",
        &[
            ("client.id", &client_id),
            ("auto.offset.reset", "earliest"),
            // End offsets (the state endpoint's lag) and `weir_consumer_lag` come from
            // librdkafka's statistics; overridable (`statistics.interval.ms` or
            // `consumer.statistics.interval.ms`, 0 turns them off).
            ("statistics.interval.ms", "2000"),
        ],
    );
    // Step 4: what the runtime depends on.
    c.set("group.id", &config.application_id)
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("enable.partition.eof", "false")
        .set("partition.assignment.strategy", assignment_strategy)
        .set("isolation.level", isolation_level(config))
        .set(
            "max.poll.interval.ms",
            config.max_poll_interval_ms.to_string(),
        )
        .set("session.timeout.ms", config.session_timeout_ms.to_string());
    if let Some(id) = &config.group_instance_id {
        c.set("group.instance.id", id);
    }
    c
}

/// A consumer of manually assigned partitions that reads them to their end: restoring stores
/// from changelogs, and the global thread's bootstrap. Like Kafka Streams' restore consumer it
/// joins no group and never commits (its `group.id` is there only because librdkafka's `assign`
/// needs one), and reports the end of each partition (`enable.partition.eof`).
///
/// `fetch.wait.max.ms` defaults to 10 (librdkafka: 500): a fetch at the end of a partition,
/// which is how its end is learnt, returns after 10 ms instead of half a second, so a restore or
/// a bootstrap of a small table finishes as soon as the data is read, not on a fetch timeout.
pub(crate) fn restore_consumer_config(config: &StreamsConfig) -> ClientConfig {
    reader_config(config, "10")
}

/// The global thread's consumer once its tables are bootstrapped: as the restore consumer, but a
/// fetch with nothing new waits up to 100 ms (an update of a global table is applied within
/// ~100 ms while the consumer does not ask the broker a hundred times a second when idle).
pub(crate) fn global_consumer_config(config: &StreamsConfig) -> ClientConfig {
    reader_config(config, "100")
}

fn reader_config(config: &StreamsConfig, fetch_wait_ms: &str) -> ClientConfig {
    let client_id = format!("{}-restore-consumer", config.application_id);
    let mut c = base(
        config,
        "consumer.",
        &[
            ("client.id", &client_id),
            ("auto.offset.reset", "earliest"),
            ("fetch.wait.max.ms", fetch_wait_ms),
        ],
    );
    // Step 4: what the runtime depends on. librdkafka refuses `assign()` without a group id
    // ("Unknown group"); this one is never joined (no subscribe) and never committed to.
    c.set("group.id", format!("{}-restore", config.application_id))
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("enable.partition.eof", "true")
        .set("isolation.level", isolation_level(config));
    c
}

/// The stream thread's producer: idempotent, `acks=all`, Java's default partitioner
/// (`murmur2_random`, so that keys land where Java clients put them), `linger.ms=5`.
///
/// Under exactly-once `transactional_id` becomes `transactional.id` (one per stream thread,
/// stable across restarts) and idempotence and `acks=all` cannot be overridden; under
/// at-least-once it is ignored.
pub(crate) fn producer_config(
    config: &StreamsConfig,
    transactional_id: Option<&str>,
) -> ClientConfig {
    let client_id = format!("{}-producer", config.application_id);
    let mut defaults = vec![
        ("client.id", client_id.as_str()),
        ("partitioner", "murmur2_random"),
        ("enable.idempotence", "true"),
        ("acks", "all"),
        ("linger.ms", "5"),
    ];
    if config.exactly_once() {
        // Kafka Streams' default under exactly-once: a stuck transaction is aborted soon.
        defaults.push(("transaction.timeout.ms", "10000"));
    }
    let mut c = base(config, "producer.", &defaults);
    // Step 4: what the runtime depends on.
    if config.exactly_once() {
        c.set("enable.idempotence", "true").set("acks", "all");
        if let Some(id) = transactional_id {
            c.set("transactional.id", id);
        }
    }
    c
}

/// The admin client (internal topics, metadata).
pub(crate) fn admin_config(config: &StreamsConfig) -> ClientConfig {
    let client_id = format!("{}-admin", config.application_id);
    base(config, "admin.", &[("client.id", &client_id)])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(props: &[(&str, &str)]) -> StreamsConfig {
        let mut c = StreamsConfig::new("app");
        for (k, v) in props {
            c.set(k, v).unwrap();
        }
        c
    }

    fn get<'a>(c: &'a ClientConfig, key: &str) -> Option<&'a str> {
        c.get(key)
    }

    #[test]
    fn group_consumer_at_least_once() {
        let c = group_consumer_config(
            &config(&[
                ("bootstrap.servers", "k:9092"),
                ("session.timeout.ms", "10000"),
            ]),
            "cooperative-sticky",
        );
        assert_eq!(get(&c, "bootstrap.servers"), Some("k:9092"));
        assert_eq!(get(&c, "group.id"), Some("app"));
        assert_eq!(get(&c, "enable.auto.commit"), Some("false"));
        assert_eq!(get(&c, "enable.auto.offset.store"), Some("false"));
        assert_eq!(get(&c, "auto.offset.reset"), Some("earliest"));
        assert_eq!(
            get(&c, "partition.assignment.strategy"),
            Some("cooperative-sticky")
        );
        assert_eq!(get(&c, "isolation.level"), Some("read_uncommitted"));
        assert_eq!(get(&c, "max.poll.interval.ms"), Some("300000"));
        assert_eq!(get(&c, "session.timeout.ms"), Some("10000"));
        assert_eq!(get(&c, "group.instance.id"), None);
        assert_eq!(get(&c, "statistics.interval.ms"), Some("2000"));
    }

    #[test]
    fn group_consumer_exactly_once_and_static_membership() {
        let c = group_consumer_config(
            &config(&[
                ("processing.guarantee", "exactly_once_v2"),
                ("group.instance.id", "worker-1"),
            ]),
            "range",
        );
        assert_eq!(get(&c, "isolation.level"), Some("read_committed"));
        assert_eq!(get(&c, "group.instance.id"), Some("worker-1"));
        assert_eq!(get(&c, "partition.assignment.strategy"), Some("range"));
    }

    #[test]
    fn restore_consumer_joins_no_group_and_reports_eof() {
        let c = restore_consumer_config(&config(&[("processing.guarantee", "exactly_once_v2")]));
        assert_eq!(
            get(&c, "group.id"),
            Some("app-restore"),
            "a group id that is never joined"
        );
        assert_eq!(get(&c, "enable.auto.commit"), Some("false"));
        assert_eq!(get(&c, "enable.partition.eof"), Some("true"));
        assert_eq!(get(&c, "isolation.level"), Some("read_committed"));
    }

    #[test]
    fn producer_defaults_and_transactions() {
        let c = producer_config(&config(&[]), Some("ignored-under-alos"));
        assert_eq!(get(&c, "partitioner"), Some("murmur2_random"));
        assert_eq!(get(&c, "enable.idempotence"), Some("true"));
        assert_eq!(get(&c, "acks"), Some("all"));
        assert_eq!(get(&c, "linger.ms"), Some("5"));
        assert_eq!(get(&c, "transactional.id"), None);

        let eos = config(&[
            ("processing.guarantee", "exactly_once_v2"),
            ("producer.acks", "1"),
        ]);
        let c = producer_config(&eos, Some("app-1-0"));
        assert_eq!(get(&c, "transactional.id"), Some("app-1-0"));
        assert_eq!(get(&c, "acks"), Some("all"), "forced under exactly-once");
        assert_eq!(get(&c, "transaction.timeout.ms"), Some("10000"));
    }

    #[test]
    fn pass_through_reaches_every_client_and_prefixes_pick_one() {
        let c = config(&[
            ("security.protocol", "SASL_SSL"),
            ("sasl.mechanism", "SCRAM-SHA-512"),
            ("ssl.ca.location", "/etc/ca.pem"),
            ("linger.ms", "50"),
            ("consumer.fetch.min.bytes", "1024"),
            ("producer.compression.type", "zstd"),
            ("admin.client.id", "ops"),
        ]);
        let consumer = group_consumer_config(&c, "range");
        let restore = restore_consumer_config(&c);
        let producer = producer_config(&c, None);
        let admin = admin_config(&c);
        for client in [&consumer, &restore, &producer, &admin] {
            assert_eq!(get(client, "security.protocol"), Some("SASL_SSL"));
            assert_eq!(get(client, "sasl.mechanism"), Some("SCRAM-SHA-512"));
            assert_eq!(get(client, "ssl.ca.location"), Some("/etc/ca.pem"));
            assert_eq!(get(client, "consumer.fetch.min.bytes"), None);
        }
        assert_eq!(
            get(&producer, "linger.ms"),
            Some("50"),
            "user wins over defaults"
        );
        assert_eq!(get(&consumer, "fetch.min.bytes"), Some("1024"));
        assert_eq!(get(&restore, "fetch.min.bytes"), Some("1024"));
        assert_eq!(get(&producer, "fetch.min.bytes"), None);
        assert_eq!(get(&producer, "compression.type"), Some("zstd"));
        assert_eq!(get(&consumer, "compression.type"), None);
        assert_eq!(get(&admin, "client.id"), Some("ops"));
        assert_eq!(get(&consumer, "client.id"), Some("app-consumer"));
    }
}
