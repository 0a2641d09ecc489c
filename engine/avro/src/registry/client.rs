//! [`SchemaRegistryClient`]: a blocking client of the Confluent Schema Registry REST API (the
//! subset weir needs), with caches of id → schema and (subject, schema) → id.
//!
//! Requests carry `Accept`/`Content-Type: application/vnd.schemaregistry.v1+json` and, with
//! `basic.auth.user.info`, an `Authorization: Basic` header. Several URLs are tried in order
//! when one cannot be reached. Error answers (`{"error_code": 40403, "message": "..."}`)
//! become [`StreamsError::SchemaRegistry`] with the status and code. Requests block the calling
//! thread (a stream thread, or start-up); they are bounded by `schema.registry.request.timeout.ms`.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use apache_avro::Schema;
use base64::Engine as _;
use serde_json::{Value as Json, json};

use super::{Compatibility, RegisteredSchema, SchemaRegistry, schema_json};
use weir_core::config::RegistryConfig;
use weir_core::error::StreamsError;

const CONTENT_TYPE: &str = "application/vnd.schemaregistry.v1+json";
const ACCEPT: &str =
    "application/vnd.schemaregistry.v1+json, application/vnd.schemaregistry+json, application/json";

/// A Schema Registry over HTTP(S).
pub struct SchemaRegistryClient {
    urls: Vec<String>,
    agent: ureq::Agent,
    authorization: Option<String>,
    by_id: RwLock<HashMap<u32, Arc<Schema>>>,
    ids: RwLock<HashMap<(String, String), u32>>,
}

impl std::fmt::Debug for SchemaRegistryClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SchemaRegistryClient")
            .field("urls", &self.urls)
            .field("basic_auth", &self.authorization.is_some())
            .finish()
    }
}

enum Method {
    Get,
    Post(Json),
}

