//! What a request led to, whoever ran it (the .wasm in the harness, the core
//! natively, or real Envoy), and how it is checked against an expectation.

use crate::replay::case::Expectation;
use serde::Serialize;
use std::fmt;

/// One way an outcome differs from its case's expectation, both sides as shown to
/// people (quoted values, `(absent)`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Difference {
    pub field: String,
    pub expected: String,
    pub actual: String,
}

impl fmt::Display for Difference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: expected {}, got {}", self.field, self.expected, self.actual)
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Outcome {
    pub status: u16,
    pub local_reply: bool,
    pub response_headers: Vec<(String, String)>,
    /// `None` when nothing was forwarded.
    pub upstream_headers: Option<Vec<(String, String)>>,
    pub body: String,
    pub logs: Vec<String>,
}

impl Outcome {
    pub fn response_header(&self, name: &str) -> Option<&str> {
        self.response_headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    pub fn upstream_header(&self, name: &str) -> Option<&str> {
        self.upstream_headers.as_ref()?.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    /// Every way this outcome differs from `expect`.
    pub fn differences(&self, expect: &Expectation) -> Vec<Difference> {
        let mut diffs = Vec::new();
        let mut check = |field: String, expected: Option<&str>, actual: Option<&str>| {
            if expected != actual {
                diffs.push(Difference { field, expected: shown(expected), actual: shown(actual) });
            }
        };
        if let Some(status) = expect.status {
            check("status".into(), Some(&status.to_string()), Some(&self.status.to_string()));
        }
        if let Some(local) = expect.local_reply {
            check("local_reply".into(), Some(&local.to_string()), Some(&self.local_reply.to_string()));
        }
        if let Some(error) = &expect.error {
            let actual = serde_json::from_str::<serde_json::Value>(&self.body).ok().and_then(|b| b["error"].as_str().map(str::to_owned));
            check("body.error".into(), Some(error), actual.as_deref());
        }
        for (name, value) in &expect.response_headers {
            check(format!("response header {name}"), Some(value), self.response_header(name));
        }
        for (name, value) in &expect.upstream_headers {
            check(format!("upstream header {name}"), Some(value), self.upstream_header(name));
        }
        for name in &expect.upstream_headers_absent {
            check(format!("upstream header {name}"), None, self.upstream_header(name));
        }
        for needle in &expect.log_contains {
            if !self.logs.iter().any(|line| line.contains(needle.as_str())) {
                diffs.push(Difference { field: "log".to_owned(), expected: format!("a line containing {needle:?}"), actual: format!("{:?}", self.logs) });
            }
        }
        diffs
    }
}

fn shown(value: Option<&str>) -> String {
    value.map_or("(absent)".to_owned(), |v| format!("{v:?}"))
}
