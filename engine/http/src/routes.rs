//! The endpoint's routes and their JSON. Store reads are in `stores`, forwarding in `forward`.

use std::sync::Arc;

use axum::Router;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};

use super::stores::{self, KeyParams, RangeParams};
use super::{AppState, EndpointConfig};

/// What every handler sees.
pub(crate) struct Shared {
    pub config: EndpointConfig,
    pub apps: Vec<AppState>,
    pub client: super::forward::Client,
    /// This endpoint's address, naming the instance when an application has no directory.
    pub addr: String,
}

impl Shared {
    pub fn new(config: EndpointConfig, apps: Vec<AppState>, addr: String) -> Shared {
        Shared {
            config,
            apps,
            client: super::forward::client(),
            addr,
        }
    }

    /// Which instance answers for `app`: its directory id, else this endpoint's address.
    pub fn instance_of(&self, app: &AppState) -> String {
        app.instance()
            .map_or_else(|| self.addr.clone(), str::to_owned)
    }
}

/// A JSON error response.
pub(crate) fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (status, axum::Json(json!({ "error": message.into() }))).into_response()
}

pub(crate) fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/health", get(health))
        .route("/ready", get(ready))
        .route("/topology", get(topology))
        .route("/tasks", get(tasks))
        .route("/stores", get(list_stores))
        .route("/stores/{store}/keys/{key}", get(key))
        .route("/stores/{store}/range", get(range))
        .route("/instances", get(instances))
        .route("/metrics", get(metrics))
        .fallback(|| async { error(StatusCode::NOT_FOUND, "no such route; see GET /health, /ready, /topology, /tasks, /stores, /instances, /metrics") })
        .method_not_allowed_fallback(|| async {
            error(
                StatusCode::METHOD_NOT_ALLOWED,
                "the endpoint answers GET (and HEAD) only",
            )
        })
        .layer(middleware::from_fn_with_state(shared.clone(), auth))
        .with_state(shared)
}

/// Bearer-token check (all routes but `/health`).
async fn auth(State(s): State<Arc<Shared>>, req: Request, next: Next) -> Response {
    if let Some(token) = &s.config.token
        && req.uri().path() != "/health"
    {
        let given = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        if given != Some(token.as_str()) {
            return error(
                StatusCode::UNAUTHORIZED,
                "missing or wrong token: send `Authorization: Bearer <http.token>`",
            );
        }
    }
    next.run(req).await
}

async fn health(State(s): State<Arc<Shared>>) -> Response {
    let uptime = s
        .apps
        .first()
        .map(|a| a.status.uptime_seconds())
        .unwrap_or(0.0);
    let apps: Vec<&str> = s.apps.iter().map(AppState::application).collect();
    axum::Json(json!({"status": "up", "uptime_seconds": uptime, "applications": apps}))
        .into_response()
}

async fn ready(State(s): State<Arc<Shared>>) -> Response {
    let not_ready: Vec<Value> = s
        .apps
        .iter()
        .filter_map(|a| {
            a.status
                .ready()
                .err()
                .map(|why| json!({"application": a.application, "reason": why}))
        })
        .collect();
    if not_ready.is_empty() {
        axum::Json(json!({"ready": true})).into_response()
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            axum::Json(json!({"ready": false, "not_ready": not_ready})),
        )
            .into_response()
    }
}

#[derive(serde::Deserialize)]
struct TopologyParams {
    format: Option<String>,
    application: Option<String>,
}

/// A path or query string axum could not read (bad UTF-8, a repeated parameter) as a JSON
/// 400, like every other error of the endpoint.
fn rejected(e: impl std::fmt::Display) -> Response {
    error(StatusCode::BAD_REQUEST, e.to_string())
}

