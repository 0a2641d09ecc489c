//! Store reads of the endpoint: listing stores, one key (local, forwarded to the owner, or a
//! redirect to it) and bounded key ranges over this worker's tasks.

use std::sync::Arc;
use std::time::Duration;

use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::AppState;
use super::routes::{Shared, error};
use weir_graph::{JsonView, StoreDef, StoreKind};
use weir_kafka::status::{ReadResult, StoreRead, read_store};

/// How long a read may wait for its stream thread (busy restoring, or in a long batch).
const READ_TIMEOUT: Duration = Duration::from_secs(10);
/// Default and largest `limit` of a range.
pub(crate) const DEFAULT_LIMIT: usize = 100;
pub(crate) const MAX_LIMIT: usize = 1000;
/// Marks a request one worker forwarded to another (never forwarded again).
pub(crate) const FORWARDED: &str = "x-weir-forwarded";

#[derive(Debug, serde::Deserialize)]
pub(crate) struct KeyParams {
    application: Option<String>,
    redirect: Option<String>,
    /// Window stores: the earliest window start (ms, inclusive).
    from: Option<String>,
    /// Window stores: the latest window start (ms, inclusive).
    to: Option<String>,
}

impl KeyParams {
    /// The read of `key` in a store of `kind`: the key's value, its windows starting in
    /// `[from, to]` (all live ones by default) or its sessions.
    fn read(&self, kind: StoreKind, key: Vec<u8>) -> Result<StoreRead, String> {
        let time = |v: &Option<String>, what: &str, default: i64| match v.as_deref() {
            None | Some("") => Ok(default),
            Some(t) => t.trim().parse::<i64>().map_err(|_| {
                format!(
                    "`{what}` must be a window start in ms since the epoch (an integer), got `{t}`"
                )
            }),
        };
        match kind {
            StoreKind::KeyValue | StoreKind::Session { .. }
                if self.from.is_some() || self.to.is_some() =>
            {
                Err("`from` and `to` apply to window stores only".into())
            }
            StoreKind::KeyValue => Ok(StoreRead::Get(key)),
            StoreKind::Window {
                retention_ms,
                retain_duplicates,
                size_ms,
            } => Ok(StoreRead::Windows {
                key,
                from: time(&self.from, "from", i64::MIN)?,
                to: time(&self.to, "to", i64::MAX)?,
                retention_ms,
                retain_duplicates,
                size_ms,
            }),
            StoreKind::Session { retention_ms } => Ok(StoreRead::Sessions { key, retention_ms }),
        }
    }

    /// The query string a forwarded read carries on.
    fn forwarded(&self) -> String {
        let mut q = String::new();
        for (name, v) in [("from", &self.from), ("to", &self.to)] {
            if let Some(v) = v {
                q.push_str(&format!("&{name}={}", super::forward::encode(v)));
            }
        }
        q
    }
}

#[derive(Debug, serde::Deserialize)]
pub(crate) struct RangeParams {
    application: Option<String>,
    from: Option<String>,
    /// Inclusive, as Kafka Streams' `range(from, to)`.
    to: Option<String>,
    /// Exclusive upper bound (instead of `to`).
    to_exclusive: Option<String>,
    prefix: Option<String>,
    limit: Option<String>,
    cursor: Option<String>,
}

/// An error answer, small enough to return in `Result`s (`Response` is large).
pub(crate) struct ApiError(StatusCode, String);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        error(self.0, self.1)
    }
}

