//! Setting one property of a [`StreamsConfig`] from its text value: parsing and validating the
//! typed properties, refusing the librdkafka properties weir controls, passing the rest through.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use super::{CLIENT_PREFIXES, RegistryConfig, StreamsConfig, keys};
use crate::error::StreamsError;

/// librdkafka properties weir sets itself; setting them (with or without a client prefix) is an
/// error rather than a silent override.
const CONTROLLED: &[(&str, &str)] = &[
    ("group.id", "weir uses application.id as the group id"),
    (
        "enable.auto.commit",
        "weir commits offsets itself, every commit.interval.ms",
    ),
    (
        "enable.auto.offset.store",
        "weir stores offsets itself when it commits",
    ),
    (
        "transactional.id",
        "weir assigns transactional ids under exactly_once_v2",
    ),
    (
        "isolation.level",
        "it follows processing.guarantee (read_committed under exactly_once_v2)",
    ),
];

/// weir's own properties (the rest pass through to librdkafka).
const WEIR_KEYS: &[&str] = &[
    keys::APPLICATION_ID,
    keys::BOOTSTRAP_SERVERS,
    keys::NUM_STREAM_THREADS,
    keys::PROCESSING_GUARANTEE,
    keys::COMMIT_INTERVAL_MS,
    keys::STATE_DIR,
    keys::REPLICATION_FACTOR,
    keys::GROUP_INSTANCE_ID,
    keys::MAX_POLL_INTERVAL_MS,
    keys::SESSION_TIMEOUT_MS,
    keys::DESERIALIZATION_EXCEPTION_HANDLER,
    keys::PROCESSING_EXCEPTION_HANDLER,
    keys::DEAD_LETTER_TOPIC,
    keys::STATESTORE_CACHE_MAX_BYTES,
    keys::ROCKSDB_BLOCK_CACHE_BYTES,
    keys::ROCKSDB_WRITE_BUFFER_BYTES,
    keys::MAX_TASK_IDLE_MS,
    keys::HTTP_ADDR,
    keys::APPLICATION_SERVER,
    keys::HTTP_TOKEN,
    keys::HTTP_TLS_CERT,
    keys::HTTP_TLS_KEY,
];

impl StreamsConfig {
    /// Sets `key` to `value`; `origin` says where the value came from, for errors.
    pub fn set_from(&mut self, key: &str, value: &str, origin: &str) -> Result<(), StreamsError> {
        let key = key.trim();
        let value = value.trim();
        let err = |message: String| StreamsError::Config {
            key: key.to_string(),
            origin: origin.to_string(),
            message,
        };
        let optional = |v: &str| (!v.is_empty()).then(|| v.to_string());
        match key {
            keys::APPLICATION_ID => {
                validate_application_id(value).map_err(err)?;
                self.application_id = value.to_string();
            }
            keys::BOOTSTRAP_SERVERS => {
                if value.is_empty() {
                    return Err(err("expected a comma-separated list of host:port".into()));
                }
                self.bootstrap_servers = value.to_string();
            }
            keys::NUM_STREAM_THREADS => {
                self.num_stream_threads = parse_num(value, 1).map_err(err)?;
            }
            keys::PROCESSING_GUARANTEE => self.processing_guarantee = value.parse().map_err(err)?,
            keys::COMMIT_INTERVAL_MS => {
                self.commit_interval_ms = Some(parse_num(value, 0).map_err(err)?)
            }
            keys::STATE_DIR => {
                if value.is_empty() {
                    return Err(err("expected a directory path".into()));
                }
                self.state_dir = PathBuf::from(value);
            }
            keys::REPLICATION_FACTOR => {
                self.replication_factor = match value.parse::<i16>() {
                    Ok(n) if n >= 1 || n == -1 => n,
                    _ => {
                        return Err(err(format!(
                            "expected a replication factor >= 1 (or -1 for the broker's default), got `{value}`"
                        )));
                    }
                };
            }
            keys::GROUP_INSTANCE_ID => self.group_instance_id = optional(value),
            keys::MAX_POLL_INTERVAL_MS => {
                self.max_poll_interval_ms = parse_num(value, 1).map_err(err)?
            }
            keys::SESSION_TIMEOUT_MS => {
                self.session_timeout_ms = parse_num(value, 1).map_err(err)?
            }
            keys::DESERIALIZATION_EXCEPTION_HANDLER => {
                self.deserialization_exception_handler = value.parse().map_err(err)?;
            }
            keys::PROCESSING_EXCEPTION_HANDLER => {
                self.processing_exception_handler = value.parse().map_err(err)?;
            }
            keys::DEAD_LETTER_TOPIC => self.dead_letter_topic = optional(value),
            keys::STATESTORE_CACHE_MAX_BYTES => {
                self.statestore_cache_max_bytes = parse_num(value, 0).map_err(err)?;
            }
            keys::MAX_TASK_IDLE_MS => {
                self.max_task_idle_ms = match value.trim().parse::<i64>() {
                    Ok(n) if n >= -1 => n,
                    _ => {
                        return Err(err(format!(
                            "expected milliseconds >= 0 (or -1: never wait), got `{value}`"
                        )));
                    }
                };
            }
            keys::ROCKSDB_BLOCK_CACHE_BYTES => {
                self.rocksdb_block_cache_bytes = parse_num(value, 0).map_err(err)?;
            }
            keys::ROCKSDB_WRITE_BUFFER_BYTES => {
                self.rocksdb_write_buffer_bytes = parse_num(value, 0).map_err(err)?;
            }
            keys::HTTP_ADDR => self.http_addr = optional(value),
            keys::APPLICATION_SERVER => self.application_server = optional(value),
            keys::HTTP_TOKEN => self.http_token = optional(value),
            keys::HTTP_TLS_CERT => self.http_tls_cert = optional(value).map(PathBuf::from),
            keys::HTTP_TLS_KEY => self.http_tls_key = optional(value).map(PathBuf::from),
            k if RegistryConfig::is_key(k) => self.schema_registry.set(k, value).map_err(err)?,
            _ => {
                if key.is_empty() {
                    return Err(err("empty property name".into()));
                }
                let bare = CLIENT_PREFIXES
                    .iter()
                    .find_map(|p| key.strip_prefix(p))
                    .unwrap_or(key);
                if let Some((_, why)) = CONTROLLED.iter().find(|(k, _)| *k == bare) {
                    return Err(err(format!("cannot be set: {why}")));
                }
                // A near miss of weir's own property is a typo, not a librdkafka property
                // (`processing.exeption.handler` would otherwise pass through unnoticed).
                if let Some(near) = WEIR_KEYS
                    .iter()
                    .find(|k| crate::text::edit_distance(key, k) <= 2)
                {
                    return Err(err(format!("unknown property; did you mean `{near}`?")));
                }
                self.kafka.insert(key.to_string(), value.to_string());
            }
        }
        Ok(())
    }
}