impl SchemaRegistryClient {
    /// A client of the registry `config` names; reads the CA file, makes no request.
    pub fn new(config: &RegistryConfig) -> Result<SchemaRegistryClient, StreamsError> {
        if config.urls.is_empty() {
            return Err(StreamsError::MissingConfig {
                key: "schema.registry.url",
                hint: "the Schema Registry client needs at least one URL",
            });
        }
        let mut tls = ureq::tls::TlsConfig::builder().disable_verification(config.ssl_insecure);
        if let Some(path) = &config.ssl_ca_location {
            let pem = std::fs::read(path).map_err(|e| StreamsError::Config {
                key: "schema.registry.ssl.ca.location".into(),
                origin: path.display().to_string(),
                message: format!("cannot read the CA file: {e}"),
            })?;
            let mut certs = Vec::new();
            for item in ureq::tls::parse_pem(&pem) {
                match item {
                    Ok(ureq::tls::PemItem::Certificate(c)) => certs.push(c),
                    Ok(_) => {}
                    Err(e) => {
                        return Err(StreamsError::Config {
                            key: "schema.registry.ssl.ca.location".into(),
                            origin: path.display().to_string(),
                            message: format!("invalid PEM: {e}"),
                        });
                    }
                }
            }
            if certs.is_empty() {
                return Err(StreamsError::Config {
                    key: "schema.registry.ssl.ca.location".into(),
                    origin: path.display().to_string(),
                    message: "no certificate in the file".into(),
                });
            }
            tls = tls.root_certs(ureq::tls::RootCerts::new_with_certs(&certs));
        }
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(config.request_timeout))
            .tls_config(tls.build())
            .build()
            .into();
        let authorization = config.basic_auth_user_info.as_ref().map(|info| {
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(info)
            )
        });
        Ok(SchemaRegistryClient {
            urls: config.urls.clone(),
            agent,
            authorization,
            by_id: RwLock::new(HashMap::new()),
            ids: RwLock::new(HashMap::new()),
        })
    }

    /// One request, tried against each URL until one answers; the JSON body of a 2xx answer.
    fn request(&self, method: &Method, path: &str) -> Result<Json, StreamsError> {
        let operation = match method {
            Method::Get => format!("GET {path}"),
            Method::Post(_) => format!("POST {path}"),
        };
        let mut unreachable = Vec::new();
        for base in &self.urls {
            let url = format!("{base}{path}");
            let sent = match method {
                Method::Get => {
                    let mut r = self.agent.get(&url).header("Accept", ACCEPT);
                    if let Some(a) = &self.authorization {
                        r = r.header("Authorization", a);
                    }
                    r.call()
                }
                Method::Post(body) => {
                    let mut r = self
                        .agent
                        .post(&url)
                        .header("Accept", ACCEPT)
                        .header("Content-Type", CONTENT_TYPE);
                    if let Some(a) = &self.authorization {
                        r = r.header("Authorization", a);
                    }
                    r.send(body.to_string())
                }
            };
            let mut response = match sent {
                Ok(r) => r,
                Err(e) => {
                    unreachable.push(format!("{base}: {e}"));
                    continue;
                }
            };
            let status = response.status().as_u16();
            let text =
                response
                    .body_mut()
                    .read_to_string()
                    .map_err(|e| StreamsError::SchemaRegistry {
                        operation: operation.clone(),
                        status: Some(status),
                        error_code: None,
                        message: format!("cannot read the answer of {base}: {e}"),
                    })?;
            let body: Option<Json> = serde_json::from_str(&text).ok();
            if (200..300).contains(&status) {
                return body.ok_or_else(|| StreamsError::SchemaRegistry {
                    operation,
                    status: Some(status),
                    error_code: None,
                    message: format!("answer is not JSON: {}", excerpt(&text)),
                });
            }
            let error_code = body
                .as_ref()
                .and_then(|b| b.get("error_code"))
                .and_then(Json::as_u64)
                .and_then(|c| u32::try_from(c).ok());
            let mut message = body
                .as_ref()
                .and_then(|b| b.get("message"))
                .and_then(Json::as_str)
                .map(str::to_string)
                .unwrap_or_else(|| format!("HTTP {status}: {}", excerpt(&text)));
            if status == 401 || status == 403 {
                message = format!(
                    "{message} (HTTP {status}: check basic.auth.user.info{})",
                    if self.authorization.is_none() {
                        ", which is not set"
                    } else {
                        ""
                    }
                );
            }
            return Err(StreamsError::SchemaRegistry {
                operation,
                status: Some(status),
                error_code,
                message,
            });
        }
        Err(StreamsError::SchemaRegistry {
            operation,
            status: None,
            error_code: None,
            message: format!("registry unreachable: {}", unreachable.join("; ")),
        })
    }

    fn cached_id(&self, subject: &str, json: &str) -> Option<u32> {
        self.ids
            .read()
            .ok()?
            .get(&(subject.to_string(), json.to_string()))
            .copied()
    }

    fn remember(&self, subject: &str, json: String, id: u32, schema: &Schema) {
        if let Ok(mut ids) = self.ids.write() {
            ids.insert((subject.to_string(), json), id);
        }
        if let Ok(mut by_id) = self.by_id.write() {
            by_id.entry(id).or_insert_with(|| Arc::new(schema.clone()));
        }
    }
}

fn excerpt(text: &str) -> String {
    text.chars().take(200).collect()
}

