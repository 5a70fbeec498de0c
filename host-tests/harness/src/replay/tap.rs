//! Envoy tap traces (`envoy.filters.http.tap`, JSON formats): the recorded request
//! becomes a case, and the recorded response its expectation. With the tap filter
//! placed before wsgate, the request is what the client sent and the response what
//! the client received.

use crate::replay::case::{Case, Expectation, RequestSpec, UpstreamSpec};
use serde::Deserialize;
use serde_json::Value;
use std::collections::BTreeMap;

#[derive(Deserialize)]
struct Trace {
    http_buffered_trace: Buffered,
}

#[derive(Deserialize)]
struct Buffered {
    request: Message,
    #[serde(default)]
    response: Option<Message>,
}

#[derive(Deserialize)]
struct Message {
    #[serde(default)]
    headers: Vec<Header>,
    #[serde(default)]
    body: Option<Body>,
}

#[derive(Deserialize)]
struct Header {
    key: String,
    #[serde(default)]
    value: String,
}

#[derive(Deserialize)]
struct Body {
    #[serde(default)]
    as_string: Option<String>,
}

/// Headers of the reply that say who answered and why; compared when present.
const COMPARED_RESPONSE_HEADERS: [&str; 2] = ["www-authenticate", "x-wsgate-decision"];

pub fn is_tap_trace(document: &Value) -> bool {
    document.get("http_buffered_trace").is_some()
}

/// The case a trace records; `name` identifies it in reports.
pub fn case_from_trace(document: Value, name: String) -> Result<Case, String> {
    let trace: Trace = serde_json::from_value(document).map_err(|e| format!("not an Envoy tap trace: {e}"))?;
    let request = &trace.http_buffered_trace.request;
    let pseudo = |key: &str| request.headers.iter().find(|h| h.key == key).map(|h| h.value.clone());
    let headers: BTreeMap<String, String> = request
        .headers
        .iter()
        .filter(|h| !h.key.starts_with(':'))
        .map(|h| (h.key.to_ascii_lowercase(), h.value.clone()))
        .collect();
    let spec = RequestSpec {
        method: pseudo(":method").unwrap_or_else(|| "GET".to_owned()),
        authority: pseudo(":authority").unwrap_or_default(),
        path: pseudo(":path").ok_or("the trace's request has no :path")?,
        headers,
    };
    let response = trace.http_buffered_trace.response.ok_or("the trace has no response")?;
    let status: u16 = response.headers.iter().find(|h| h.key == ":status").and_then(|h| h.value.parse().ok()).ok_or("the trace's response has no :status")?;
    let body = response.body.and_then(|b| b.as_string).unwrap_or_default();
    let error = serde_json::from_str::<Value>(&body).ok().and_then(|b| b["error"].as_str().map(str::to_owned));
    let response_headers = response
        .headers
        .iter()
        .filter(|h| COMPARED_RESPONSE_HEADERS.contains(&h.key.as_str()))
        .map(|h| (h.key.clone(), h.value.clone()))
        .collect();
    let expect = Expectation { status: Some(status), error, response_headers, ..Expectation::default() };
    Ok(Case { name, time: None, request: spec, upstream: UpstreamSpec { status, headers: BTreeMap::new() }, expect, envoy: false })
}
