//! [`RegistryConfig`]: the Schema Registry part of [`super::StreamsConfig`] — where the
//! registry is, how to authenticate to it, and how Avro serdes name subjects and register
//! schemas. Property names are those of Confluent's serializers (`schema.registry.url`,
//! `basic.auth.user.info`, `auto.register.schemas`, `value.subject.name.strategy`...), so an
//! existing client configuration can be reused.
//!
//! Owns: the fields, their defaults and parsing one property. Does not own: talking to the
//! registry (`serde::registry`).
//!
//! Invariant: `Debug` never prints the password of `basic.auth.user.info`.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

/// How the subject a schema is registered under is named (Confluent's
/// `*.subject.name.strategy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SubjectNameStrategy {
    /// `topic` (`TopicNameStrategy`, the default): `{topic}-key` / `{topic}-value`.
    #[default]
    TopicName,
    /// `record` (`RecordNameStrategy`): the record's full name (`marketplace.shop.Product`),
    /// whatever the topic.
    RecordName,
}

impl SubjectNameStrategy {
    /// The property value.
    pub fn as_str(self) -> &'static str {
        match self {
            SubjectNameStrategy::TopicName => "topic",
            SubjectNameStrategy::RecordName => "record",
        }
    }
}

impl fmt::Display for SubjectNameStrategy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for SubjectNameStrategy {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "topic"
            | "TopicNameStrategy"
            | "io.confluent.kafka.serializers.subject.TopicNameStrategy" => {
                Ok(SubjectNameStrategy::TopicName)
            }
            "record"
            | "RecordNameStrategy"
            | "io.confluent.kafka.serializers.subject.RecordNameStrategy" => {
                Ok(SubjectNameStrategy::RecordName)
            }
            _ => Err("expected `topic` or `record` (TopicNameStrategy, RecordNameStrategy)".into()),
        }
    }
}

/// Property names of [`RegistryConfig`].
pub mod registry_keys {
    pub const URL: &str = "schema.registry.url";
    pub const BASIC_AUTH_USER_INFO: &str = "basic.auth.user.info";
    pub const SSL_CA_LOCATION: &str = "schema.registry.ssl.ca.location";
    pub const SSL_INSECURE: &str = "schema.registry.ssl.insecure";
    pub const REQUEST_TIMEOUT_MS: &str = "schema.registry.request.timeout.ms";
    pub const AUTO_REGISTER_SCHEMAS: &str = "auto.register.schemas";
    pub const KEY_SUBJECT_NAME_STRATEGY: &str = "key.subject.name.strategy";
    pub const VALUE_SUBJECT_NAME_STRATEGY: &str = "value.subject.name.strategy";
    /// Every key above.
    pub const ALL: &[&str] = &[
        URL,
        BASIC_AUTH_USER_INFO,
        SSL_CA_LOCATION,
        SSL_INSECURE,
        REQUEST_TIMEOUT_MS,
        AUTO_REGISTER_SCHEMAS,
        KEY_SUBJECT_NAME_STRATEGY,
        VALUE_SUBJECT_NAME_STRATEGY,
    ];
}

/// Where the Schema Registry is and how Avro serdes use it.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RegistryConfig {
    /// `schema.registry.url`: comma-separated base URLs, tried in order. Empty (the default):
    /// no registry; Avro topics use the embedded schema table (`serde::registry::LocalSchemas`).
    pub urls: Vec<String>,
    /// `basic.auth.user.info`: `user:password` for HTTP basic authentication.
    pub basic_auth_user_info: Option<String>,
    /// `schema.registry.ssl.ca.location`: a PEM file of CA certificates to trust for `https`
    /// URLs instead of the built-in web roots.
    pub ssl_ca_location: Option<PathBuf>,
    /// `schema.registry.ssl.insecure` (weir's own), default false: skip certificate
    /// verification. For tests against self-signed registries only.
    pub ssl_insecure: bool,
    /// `schema.registry.request.timeout.ms`, default 10000: the whole of one HTTP request.
    pub request_timeout: Duration,
    /// `auto.register.schemas`, default true: sinks register their schema at start-up; when
    /// false the schema must already be registered (else a start-up error).
    pub auto_register_schemas: bool,
    /// `key.subject.name.strategy`, default `topic`.
    pub key_subject_name_strategy: SubjectNameStrategy,
    /// `value.subject.name.strategy`, default `topic`.
    pub value_subject_name_strategy: SubjectNameStrategy,
}

impl Default for RegistryConfig {
    fn default() -> Self {
        RegistryConfig {
            urls: Vec::new(),
            basic_auth_user_info: None,
            ssl_ca_location: None,
            ssl_insecure: false,
            request_timeout: Duration::from_secs(10),
            auto_register_schemas: true,
            key_subject_name_strategy: SubjectNameStrategy::TopicName,
            value_subject_name_strategy: SubjectNameStrategy::TopicName,
        }
    }
}

impl RegistryConfig {
    /// A config for the registry at `url` (comma-separated for several), defaults otherwise.
    pub fn with_url(url: &str) -> RegistryConfig {
        RegistryConfig {
            urls: split_urls(url),
            ..RegistryConfig::default()
        }
    }

    /// Whether `key` is one of this config's properties.
    pub fn is_key(key: &str) -> bool {
        registry_keys::ALL.contains(&key)
    }

    /// Whether a registry is configured (else the embedded schema table is used).
    pub fn is_remote(&self) -> bool {
        !self.urls.is_empty()
    }