async fn topology(
    State(s): State<Arc<Shared>>,
    p: Result<Query<TopologyParams>, QueryRejection>,
    headers: HeaderMap,
) -> Response {
    let p = match p {
        Ok(Query(p)) => p,
        Err(e) => return rejected(e.body_text()),
    };
    let apps: Vec<&AppState> = s
        .apps
        .iter()
        .filter(|a| p.application.as_ref().is_none_or(|n| *n == a.application))
        .collect();
    if apps.is_empty() {
        return error(StatusCode::NOT_FOUND, "no such application");
    }
    let wants_text = p.format.as_deref() == Some("text")
        || headers
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("text/plain"));
    match p.format.as_deref() {
        None | Some("text") | Some("json") => {}
        Some(other) => {
            return error(
                StatusCode::BAD_REQUEST,
                format!("format `{other}`: expected `json` or `text`"),
            );
        }
    }
    if wants_text {
        let text: String = apps
            .iter()
            .map(|a| format!("# {}\n{}", a.application, a.topology.describe()))
            .collect();
        return ([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], text).into_response();
    }
    let body: Vec<Value> = apps
        .iter()
        .map(|a| {
            let t = &a.topology;
            let subs: Vec<Value> = t
                .subtopologies
                .iter()
                .map(|sub| {
                    json!({
                        "id": sub.id,
                        "source_topics": sub.sources.keys().collect::<Vec<_>>(),
                        "stores": sub.stores,
                        "tasks": a.tasks().get(&sub.id),
                    })
                })
                .collect();
            let globals: Vec<Value> = t
                .global_tables()
                .map(|(topic, store)| json!({"topic": topic, "store": store}))
                .collect();
            json!({
                "application": a.application,
                "subtopologies": subs,
                "global_stores": globals,
                "repartition_topics": t.repartition_topics().collect::<Vec<_>>(),
                "changelog_topics": t.changelog_topics(),
                "sink_topics": t.sink_topics(),
                "describe": t.describe(),
            })
        })
        .collect();
    axum::Json(json!({ "applications": body })).into_response()
}

async fn tasks(State(s): State<Arc<Shared>>) -> Response {
    let apps: Vec<Value> = s
        .apps
        .iter()
        .map(|a| {
            json!({
                "application": a.application,
                "instance": s.instance_of(a),
                "tasks": a.status.tasks(),
            })
        })
        .collect();
    axum::Json(json!({ "applications": apps })).into_response()
}

async fn list_stores(State(s): State<Arc<Shared>>) -> Response {
    match tokio::task::spawn_blocking(move || stores::list(&s.apps)).await {
        Ok(v) => axum::Json(v).into_response(),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

async fn key(
    State(s): State<Arc<Shared>>,
    path: Result<Path<(String, String)>, PathRejection>,
    query: Result<Query<KeyParams>, QueryRejection>,
    headers: HeaderMap,
) -> Response {
    match (path, query) {
        (Ok(Path((store, key))), Ok(Query(p))) => stores::get_key(s, store, key, p, headers).await,
        (Err(e), _) => rejected(e.body_text()),
        (_, Err(e)) => rejected(e.body_text()),
    }
}

async fn range(
    State(s): State<Arc<Shared>>,
    path: Result<Path<String>, PathRejection>,
    query: Result<Query<RangeParams>, QueryRejection>,
) -> Response {
    match (path, query) {
        (Ok(Path(store)), Ok(Query(p))) => stores::range(s, store, p).await,
        (Err(e), _) => rejected(e.body_text()),
        (_, Err(e)) => rejected(e.body_text()),
    }
}

async fn instances(State(s): State<Arc<Shared>>) -> Response {
    let apps: Vec<Value> = s
        .apps
        .iter()
        .map(|a| {
            json!({
                "application": a.application,
                "instance": s.instance_of(a),
                "instances": a.directory().map(|d| d.instances()).unwrap_or_default(),
            })
        })
        .collect();
    axum::Json(json!({ "applications": apps })).into_response()
}

async fn metrics(State(s): State<Arc<Shared>>) -> Response {
    match &s.config.metrics {
        Some(render) => (
            [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
            render(),
        )
            .into_response(),
        None => error(
            StatusCode::NOT_FOUND,
            "metrics are not enabled in this process",
        ),
    }
}