/// The application holding `store` (`application` picks one when several do).
fn resolve<'a>(
    apps: &'a [AppState],
    store: &str,
    application: Option<&str>,
) -> Result<(&'a AppState, &'a StoreDef), ApiError> {
    if let Some(name) = application
        && !apps.iter().any(|a| a.application == name)
    {
        let names: Vec<&str> = apps.iter().map(|a| a.application.as_str()).collect();
        let hint = weir_core::text::closest(name, &names)
            .map(|c| format!("; did you mean `{c}`?"))
            .unwrap_or_default();
        return Err(ApiError(
            StatusCode::NOT_FOUND,
            format!(
                "no application `{name}`{hint} (applications: {})",
                names.join(", ")
            ),
        ));
    }
    let holders: Vec<(&AppState, &StoreDef)> = apps
        .iter()
        .filter(|a| application.is_none_or(|n| n == a.application))
        .filter_map(|a| a.store_def(store).map(|d| (a, d)))
        .collect();
    match holders.as_slice() {
        [one] => Ok(*one),
        [] => {
            let mut names: Vec<&str> = apps
                .iter()
                .flat_map(|a| a.topology.stores.iter().map(|d| d.name.as_str()))
                .collect();
            names.sort_unstable();
            names.dedup();
            let hint = weir_core::text::closest(store, &names)
                .map(|c| format!("; did you mean `{c}`?"))
                .unwrap_or_default();
            Err(ApiError(
                StatusCode::NOT_FOUND,
                format!("no store `{store}`{hint} (stores: {})", names.join(", ")),
            ))
        }
        many => {
            let apps: Vec<&str> = many.iter().map(|(a, _)| a.application.as_str()).collect();
            Err(ApiError(
                StatusCode::BAD_REQUEST,
                format!(
                    "store `{store}` exists in several applications ({}); add ?application=NAME",
                    apps.join(", ")
                ),
            ))
        }
    }
}

/// Text → key bytes with the store's key serde.
fn key_bytes(view: &dyn JsonView, text: &str, what: &str) -> Result<Vec<u8>, ApiError> {
    match view.parse_text(text) {
        Some(Ok(b)) => Ok(b),
        Some(Err(e)) => Err(ApiError(
            StatusCode::BAD_REQUEST,
            format!("{what} `{text}`: {e}"),
        )),
        None => Err(ApiError(
            StatusCode::BAD_REQUEST,
            format!(
                "this store's keys are `{}`, which cannot be given as text",
                view.format()
            ),
        )),
    }
}

fn to_json(view: &dyn JsonView, bytes: &[u8]) -> Value {
    match view.to_json(bytes) {
        Some(Ok(v)) => v,
        Some(Err(e)) => json!({ "undecodable": e, "hex": hex(bytes) }),
        None => json!({ "hex": hex(bytes) }),
    }
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

/// Runs a blocking read off the async workers.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, String> + Send + 'static,
) -> Result<T, ApiError> {
    match tokio::task::spawn_blocking(f).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(ApiError(StatusCode::SERVICE_UNAVAILABLE, e)),
        Err(e) => Err(ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string())),
    }
}

/// Reads a global store, or a task's store on its thread.
fn read(
    app: &AppState,
    def: &StoreDef,
    task: Option<weir_runtime::TaskId>,
    r: StoreRead,
) -> Result<ReadResult, String> {
    if def.global {
        let g = app
            .global(&def.name)
            .ok_or_else(|| format!("global store `{}` is not open yet", def.name))?;
        return g
            .with(|s| Ok(read_store(s, &r)))
            .map_err(|e| e.to_string())?;
    }
    let task = task.ok_or("no task")?;
    let rx = app
        .status
        .query(task, &def.name, r)
        .ok_or_else(|| format!("task {task} is not on this worker (any more)"))?;
    rx.recv_timeout(READ_TIMEOUT)
        .map_err(|_| format!("task {task} did not answer within {READ_TIMEOUT:?}"))?
}