/// Percent-encodes a subject for a URL path (topic names are safe; record names too; this is
/// for anything else).
fn encode_subject(subject: &str) -> String {
    let mut out = String::with_capacity(subject.len());
    for b in subject.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn field_u32(body: &Json, field: &str, operation: &str) -> Result<u32, StreamsError> {
    body.get(field)
        .and_then(Json::as_u64)
        .and_then(|v| u32::try_from(v).ok())
        .ok_or_else(|| StreamsError::SchemaRegistry {
            operation: operation.to_string(),
            status: Some(200),
            error_code: None,
            message: format!(
                "answer has no numeric `{field}`: {}",
                excerpt(&body.to_string())
            ),
        })
}

fn parse_schema(body: &Json, operation: &str) -> Result<Schema, StreamsError> {
    let bad = |message: String| StreamsError::SchemaRegistry {
        operation: operation.to_string(),
        status: Some(200),
        error_code: None,
        message,
    };
    if let Some(t) = body.get("schemaType").and_then(Json::as_str)
        && t != "AVRO"
    {
        return Err(bad(format!("schema type {t} is not Avro")));
    }
    let text = body
        .get("schema")
        .and_then(Json::as_str)
        .ok_or_else(|| bad("answer has no `schema` string".into()))?;
    Schema::parse_str(text).map_err(|e| bad(format!("invalid Avro schema from the registry: {e}")))
}

fn is_not_found(e: &StreamsError) -> bool {
    matches!(
        e,
        StreamsError::SchemaRegistry {
            error_code: Some(40401..=40403),
            ..
        }
    )
}

impl SchemaRegistry for SchemaRegistryClient {
    fn schema_by_id(&self, id: u32) -> Result<Arc<Schema>, StreamsError> {
        if let Some(s) = self.by_id.read().ok().and_then(|m| m.get(&id).cloned()) {
            return Ok(s);
        }
        let path = format!("/schemas/ids/{id}");
        let body = self.request(&Method::Get, &path)?;
        let schema = Arc::new(parse_schema(&body, &format!("GET {path}"))?);
        if let Ok(mut m) = self.by_id.write() {
            m.insert(id, schema.clone());
        }
        Ok(schema)
    }

    fn register(&self, subject: &str, schema: &Schema) -> Result<u32, StreamsError> {
        let text = schema_json(schema)?;
        if let Some(id) = self.cached_id(subject, &text) {
            return Ok(id);
        }
        let path = format!("/subjects/{}/versions", encode_subject(subject));
        let body = self.request(&Method::Post(json!({ "schema": text })), &path)?;
        let id = field_u32(&body, "id", &format!("POST {path}"))?;
        self.remember(subject, text, id, schema);
        Ok(id)
    }

    fn lookup(&self, subject: &str, schema: &Schema) -> Result<Option<u32>, StreamsError> {
        let text = schema_json(schema)?;
        if let Some(id) = self.cached_id(subject, &text) {
            return Ok(Some(id));
        }
        let path = format!("/subjects/{}", encode_subject(subject));
        match self.request(&Method::Post(json!({ "schema": text })), &path) {
            Ok(body) => {
                let id = field_u32(&body, "id", &format!("POST {path}"))?;
                self.remember(subject, text, id, schema);
                Ok(Some(id))
            }
            Err(e) if is_not_found(&e) => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn latest(&self, subject: &str) -> Result<Option<RegisteredSchema>, StreamsError> {
        let path = format!("/subjects/{}/versions/latest", encode_subject(subject));
        let body = match self.request(&Method::Get, &path) {
            Ok(b) => b,
            Err(e) if is_not_found(&e) => return Ok(None),
            Err(e) => return Err(e),
        };
        let operation = format!("GET {path}");
        let id = field_u32(&body, "id", &operation)?;
        let version = field_u32(&body, "version", &operation)?;
        let schema = Arc::new(parse_schema(&body, &operation)?);
        if let Ok(mut m) = self.by_id.write() {
            m.insert(id, schema.clone());
        }
        Ok(Some(RegisteredSchema {
            subject: subject.to_string(),
            id,
            version,
            schema,
        }))
    }

    fn check_compatibility(
        &self,
        subject: &str,
        schema: &Schema,
    ) -> Result<Compatibility, StreamsError> {
        let path = format!(
            "/compatibility/subjects/{}/versions/latest?verbose=true",
            encode_subject(subject)
        );
        let body = match self.request(
            &Method::Post(json!({ "schema": schema_json(schema)? })),
            &path,
        ) {
            Ok(b) => b,
            Err(e) if is_not_found(&e) => {
                return Ok(Compatibility {
                    compatible: true,
                    messages: vec![format!("no version registered under `{subject}` yet")],
                });
            }
            Err(e) => return Err(e),
        };
        let compatible = body
            .get("is_compatible")
            .and_then(Json::as_bool)
            .ok_or_else(|| StreamsError::SchemaRegistry {
                operation: format!("POST {path}"),
                status: Some(200),
                error_code: None,
                message: format!(
                    "answer has no `is_compatible`: {}",
                    excerpt(&body.to_string())
                ),
            })?;
        let messages = body
            .get("messages")
            .and_then(Json::as_array)
            .map(|m| {
                m.iter()
                    .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        Ok(Compatibility {
            compatible,
            messages,
        })
    }

    fn describe(&self) -> String {
        self.urls.join(",")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subjects_are_percent_encoded() {
        assert_eq!(encode_subject("shop-products-value"), "shop-products-value");
        assert_eq!(encode_subject("a b/c"), "a%20b%2Fc");
    }

    #[test]
    fn needs_a_url_and_a_readable_ca() {
        assert!(SchemaRegistryClient::new(&RegistryConfig::default()).is_err());
        let mut c = RegistryConfig::with_url("https://localhost:1");
        c.ssl_ca_location = Some("/nonexistent/ca.pem".into());
        let e = SchemaRegistryClient::new(&c).unwrap_err().to_string();
        assert!(e.contains("schema.registry.ssl.ca.location"), "{e}");
    }
}
