//! Loading a [`StreamsConfig`] from its four sources, in the order its type doc gives: defaults,
//! properties file, `WEIR_*` environment variables, explicit overrides.
//!
//! Pure apart from reading the file: the environment is passed in, never read here, so tests
//! give a fake one.

use std::path::Path;

use super::{StreamsConfig, keys};
use crate::error::StreamsError;

/// `WEIR_*` environment variables that belong to weir's tooling (the CLI, the launcher, the
/// test harness), not to the application config; [`StreamsConfig::load`] skips them, and every
/// variable starting with one of [`RESERVED_ENV_PREFIXES`].
pub const RESERVED_ENV_VARS: &[&str] = &[
    "WEIR_CONFIG",
    "WEIR_LOG",
    "WEIR_TANSU_BIN",
    "WEIR_TANSU_SQLITE_BIN",
    "WEIR_CACHE_DIR",
    "WEIR_LIBCLANG",
    "WEIR_ROCKSDB_CACHE",
];

/// Prefixes of the tooling's own `WEIR_*` variables (benchmarks, tests, the reliability suite).
pub const RESERVED_ENV_PREFIXES: &[&str] = &[
    "WEIR_BENCH_",
    "WEIR_TEST_",
    "WEIR_RELIABILITY_",
    "WEIR_WRITE_",
];

/// Whether `name` is one of the tooling's variables rather than a config property.
fn reserved(name: &str) -> bool {
    RESERVED_ENV_VARS.contains(&name) || RESERVED_ENV_PREFIXES.iter().any(|p| name.starts_with(p))
}

const ENV_PREFIX: &str = "WEIR_";

impl StreamsConfig {
    /// Loads the config: defaults, then the properties `file`, then the `WEIR_*` variables of
    /// `env` (callers pass `std::env::vars()`), then `overrides`; later sources win. See the
    /// type doc for the formats. `application.id` must be set by one of them.
    pub fn load(
        file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
        overrides: &[(String, String)],
    ) -> Result<StreamsConfig, StreamsError> {
        Self::load_with_defaults(&[], file, env, overrides)
    }

    /// [`StreamsConfig::load`] with `defaults` applied first, over the defaults in code: what a
    /// topology brings along (a definition file's `config:`, its application id), which the
    /// properties file, the environment and the overrides may change.
    pub fn load_with_defaults(
        defaults: &[(String, String)],
        file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
        overrides: &[(String, String)],
    ) -> Result<StreamsConfig, StreamsError> {
        // Step 1: defaults in code; the application id is checked at the end.
        let mut config = StreamsConfig::new("");
        for (key, value) in defaults {
            config.set_from(key, value, "the topology's defaults")?;
        }
        // Step 2: the properties file.
        if let Some(path) = file {
            let text =
                std::fs::read_to_string(path).map_err(|source| StreamsError::ConfigFile {
                    path: path.to_path_buf(),
                    source,
                })?;
            for (line, key, value) in parse_properties(&text, path)? {
                config.set_from(&key, &value, &format!("{}:{line}", path.display()))?;
            }
        }
        // Step 3: WEIR_* environment variables, in name order so that the result is the same
        // whatever order the environment lists them in.
        let mut env: Vec<(String, String)> = env
            .into_iter()
            .filter(|(name, _)| name.starts_with(ENV_PREFIX) && !reserved(name))
            .collect();
        env.sort();
        for (name, value) in env {
            let origin = format!("environment variable `{name}`");
            let key = env_to_key(&name).map_err(|message| StreamsError::Config {
                key: name.clone(),
                origin: origin.clone(),
                message,
            })?;
            config.set_from(&key, &value, &origin)?;
        }
        // Step 4: explicit overrides.
        for (key, value) in overrides {
            config.set_from(key, value, "override")?;
        }
        if config.application_id.is_empty() {
            return Err(StreamsError::MissingConfig {
                key: keys::APPLICATION_ID,
                hint: "set it in the properties file, as WEIR_APPLICATION_ID, or as an override",
            });
        }
        Ok(config)
    }
}

/// Parses a properties file into `(line number, key, value)`.
fn parse_properties(text: &str, path: &Path) -> Result<Vec<(usize, String, String)>, StreamsError> {
    let mut out = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with('!') {
            continue;
        }
        let Some(at) = line.find(['=', ':']) else {
            return Err(StreamsError::Config {
                key: line.to_string(),
                origin: format!("{}:{}", path.display(), i + 1),
                message: "expected `key=value` or `key: value`".into(),
            });
        };
        let (key, value) = (line[..at].trim(), line[at + 1..].trim());
        out.push((i + 1, key.to_string(), value.to_string()));
    }
    Ok(out)
}