pub(crate) async fn get_key(
    s: Arc<Shared>,
    store: String,
    key: String,
    p: KeyParams,
    headers: HeaderMap,
) -> Response {
    let (app, def) = match resolve(&s.apps, &store, p.application.as_deref()) {
        Ok(x) => x,
        Err(r) => return r.into_response(),
    };
    let kb = match key_bytes(def.view.key.as_ref(), &key, "key") {
        Ok(b) => b,
        Err(r) => return r.into_response(),
    };
    let read_of_key = match p.read(def.kind, kb.clone()) {
        Ok(r) => r,
        Err(e) => return error(StatusCode::BAD_REQUEST, e),
    };
    let task = if def.global {
        None
    } else {
        let Some(task) = app.task_of_key(&def.name, &kb) else {
            return error(
                StatusCode::SERVICE_UNAVAILABLE,
                "the application has not started its tasks yet",
            );
        };
        let local = app.status.tasks().iter().any(|t| t.task == task);
        if !local {
            return remote(&s, app, &store, &key, task, &p, &headers).await;
        }
        Some(task)
    };
    let windowed = !matches!(read_of_key, StoreRead::Get(_));
    let (app2, def2) = (app.clone(), def.clone());
    let result = match blocking(move || read(&app2, &def2, task, read_of_key)).await {
        Ok(r) => r,
        Err(resp) => return resp.into_response(),
    };
    let base = json!({
        "application": app.application,
        "store": def.name,
        "key": to_json(def.view.key.as_ref(), &kb),
        "task": task.map(|t| t.to_string()),
        "instance": s.instance_of(app),
    });
    if windowed {
        let mut body = base;
        body["windows"] = result
            .windows
            .iter()
            .map(|(start, end, v)| {
                json!({"start": start, "end": end, "value": to_json(def.view.value.as_ref(), v)})
            })
            .collect();
        return axum::Json(body).into_response();
    }
    match result.entries.into_iter().next() {
        None => {
            let mut body = base;
            body["error"] = json!("key not found");
            (StatusCode::NOT_FOUND, axum::Json(body)).into_response()
        }
        Some((_, v)) => {
            let mut body = base;
            body["value"] = to_json(def.view.value.as_ref(), &v);
            axum::Json(body).into_response()
        }
    }
}

/// The key's task is another worker's: forward, or redirect with `?redirect=1`.
async fn remote(
    s: &Shared,
    app: &AppState,
    store: &str,
    key: &str,
    task: weir_runtime::TaskId,
    p: &KeyParams,
    headers: &HeaderMap,
) -> Response {
    if headers.contains_key(FORWARDED) {
        return error(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("task {task} is not on this worker any more (partitions are moving); retry"),
        );
    }
    let Some(owner) = app.directory().and_then(|d| d.owner(&task.to_string())) else {
        return error(
            StatusCode::SERVICE_UNAVAILABLE,
            format!(
                "no worker of `{}` owns task {task} right now (rebalancing?); retry",
                app.application
            ),
        );
    };
    let path = format!(
        "/stores/{}/keys/{}?application={}{}",
        super::forward::encode(store),
        super::forward::encode(key),
        super::forward::encode(&app.application),
        p.forwarded()
    );
    if p.redirect
        .as_deref()
        .is_some_and(|r| r == "1" || r == "true")
    {
        let location = format!("http://{}{path}", owner.endpoint);
        return (
            StatusCode::TEMPORARY_REDIRECT,
            [(header::LOCATION, location)],
            axum::Json(json!({"owner": owner.instance, "endpoint": owner.endpoint})),
        )
            .into_response();
    }
    super::forward::get(&s.client, &owner.endpoint, &path, headers).await
}

