//! Forwarding a key read to the worker that owns it: a plain HTTP/1.1 GET (hyper's client),
//! marked so that the owner never forwards it again, with the caller's token passed on.

use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode, header};
use axum::response::{IntoResponse, Response};
use http_body_util::BodyExt as _;
use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use super::routes::error;
use super::stores::FORWARDED;

pub(crate) type Client = HyperClient<HttpConnector, Body>;

pub(crate) fn client() -> Client {
    HyperClient::builder(TokioExecutor::new()).build_http()
}

/// Percent-encodes a path segment or query value.
pub(crate) fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// GETs `path` from the worker at `endpoint` and relays its answer.
pub(crate) async fn get(
    client: &Client,
    endpoint: &str,
    path: &str,
    headers: &HeaderMap,
) -> Response {
    let mut req = Request::get(format!("http://{endpoint}{path}")).header(FORWARDED, "1");
    if let Some(auth) = headers.get(header::AUTHORIZATION) {
        req = req.header(header::AUTHORIZATION, auth.clone());
    }
    let req = match req.body(Body::empty()) {
        Ok(r) => r,
        Err(e) => return error(StatusCode::BAD_REQUEST, e.to_string()),
    };
    let answer =
        tokio::time::timeout(std::time::Duration::from_secs(15), client.request(req)).await;
    let resp = match answer {
        Ok(Ok(r)) => r,
        Ok(Err(e)) => {
            return error(
                StatusCode::BAD_GATEWAY,
                format!("the owner at {endpoint} did not answer: {e}"),
            );
        }
        Err(_) => {
            return error(
                StatusCode::GATEWAY_TIMEOUT,
                format!("the owner at {endpoint} timed out"),
            );
        }
    };
    let status = resp.status();
    let content_type = resp.headers().get(header::CONTENT_TYPE).cloned();
    match resp.into_body().collect().await {
        Ok(body) => {
            let mut out = (status, body.to_bytes()).into_response();
            if let Some(ct) = content_type {
                out.headers_mut().insert(header::CONTENT_TYPE, ct);
            }
            out
        }
        Err(e) => error(
            StatusCode::BAD_GATEWAY,
            format!("reading the owner's answer: {e}"),
        ),
    }
}
