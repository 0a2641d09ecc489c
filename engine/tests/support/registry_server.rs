//! A Schema Registry test server: the REST subset weir's client uses, with Confluent's JSON
//! shapes and error codes, over real HTTP/1.1 on a loopback socket (std only, one thread per
//! connection, `Connection: close`). No JVM registry can run here; this one is checked against
//! the recorded examples of the API reference in `fixtures/registry/api_examples.json`.
//!
//! Implements: `POST /subjects/{s}/versions` (register; 42201 invalid schema, 409 incompatible
//! under BACKWARD), `POST /subjects/{s}` (lookup; 40401 subject / 40403 schema not found),
//! `GET /schemas/ids/{id}` (40403), `GET /subjects/{s}/versions/latest` (40401),
//! `POST /compatibility/subjects/{s}/versions/latest[?verbose=true]` (40401), and basic auth
//! (401). Counts requests so tests can prove the client's caches.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use apache_avro::Schema;
use apache_avro::schema_compatibility::SchemaCompatibility;
use serde_json::{Value as Json, json};

#[derive(Default)]
struct State {
    /// (id, schema as the registry returns it, parsed).
    schemas: Vec<(u32, String, Schema)>,
    subjects: BTreeMap<String, Vec<u32>>,
    next_id: u32,
    basic_auth: Option<String>,
    log: Vec<String>,
}

/// A running test registry.
pub struct RegistryServer {
    pub url: String,
    state: Arc<Mutex<State>>,
    requests: Arc<AtomicUsize>,
}

impl RegistryServer {
    pub fn start() -> RegistryServer {
        RegistryServer::start_with(None)
    }

    /// The same server behind TLS, with the certificate and key in these PEM files (the URL is
    /// `https://localhost:{port}`).
    pub fn start_tls(cert_pem: &std::path::Path, key_pem: &std::path::Path) -> RegistryServer {
        use rustls::pki_types::pem::PemObject;
        use rustls::pki_types::{CertificateDer, PrivateKeyDer};
        let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert_pem)
            .unwrap()
            .map(Result::unwrap)
            .collect();
        let key = PrivateKeyDer::from_pem_file(key_pem).unwrap();
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .unwrap();
        RegistryServer::start_with(Some(Arc::new(config)))
    }

    fn start_with(tls: Option<Arc<rustls::ServerConfig>>) -> RegistryServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let url = match tls {
            None => format!("http://127.0.0.1:{port}"),
            Some(_) => format!("https://localhost:{port}"),
        };
        let state = Arc::new(Mutex::new(State {
            next_id: 1,
            ..State::default()
        }));
        let requests = Arc::new(AtomicUsize::new(0));
        let (s, r) = (state.clone(), requests.clone());
        std::thread::Builder::new()
            .name("test-registry".into())
            .spawn(move || {
                for stream in listener.incoming().flatten() {
                    let (s, r, tls) = (s.clone(), r.clone(), tls.clone());
                    std::thread::spawn(move || match tls {
                        None => serve(stream, &s, &r),
                        Some(config) => {
                            let Ok(conn) = rustls::ServerConnection::new(config) else {
                                return;
                            };
                            serve(rustls::StreamOwned::new(conn, stream), &s, &r);
                        }
                    });
                }
            })
            .unwrap();
        RegistryServer {
            url,
            state,
            requests,
        }
    }

    /// Requires `Authorization: Basic base64(user:password)` from now on.
    pub fn require_basic_auth(&self, user_info: &str) {
        use base64::Engine as _;
        self.state.lock().unwrap().basic_auth = Some(format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(user_info)
        ));
    }

    /// Registers `schema` under `subject` with the given `id` (as another client did before).
    pub fn seed(&self, id: u32, subject: &str, schema: &str) {
        let parsed = Schema::parse_str(schema).unwrap();
        let mut st = self.state.lock().unwrap();
        st.schemas
            .push((id, serde_json::to_string(&parsed).unwrap(), parsed));
        st.subjects.entry(subject.to_string()).or_default().push(id);
        st.next_id = st.next_id.max(id + 1);
    }

    /// How many requests were answered.
    pub fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }

    /// `METHOD /path` of every request, in order.
    pub fn log(&self) -> Vec<String> {
        self.state.lock().unwrap().log.clone()
    }
}

fn serve<S: Read + Write>(stream: S, state: &Mutex<State>, requests: &AtomicUsize) {
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    if reader.read_line(&mut line).is_err() {
        return;
    }
    let mut parts = line.split_whitespace();
    let (method, target) = (
        parts.next().unwrap_or("").to_string(),
        parts.next().unwrap_or("").to_string(),
    );
    let mut content_length = 0usize;
    let mut authorization = None;
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).is_err() || h.trim().is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            match k.trim().to_ascii_lowercase().as_str() {
                "content-length" => content_length = v.trim().parse().unwrap_or(0),
                "authorization" => authorization = Some(v.trim().to_string()),
                _ => {}
            }
        }
    }
    let mut body = vec![0; content_length];
    if reader.read_exact(&mut body).is_err() {
        return;
    }
    requests.fetch_add(1, Ordering::SeqCst);
    let (status, answer) = {
        let mut st = state.lock().unwrap();
        st.log.push(format!("{method} {target}"));
        if st.basic_auth.is_some() && st.basic_auth != authorization {
            (401, json!({"error_code": 401, "message": "Unauthorized"}))
        } else {
            route(&mut st, &method, &target, &body)
        }
    };
    let text = answer.to_string();
    let reason = match status {
        200 => "OK",
        401 => "Unauthorized",
        404 => "Not Found",
        409 => "Conflict",
        422 => "Unprocessable Entity",
        _ => "Error",
    };
    let out = reader.get_mut();
    let _ = write!(
        out,
        "HTTP/1.1 {status} {reason}\r\nContent-Type: application/vnd.schemaregistry.v1+json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{text}",
        text.len()
    );
    let _ = out.flush();
}