pub(crate) async fn range(s: Arc<Shared>, store: String, p: RangeParams) -> Response {
    let (app, def) = match resolve(&s.apps, &store, p.application.as_deref()) {
        Ok(x) => x,
        Err(r) => return r.into_response(),
    };
    if def.kind != StoreKind::KeyValue {
        return error(
            StatusCode::BAD_REQUEST,
            format!(
                "`{}` is a window or session store: ask for one key's windows with /stores/{}/keys/{{key}}?from=&to=",
                def.name, def.name
            ),
        );
    }
    let limit = match p.limit.as_deref().map(str::parse::<usize>) {
        None => DEFAULT_LIMIT,
        Some(Ok(n)) if (1..=MAX_LIMIT).contains(&n) => n,
        Some(_) => {
            return error(
                StatusCode::BAD_REQUEST,
                format!("limit must be an integer from 1 to {MAX_LIMIT}"),
            );
        }
    };
    let view = def.view.key.as_ref();
    let enc =
        |v: &Option<String>, what: &str| v.as_deref().map(|t| key_bytes(view, t, what)).transpose();
    if p.to.is_some() && p.to_exclusive.is_some() {
        return error(
            StatusCode::BAD_REQUEST,
            "give `to` (inclusive) or `to_exclusive`, not both",
        );
    }
    let (from, to, prefix) = match (
        enc(&p.from, "from"),
        enc(&p.to, "to"),
        enc(&p.to_exclusive, "to_exclusive"),
        enc(&p.prefix, "prefix"),
    ) {
        // `to` is inclusive: the first key after it in byte order, `to` + 0x00, bounds the
        // range exclusively.
        (Ok(f), Ok(Some(mut t)), Ok(None), Ok(x)) => {
            t.push(0);
            (f, Some(t), x)
        }
        (Ok(f), Ok(None), Ok(t), Ok(x)) => (f, t, x),
        (Ok(f), Ok(t), Ok(_), Ok(x)) => (f, t, x),
        (Err(r), ..) | (_, Err(r), ..) | (_, _, Err(r), _) | (.., Err(r)) => {
            return r.into_response();
        }
    };
    let after = match p.cursor.as_deref().map(unhex) {
        None => None,
        Some(Some(c)) => Some(c),
        Some(None) => {
            return error(
                StatusCode::BAD_REQUEST,
                "cursor: not one this endpoint gave",
            );
        }
    };
    let r = StoreRead::Range {
        from,
        to,
        prefix,
        after,
        limit,
    };
    let tasks: Vec<weir_runtime::TaskId> = if def.global {
        Vec::new()
    } else {
        app.status
            .tasks()
            .iter()
            .filter(|t| t.stores.iter().any(|st| st.name == def.name))
            .map(|t| t.task)
            .collect()
    };
    let (app2, def2, tasks2) = (app.clone(), def.clone(), tasks.clone());
    let merged = blocking(move || {
        let mut all = ReadResult::default();
        let parts: Vec<Option<weir_runtime::TaskId>> = if def2.global {
            vec![None]
        } else {
            tasks2.into_iter().map(Some).collect()
        };
        for t in parts {
            let part = read(&app2, &def2, t, r.clone())?;
            all.more |= part.more;
            all.entries.extend(part.entries);
        }
        all.entries.sort_by(|a, b| a.0.cmp(&b.0));
        if all.entries.len() > limit {
            all.entries.truncate(limit);
            all.more = true;
        }
        Ok(all)
    })
    .await;
    let merged = match merged {
        Ok(m) => m,
        Err(resp) => return resp.into_response(),
    };
    let next = merged
        .more
        .then(|| merged.entries.last().map(|(k, _)| hex(k)))
        .flatten();
    let entries: Vec<Value> = merged
        .entries
        .iter()
        .map(
            |(k, v)| json!({"key": to_json(view, k), "value": to_json(def.view.value.as_ref(), v)}),
        )
        .collect();
    axum::Json(json!({
        "application": app.application,
        "store": def.name,
        "instance": s.instance_of(app),
        "scope": if def.global { "global store (every worker has all of it)".to_owned() } else {
            format!("this worker's tasks: {}", tasks.iter().map(ToString::to_string).collect::<Vec<_>>().join(", "))
        },
        "entries": entries,
        "next_cursor": next,
    }))
    .into_response()
}

/// `GET /stores`.
pub(crate) fn list(apps: &[AppState]) -> Value {
    let mut out = Vec::new();
    for a in apps {
        let tasks = a.status.tasks();
        for def in &a.topology.stores {
            let (kind, task_ids, entries, bytes) = if def.global {
                let (entries, bytes) = a
                    .global(&def.name)
                    .and_then(|g| {
                        g.with(|s| Ok((s.approximate_num_entries()?, s.size_on_disk())))
                            .ok()
                    })
                    .unwrap_or((0, 0));
                ("global key-value", Vec::new(), entries, bytes)
            } else {
                let mut ids = Vec::new();
                let (mut entries, mut bytes) = (0, 0);
                for t in &tasks {
                    if let Some(st) = t.stores.iter().find(|st| st.name == def.name) {
                        ids.push(t.id.clone());
                        entries += st.approximate_entries;
                        bytes += st.bytes_on_disk;
                    }
                }
                ("key-value", ids, entries, bytes)
            };
            out.push(json!({
                "application": a.application,
                "name": def.name,
                "kind": kind,
                "logged": def.logged,
                "key_format": def.view.key.format(),
                "value_format": def.view.value.format(),
                "tasks": task_ids,
                "approximate_entries": entries,
                "bytes_on_disk": bytes,
            }));
        }
    }
    json!({ "stores": out })
}
