//! One outbound HTTP call as the engine asks for it, and its answer as the proxy
//! delivers it: plain data, so that what wsgate sends and how it reads what comes
//! back are tested without a proxy.

use crate::request::{RequestHeaders, RequestSnapshot};

/// The engine's name for a call, unique within a VM. The proxy's own handle (the
/// token `dispatch_http_call` returns) is tied to it by [`super::Outbound::call_started`].
pub type CallId = u64;

/// An HTTP call to make through one of Envoy's clusters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboundCall {
    pub id: CallId,
    pub cluster: String,
    /// Every header, pseudo-headers (`:method`, `:path`, `:authority`) first.
    pub headers: Vec<(&'static str, String)>,
    /// `None`: no body (a GET).
    pub body: Option<Vec<u8>>,
    pub timeout_ms: u64,
}

impl OutboundCall {
    /// A GET of `path` from `authority` through `cluster`, asking for JSON.
    pub fn get(id: CallId, cluster: &str, authority: &str, path: &str, timeout_ms: u64) -> Self {
        let headers = vec![
            (":method", "GET".to_owned()),
            (":path", path.to_owned()),
            (":authority", authority.to_owned()),
            ("accept", "application/json".to_owned()),
            ("user-agent", "wsgate".to_owned()),
        ];
        Self { id, cluster: cluster.to_owned(), headers, body: None, timeout_ms }
    }

    /// Adds a request header.
    pub fn with_header(mut self, name: &'static str, value: String) -> Self {
        self.headers.push((name, value));
        self
    }

    /// The value of header `name`, for tests and logs.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| *n == name).map(|(_, v)| v.as_str())
    }
}

/// What came back for a call: its headers (empty when there was no response at all:
/// timeout, reset, connection failure) and its body, read up to the limit the engine
/// gave for it.
#[derive(Debug, Clone, Default)]
pub struct Answer {
    pub headers: RequestSnapshot,
    pub body: Vec<u8>,
    /// The body's full size as the proxy announced it; more than `body.len()` when
    /// it was over the limit and left unread.
    pub body_size: usize,
}

impl Answer {
    /// An answer with `status`, `headers` and `body`, as the tests and the stand-ins
    /// build them.
    pub fn new(status: u16, headers: &[(&str, &str)], body: &[u8]) -> Self {
        let mut snapshot = RequestSnapshot::default().with_header(":status", status.to_string());
        for (name, value) in headers {
            snapshot = snapshot.with_header(name, value);
        }
        Self { headers: snapshot, body: body.to_vec(), body_size: body.len() }
    }

    /// No response: the call timed out, was reset or could not connect.
    pub fn none() -> Self {
        Self::default()
    }

    /// The HTTP status; `None` when there was no response.
    pub fn status(&self) -> Option<u16> {
        self.header(":status")?.parse().ok()
    }

    /// A response header as text (lossy: these are only read, never forwarded).
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers.header(name).map(|value| String::from_utf8_lossy(value).into_owned())
    }

    /// Whether the body was over the limit and left unread.
    pub fn truncated(&self) -> bool {
        self.body_size > self.body.len()
    }
}