/// `WEIR_SASL_USERNAME` → `sasl.username`: strip the prefix, lowercase, and map runs of
/// underscores: `_` → `.`, `__` → `_`, `___` → `-`.
fn env_to_key(name: &str) -> Result<String, String> {
    let rest = name.strip_prefix(ENV_PREFIX).unwrap_or(name).to_lowercase();
    let mut key = String::with_capacity(rest.len());
    let mut underscores = 0;
    for c in rest.chars().chain(std::iter::once('\0')) {
        if c == '_' {
            underscores += 1;
            continue;
        }
        match underscores {
            0 => {}
            1 => key.push('.'),
            2 => key.push('_'),
            3 => key.push('-'),
            n => {
                return Err(format!(
                    "{n} underscores in a row; use 1 (`.`), 2 (`_`) or 3 (`-`)"
                ));
            }
        }
        underscores = 0;
        if c != '\0' {
            key.push(c);
        }
    }
    if key.is_empty() || key.starts_with(['.', '_', '-']) || key.ends_with(['.', '_', '-']) {
        return Err("not a property name".into());
    }
    Ok(key)
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::time::Duration;

    use super::*;
    use crate::config::{ErrorHandling, ProcessingGuarantee};

    fn env(vars: &[(&str, &str)]) -> Vec<(String, String)> {
        vars.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn file(text: &str) -> tempfile::NamedTempFile {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(text.as_bytes()).unwrap();
        f
    }

    #[test]
    fn env_names_map_to_dotted_keys() {
        assert_eq!(env_to_key("WEIR_APPLICATION_ID").unwrap(), "application.id");
        assert_eq!(env_to_key("WEIR_SASL_USERNAME").unwrap(), "sasl.username");
        assert_eq!(
            env_to_key("WEIR_SSL_ENDPOINT__IDENTIFICATION__ALGORITHM").unwrap(),
            "ssl.endpoint_identification_algorithm"
        );
        assert_eq!(env_to_key("WEIR_CLIENT___RACK").unwrap(), "client-rack");
        assert!(env_to_key("WEIR_A____B").is_err());
        assert!(env_to_key("WEIR_").is_err());
        assert!(env_to_key("WEIR__X").is_err());
    }

    #[test]
    fn the_toolings_own_variables_are_not_config() {
        let c = StreamsConfig::load(
            None,
            env(&[
                ("WEIR_APPLICATION_ID", "app"),
                ("WEIR_TANSU_SQLITE_BIN", "/x/tansu"),
                ("WEIR_CACHE_DIR", "/x"),
                ("WEIR_RELIABILITY_FULL", "1"),
                ("WEIR_BENCH_RECORDS", "5"),
                ("WEIR_TEST_SCHEMA_REGISTRY_URL", "http://r"),
            ]),
            &[],
        )
        .unwrap();
        assert_eq!(c, StreamsConfig::new("app"));
    }

    #[test]
    fn step_1_defaults_when_nothing_else_but_the_id() {
        let c = StreamsConfig::load(None, env(&[("WEIR_APPLICATION_ID", "app")]), &[]).unwrap();
        assert_eq!(c, StreamsConfig::new("app"));
    }

    #[test]
    fn missing_application_id_is_a_clear_error() {
        let e = StreamsConfig::load(None, env(&[("HOME", "/root")]), &[]).unwrap_err();
        assert!(matches!(
            e,
            StreamsError::MissingConfig {
                key: "application.id",
                ..
            }
        ));
        assert!(e.to_string().contains("WEIR_APPLICATION_ID"), "{e}");
    }

    #[test]
    fn step_2_properties_file_formats() {
        let f = file(
            "# a comment\n\
             ! another comment\n\
             \n\
             application.id = shop-filter\n\
             bootstrap.servers: broker-1:9092,broker-2:9092\n\
             \tnum.stream.threads=3  \n\
             processing.guarantee : exactly_once_v2\n\
             security.protocol=SASL_SSL\n\
             sasl.jaas.config=a=b:c\n",
        );
        let c = StreamsConfig::load(Some(f.path()), env(&[]), &[]).unwrap();
        assert_eq!(c.application_id, "shop-filter");
        assert_eq!(c.bootstrap_servers, "broker-1:9092,broker-2:9092");
        assert_eq!(c.num_stream_threads, 3);
        assert_eq!(c.processing_guarantee, ProcessingGuarantee::ExactlyOnceV2);
        assert_eq!(c.commit_interval(), Duration::from_millis(100));
        assert_eq!(c.kafka["security.protocol"], "SASL_SSL");
        assert_eq!(
            c.kafka["sasl.jaas.config"], "a=b:c",
            "split at the first separator"
        );
    }

    #[test]
    fn step_3_env_overrides_file_and_skips_other_vars() {
        let f = file("application.id=from-file\nnum.stream.threads=2\nreplication.factor=3\n");
        let c = StreamsConfig::load(
            Some(f.path()),
            env(&[
                ("WEIR_NUM_STREAM_THREADS", "5"),
                ("WEIR_SASL_USERNAME", "svc"),
                ("WEIR_TANSU_BIN", "/usr/bin/tansu"),
                ("WEIR_LOG", "debug"),
                ("PATH", "/usr/bin"),
                ("weir_lowercase_is_not_ours", "x"),
            ]),
            &[],
        )
        .unwrap();
        assert_eq!(c.application_id, "from-file");
        assert_eq!(c.num_stream_threads, 5);
        assert_eq!(c.replication_factor, 3);
        assert_eq!(c.kafka.len(), 1, "{:?}", c.kafka);
        assert_eq!(c.kafka["sasl.username"], "svc");
    }

    #[test]
    fn step_4_overrides_win_over_everything() {
        let f = file("application.id=from-file\nprocessing.exception.handler=fail\n");
        let c = StreamsConfig::load(
            Some(f.path()),
            env(&[
                ("WEIR_APPLICATION_ID", "from-env"),
                ("WEIR_PROCESSING_EXCEPTION_HANDLER", "log_and_continue"),
            ]),
            &[
                ("processing.exception.handler".into(), "dead_letter".into()),
                ("linger.ms".into(), "20".into()),
            ],
        )
        .unwrap();
        assert_eq!(c.application_id, "from-env");
        assert_eq!(c.processing_exception_handler, ErrorHandling::DeadLetter);
        assert_eq!(c.dead_letter_topic(), "from-env-dlq");
        assert_eq!(c.kafka["linger.ms"], "20");
    }

    #[test]
    fn file_errors_name_file_and_line() {
        let f = file("application.id=app\n\nnum.stream.threads=lots\n");
        let e = StreamsConfig::load(Some(f.path()), env(&[]), &[]).unwrap_err();
        let msg = e.to_string();
        assert!(msg.contains("num.stream.threads"), "{msg}");
        assert!(
            msg.contains(&format!("({}:3)", f.path().display())),
            "{msg}"
        );
        assert!(msg.contains("integer >= 1"), "{msg}");

        let f = file("application.id=app\njust-a-word\n");
        let msg = StreamsConfig::load(Some(f.path()), env(&[]), &[])
            .unwrap_err()
            .to_string();
        assert!(msg.contains(":2)") && msg.contains("key=value"), "{msg}");

        let missing = Path::new("/nonexistent/weir.properties");
        let e = StreamsConfig::load(Some(missing), env(&[]), &[]).unwrap_err();
        assert!(matches!(e, StreamsError::ConfigFile { .. }), "{e:?}");
        assert!(
            e.to_string().contains("/nonexistent/weir.properties"),
            "{e}"
        );
    }

    #[test]
    fn env_and_override_errors_name_their_source() {
        let e = StreamsConfig::load(
            None,
            env(&[
                ("WEIR_APPLICATION_ID", "a"),
                ("WEIR_SESSION_TIMEOUT_MS", "soon"),
            ]),
            &[],
        )
        .unwrap_err();
        let msg = e.to_string();
        assert!(msg.contains("session.timeout.ms"), "{msg}");
        assert!(msg.contains("WEIR_SESSION_TIMEOUT_MS"), "{msg}");

        let e = StreamsConfig::load(
            None,
            env(&[("WEIR_APPLICATION_ID", "a")]),
            &[("processing.guarantee".into(), "maybe".into())],
        )
        .unwrap_err();
        let msg = e.to_string();
        assert!(
            msg.contains("override") && msg.contains("at_least_once"),
            "{msg}"
        );
    }
}
