//! Sends the corpus through a running Envoy and reads what came back and what reached
//! the service.

use super::{Case, Expect};
use crate::http::{Response, request};
use crate::upstream::EchoUpstream;
use serde_json::Value;

/// What one case got.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    /// The `error` of wsgate's JSON body, if it answered.
    pub reason: Option<String>,
    /// The request as the service received it (its echo), if it did.
    pub received: Option<Value>,
}

impl Answer {
    pub fn forwarded(&self) -> bool {
        self.received.is_some()
    }
}

/// Sends every case to `port`, tagged with `x-case-id`, and pairs each answer with the
/// request the upstream recorded for it.
pub fn send_all(port: u16, upstream: &EchoUpstream, cases: &[Case]) -> Vec<Answer> {
    let responses: Vec<Option<Response>> = cases.iter().enumerate().map(|(id, case)| send(port, id, case)).collect();
    let received = upstream.received();
    responses
        .into_iter()
        .enumerate()
        .map(|(id, response)| {
            let tag = id.to_string();
            let echo = received.iter().find(|r| r["headers"]["x-case-id"].as_str() == Some(tag.as_str())).cloned();
            let status = response.as_ref().map_or(0, |r| r.status);
            let reason = response.as_ref().and_then(|r| r.json()["error"].as_str().map(str::to_owned));
            Answer { status, reason, received: echo }
        })
        .collect()
}

fn send(port: u16, id: usize, case: &Case) -> Option<Response> {
    let tag = id.to_string();
    let mut headers: Vec<(&str, &str)> = case.headers.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
    headers.push(("x-case-id", &tag));
    request(port, &case.method, &case.target, &headers).ok()
}

/// Why `answer` is not what `case` expects under wsgate, if it is not.
pub fn mismatch(case: &Case, answer: &Answer) -> Option<String> {
    let got = || format!("got {} {:?}, forwarded: {}", answer.status, answer.reason, answer.forwarded());
    match (&case.expect, &answer.received) {
        (Expect::Forwarded(email), Some(echo)) => identity_mismatch(case, echo, *email),
        (Expect::Forwarded(_), None) => Some(format!("expected to reach the service; {}", got())),
        (_, Some(_)) => Some(format!("REACHED THE SERVICE; expected {:?}", case.expect)),
        (Expect::Refused(status, reason), None) => {
            (answer.status != *status || answer.reason.as_deref() != Some(reason)).then(|| format!("expected {status} {reason}; {}", got()))
        }
        (Expect::RefusedByEnvoy(status), None) => {
            (answer.status != *status || answer.reason.is_some()).then(|| format!("expected Envoy's {status}; {}", got()))
        }
    }
}

/// The service must see exactly the gate's identity: the expected email (or none), and
/// no header a client forged under any spelling.
fn identity_mismatch(case: &Case, echo: &Value, email: Option<&str>) -> Option<String> {
    let headers = echo["headers"].as_object()?;
    let seen = headers.get("x-workspace-email").and_then(Value::as_str);
    if seen != email {
        return Some(format!("the service saw x-workspace-email {seen:?}, expected {email:?}"));
    }
    let forged: Vec<&String> = headers.iter().filter(|(_, v)| v.as_str().is_some_and(|v| v.contains("forged"))).map(|(n, _)| n).collect();
    (!forged.is_empty()).then(|| format!("forged headers reached the service: {forged:?} ({})", case.name))
}