/// Parses a non-negative integer of at least `min`.
fn parse_num<T: FromStr + PartialOrd + From<u8> + fmt::Display>(
    value: &str,
    min: u8,
) -> Result<T, String> {
    match value.parse::<T>() {
        Ok(n) if n >= T::from(min) => Ok(n),
        _ if min == 0 => Err(format!("expected a non-negative integer, got `{value}`")),
        _ => Err(format!("expected an integer >= {min}, got `{value}`")),
    }
}

/// Kafka's rule for names that end up in topic names: letters, digits, `.`, `_`, `-`.
fn validate_application_id(id: &str) -> Result<(), String> {
    if id.is_empty() {
        return Err("must not be empty".into());
    }
    if let Some(c) = id
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
    {
        return Err(format!(
            "`{id}` contains `{c}`; use only ASCII letters, digits, `.`, `_` and `-` (it prefixes topic names)"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ErrorHandling;

    #[test]
    fn every_typed_property_is_parsed() {
        let c = StreamsConfig::new("x")
            .with("application.id", "shop-filter")
            .and_then(|c| c.with("bootstrap.servers", "k1:9092,k2:9092"))
            .and_then(|c| c.with("num.stream.threads", "4"))
            .and_then(|c| c.with("state.dir", "/var/lib/weir"))
            .and_then(|c| c.with("replication.factor", "3"))
            .and_then(|c| c.with("group.instance.id", "worker-1"))
            .and_then(|c| c.with("max.poll.interval.ms", "60000"))
            .and_then(|c| c.with("session.timeout.ms", "10000"))
            .and_then(|c| c.with("default.deserialization.exception.handler", "dead_letter"))
            .and_then(|c| c.with("processing.exception.handler", "log_and_continue"))
            .and_then(|c| c.with("dead.letter.topic", "errors"))
            .and_then(|c| c.with("statestore.cache.max.bytes", "0"))
            .and_then(|c| c.with("rocksdb.block.cache.bytes", "1048576"))
            .and_then(|c| c.with("http.addr", "0.0.0.0:8080"))
            .unwrap();
        assert_eq!(c.application_id, "shop-filter");
        assert_eq!(c.bootstrap_servers, "k1:9092,k2:9092");
        assert_eq!(c.num_stream_threads, 4);
        assert_eq!(c.state_dir, PathBuf::from("/var/lib/weir"));
        assert_eq!(c.replication_factor, 3);
        assert_eq!(c.group_instance_id.as_deref(), Some("worker-1"));
        assert_eq!(c.max_poll_interval_ms, 60_000);
        assert_eq!(c.session_timeout_ms, 10_000);
        assert_eq!(
            c.deserialization_exception_handler,
            ErrorHandling::DeadLetter
        );
        assert_eq!(
            c.processing_exception_handler,
            ErrorHandling::LogAndContinue
        );
        assert_eq!(c.dead_letter_topic(), "errors");
        assert_eq!(c.statestore_cache_max_bytes, 0);
        assert_eq!(c.rocksdb_block_cache_bytes, 1 << 20);
        assert_eq!(c.http_addr.as_deref(), Some("0.0.0.0:8080"));
        assert!(c.kafka.is_empty());
    }

    #[test]
    fn a_near_miss_of_a_weir_property_is_an_error_with_the_right_name() {
        let e = StreamsConfig::new("app")
            .with("processing.exeption.handler", "dead_letter")
            .unwrap_err()
            .to_string();
        assert!(e.contains("processing.exeption.handler"), "{e}");
        assert!(
            e.contains("did you mean `processing.exception.handler`?"),
            "{e}"
        );
        assert!(
            StreamsConfig::new("app")
                .with("comit.interval.ms", "100")
                .is_err()
        );
        // librdkafka's own properties still pass through.
        for k in ["socket.timeout.ms", "fetch.max.bytes", "linger.ms", "acks"] {
            assert!(StreamsConfig::new("app").with(k, "1").is_ok(), "{k}");
        }
    }

    #[test]
    fn unknown_properties_pass_through_verbatim() {
        let c = StreamsConfig::new("app")
            .with("security.protocol", "SASL_SSL")
            .and_then(|c| c.with("sasl.password", "hunter2"))
            .and_then(|c| c.with("consumer.fetch.min.bytes", "1024"))
            .unwrap();
        assert_eq!(c.kafka["security.protocol"], "SASL_SSL");
        assert_eq!(c.kafka["sasl.password"], "hunter2");
        assert_eq!(c.kafka["consumer.fetch.min.bytes"], "1024");
        let debug = format!("{c:?}");
        assert!(debug.contains("SASL_SSL"));
        assert!(!debug.contains("hunter2"), "{debug}");
    }

    #[test]
    fn bad_values_name_the_key_the_origin_and_the_expectation() {
        let mut c = StreamsConfig::new("app");
        for (key, value, expected) in [
            ("num.stream.threads", "0", "integer >= 1"),
            ("num.stream.threads", "two", "integer >= 1"),
            ("commit.interval.ms", "-5", "non-negative integer"),
            ("processing.guarantee", "exactly_once", "exactly_once_v2"),
            ("replication.factor", "0", "replication factor >= 1"),
            (
                "default.deserialization.exception.handler",
                "skip",
                "log_and_continue",
            ),
            ("application.id", "my app", "ASCII letters"),
            ("bootstrap.servers", "", "host:port"),
            ("group.id", "other", "application.id as the group id"),
            (
                "consumer.enable.auto.commit",
                "true",
                "commits offsets itself",
            ),
        ] {
            let e = c.set(key, value).unwrap_err();
            let msg = e.to_string();
            assert!(
                matches!(&e, StreamsError::Config { key: k, .. } if k == key),
                "{e:?}"
            );
            assert!(msg.contains(key), "{msg}");
            assert!(msg.contains("StreamsConfig::set"), "{msg}");
            assert!(msg.contains(expected), "{key}: {msg}");
        }
        assert_eq!(c, StreamsConfig::new("app"), "failed sets change nothing");
    }

    #[test]
    fn schema_registry_properties_are_typed_not_passed_to_librdkafka() {
        let c = StreamsConfig::new("app")
            .with("schema.registry.url", "http://registry:8081")
            .and_then(|c| c.with("basic.auth.user.info", "u:p"))
            .and_then(|c| c.with("auto.register.schemas", "false"))
            .and_then(|c| c.with("value.subject.name.strategy", "record"))
            .unwrap();
        assert_eq!(c.schema_registry.urls, vec!["http://registry:8081"]);
        assert!(!c.schema_registry.auto_register_schemas);
        assert_eq!(
            c.schema_registry.value_subject_name_strategy,
            crate::config::SubjectNameStrategy::RecordName
        );
        assert!(c.kafka.is_empty(), "{:?}", c.kafka);
        let e = StreamsConfig::new("app")
            .with("auto.register.schemas", "maybe")
            .unwrap_err();
        assert!(
            e.to_string().contains("auto.register.schemas") && e.to_string().contains("true"),
            "{e}"
        );
    }

    #[test]
    fn empty_optional_values_unset() {
        let mut c = StreamsConfig::new("app")
            .with("group.instance.id", "w1")
            .unwrap();
        c.set("group.instance.id", "").unwrap();
        assert_eq!(c.group_instance_id, None);
    }
}