fn error(status: u16, code: u32, message: String) -> (u16, Json) {
    (status, json!({"error_code": code, "message": message}))
}

fn subject_not_found(s: &str) -> (u16, Json) {
    error(404, 40401, format!("Subject '{s}' not found."))
}

fn route(st: &mut State, method: &str, target: &str, body: &[u8]) -> (u16, Json) {
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let verbose = query.contains("verbose=true");
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let schema_in_body = || -> Result<Schema, (u16, Json)> {
        let b: Json = serde_json::from_slice(body)
            .map_err(|_| error(422, 42203, "Unrecognized field or invalid JSON".into()))?;
        let text = b["schema"].as_str().ok_or_else(|| {
            error(
                422,
                42201,
                "Either the input schema or one of its references is invalid".into(),
            )
        })?;
        Schema::parse_str(text)
            .map_err(|e| error(422, 42201, format!("Invalid schema {text}: {e}")))
    };
    match (method, segments.as_slice()) {
        ("GET", ["schemas", "ids", id]) => {
            let id: u32 = id.parse().unwrap_or(0);
            match st.schemas.iter().find(|(i, ..)| *i == id) {
                Some((_, text, _)) => (200, json!({"schema": text})),
                None => error(404, 40403, format!("Schema {id} not found")),
            }
        }
        ("POST", ["subjects", subject, "versions"]) => {
            let schema = match schema_in_body() {
                Ok(s) => s,
                Err(e) => return e,
            };
            let versions = st.subjects.get(*subject).cloned().unwrap_or_default();
            if let Some(id) = versions
                .iter()
                .find(|id| st.schemas.iter().any(|(i, _, s)| i == *id && *s == schema))
            {
                return (200, json!({"id": id}));
            }
            if let Some(latest) = versions.last()
                && let Some((_, _, old)) = st.schemas.iter().find(|(i, ..)| i == latest)
                && SchemaCompatibility::can_read(old, &schema).is_err()
            {
                return error(
                    409,
                    409,
                    format!(
                        "Schema being registered is incompatible with an earlier schema for subject \"{subject}\""
                    ),
                );
            }
            let id = match st.schemas.iter().find(|(_, _, s)| *s == schema) {
                Some((i, ..)) => *i,
                None => {
                    let i = st.next_id;
                    st.next_id += 1;
                    let text = serde_json::to_string(&schema).unwrap();
                    st.schemas.push((i, text, schema));
                    i
                }
            };
            st.subjects.entry(subject.to_string()).or_default().push(id);
            (200, json!({"id": id}))
        }
        ("POST", ["subjects", subject]) => {
            let schema = match schema_in_body() {
                Ok(s) => s,
                Err(e) => return e,
            };
            let Some(versions) = st.subjects.get(*subject) else {
                return subject_not_found(subject);
            };
            for (n, id) in versions.iter().enumerate() {
                if let Some((_, text, _)) =
                    st.schemas.iter().find(|(i, _, s)| i == id && *s == schema)
                {
                    return (
                        200,
                        json!({"subject": subject, "id": id, "version": n + 1, "schema": text}),
                    );
                }
            }
            error(404, 40403, "Schema not found".into())
        }
        ("GET", ["subjects", subject, "versions", "latest"]) => {
            let Some(versions) = st.subjects.get(*subject) else {
                return subject_not_found(subject);
            };
            let id = *versions.last().unwrap();
            let text = &st.schemas.iter().find(|(i, ..)| *i == id).unwrap().1;
            (
                200,
                json!({"subject": subject, "id": id, "version": versions.len(), "schema": text}),
            )
        }
        ("POST", ["compatibility", "subjects", subject, "versions", "latest"]) => {
            let schema = match schema_in_body() {
                Ok(s) => s,
                Err(e) => return e,
            };
            let Some(id) = st.subjects.get(*subject).and_then(|v| v.last()) else {
                return subject_not_found(subject);
            };
            let old = &st.schemas.iter().find(|(i, ..)| i == id).unwrap().2;
            let check = SchemaCompatibility::can_read(old, &schema);
            let mut answer = json!({"is_compatible": check.is_ok()});
            if verbose {
                answer["messages"] =
                    json!(check.err().map(|e| vec![e.to_string()]).unwrap_or_default());
            }
            (200, answer)
        }
        _ => error(404, 404, "HTTP 404 Not Found".into()),
    }
}

/// One raw HTTP/1.1 request (for replaying recorded examples): status and JSON body.
pub fn raw_request(url: &str, method: &str, path: &str, body: Option<&Json>) -> (u16, Json) {
    let addr = url.trim_start_matches("http://");
    let mut s = TcpStream::connect(addr).unwrap();
    let body = body.map(Json::to_string).unwrap_or_default();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/vnd.schemaregistry.v1+json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).unwrap();
    let status = text[9..12].parse().unwrap();
    let json = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| serde_json::from_str(b).unwrap())
        .unwrap();
    (status, json)
}