    /// Sets one property; the error says what was expected.
    pub fn set(&mut self, key: &str, value: &str) -> Result<(), String> {
        use registry_keys as k;
        let value = value.trim();
        let optional = |v: &str| (!v.is_empty()).then(|| v.to_string());
        match key {
            k::URL => {
                let urls = split_urls(value);
                if let Some(bad) = urls
                    .iter()
                    .find(|u| !(u.starts_with("http://") || u.starts_with("https://")))
                {
                    return Err(format!("expected http:// or https:// URLs, got `{bad}`"));
                }
                self.urls = urls;
            }
            k::BASIC_AUTH_USER_INFO => {
                if !value.is_empty() && !value.contains(':') {
                    return Err("expected `user:password`".into());
                }
                self.basic_auth_user_info = optional(value);
            }
            k::SSL_CA_LOCATION => self.ssl_ca_location = optional(value).map(PathBuf::from),
            k::SSL_INSECURE => self.ssl_insecure = parse_bool(value)?,
            k::REQUEST_TIMEOUT_MS => match value.parse::<u64>() {
                Ok(ms) if ms > 0 => self.request_timeout = Duration::from_millis(ms),
                _ => return Err(format!("expected an integer >= 1, got `{value}`")),
            },
            k::AUTO_REGISTER_SCHEMAS => self.auto_register_schemas = parse_bool(value)?,
            k::KEY_SUBJECT_NAME_STRATEGY => self.key_subject_name_strategy = value.parse()?,
            k::VALUE_SUBJECT_NAME_STRATEGY => self.value_subject_name_strategy = value.parse()?,
            _ => return Err(format!("`{key}` is not a schema registry property")),
        }
        Ok(())
    }

    /// A config from `key = value` pairs (only registry properties; others are an error).
    pub fn from_properties(props: &[(String, String)]) -> Result<RegistryConfig, String> {
        let mut c = RegistryConfig::default();
        for (key, value) in props {
            c.set(key.trim(), value)
                .map_err(|e| format!("`{key}`: {e}"))?;
        }
        Ok(c)
    }
}

fn split_urls(value: &str) -> Vec<String> {
    value
        .split(',')
        .map(|u| u.trim().trim_end_matches('/').to_string())
        .filter(|u| !u.is_empty())
        .collect()
}

fn parse_bool(value: &str) -> Result<bool, String> {
    match value {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(format!("expected `true` or `false`, got `{value}`")),
    }
}

impl fmt::Debug for RegistryConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let user = self
            .basic_auth_user_info
            .as_deref()
            .map(|u| format!("{}:<redacted>", u.split(':').next().unwrap_or("")));
        f.debug_struct("RegistryConfig")
            .field("urls", &self.urls)
            .field("basic_auth_user_info", &user)
            .field("ssl_ca_location", &self.ssl_ca_location)
            .field("ssl_insecure", &self.ssl_insecure)
            .field("request_timeout", &self.request_timeout)
            .field("auto_register_schemas", &self.auto_register_schemas)
            .field("key_subject_name_strategy", &self.key_subject_name_strategy)
            .field(
                "value_subject_name_strategy",
                &self.value_subject_name_strategy,
            )
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_confluents() {
        let c = RegistryConfig::default();
        assert!(!c.is_remote());
        assert!(c.auto_register_schemas);
        assert_eq!(
            c.value_subject_name_strategy,
            SubjectNameStrategy::TopicName
        );
        assert_eq!(c.key_subject_name_strategy, SubjectNameStrategy::TopicName);
        assert_eq!(c.request_timeout, Duration::from_secs(10));
    }

    #[test]
    fn every_property_parses_and_the_password_is_hidden() {
        let props: Vec<(String, String)> = [
            ("schema.registry.url", "http://a:8081/, https://b:8081"),
            ("basic.auth.user.info", "weir:s3cret"),
            ("schema.registry.ssl.ca.location", "/etc/ca.pem"),
            ("schema.registry.ssl.insecure", "true"),
            ("schema.registry.request.timeout.ms", "2500"),
            ("auto.register.schemas", "false"),
            ("key.subject.name.strategy", "record"),
            (
                "value.subject.name.strategy",
                "io.confluent.kafka.serializers.subject.RecordNameStrategy",
            ),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let c = RegistryConfig::from_properties(&props).unwrap();
        assert_eq!(c.urls, vec!["http://a:8081", "https://b:8081"]);
        assert_eq!(c.basic_auth_user_info.as_deref(), Some("weir:s3cret"));
        assert_eq!(c.ssl_ca_location, Some(PathBuf::from("/etc/ca.pem")));
        assert!(c.ssl_insecure);
        assert_eq!(c.request_timeout, Duration::from_millis(2500));
        assert!(!c.auto_register_schemas);
        assert_eq!(c.key_subject_name_strategy, SubjectNameStrategy::RecordName);
        assert_eq!(
            c.value_subject_name_strategy,
            SubjectNameStrategy::RecordName
        );
        let debug = format!("{c:?}");
        assert!(debug.contains("weir:<redacted>"), "{debug}");
        assert!(!debug.contains("s3cret"), "{debug}");
    }

    #[test]
    fn bad_values_say_what_was_expected() {
        let mut c = RegistryConfig::default();
        for (key, value, expected) in [
            ("schema.registry.url", "localhost:8081", "http://"),
            ("basic.auth.user.info", "nopassword", "user:password"),
            ("auto.register.schemas", "yes", "`true` or `false`"),
            (
                "value.subject.name.strategy",
                "topic_record",
                "`topic` or `record`",
            ),
            ("schema.registry.request.timeout.ms", "0", "integer >= 1"),
        ] {
            let e = c.set(key, value).unwrap_err();
            assert!(e.contains(expected), "{key}: {e}");
        }
        assert_eq!(c, RegistryConfig::default(), "failed sets change nothing");
    }
}
