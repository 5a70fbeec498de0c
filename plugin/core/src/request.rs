//! How the gate sees a request: header lookup by name, bytes as they arrived.
//!
//! The proxy-wasm glue reads the whole header map in one host call and decodes it
//! into a [`RequestSnapshot`]; tests, the CLI and the harness build snapshots directly.

use crate::header_pairs::HeaderPairs;
use crate::session::exchange::ExchangeAnswer;

/// Read access to a request's headers (pseudo-headers such as `:path` included).
pub trait RequestHeaders {
    /// The value of header `name` (lower case), as raw bytes: clients may send
    /// anything, and only the core decides what is acceptable.
    fn header(&self, name: &str) -> Option<&[u8]>;

    /// How many `name` headers the request has (lower case). Envoy keeps repeated
    /// headers as separate entries, and upstreams disagree about which one counts.
    fn header_count(&self, name: &str) -> usize {
        usize::from(self.header(name).is_some())
    }

    /// Every value of the `name` headers, in order.
    fn header_values(&self, name: &str) -> Vec<&[u8]> {
        self.header(name).into_iter().collect()
    }

    /// The body read so far, once the gate asked for it (`Verdict::awaiting_body`):
    /// all of it, or the first `max_body_bytes + 1` bytes of a longer one.
    fn body(&self) -> Option<&[u8]> {
        None
    }

    /// The token endpoint's answer to this sign-in callback's code exchange, once
    /// the gate asked for it (`Verdict::awaiting_exchange`).
    fn exchanged(&self) -> Option<&ExchangeAnswer> {
        None
    }
}

/// A request held in memory.
#[derive(Debug, Clone, Default)]
pub struct RequestSnapshot {
    headers: Vec<(String, Vec<u8>)>,
    body: Option<Vec<u8>>,
    exchange: Option<ExchangeAnswer>,
}

impl RequestSnapshot {
    /// A request with `:method`, `:path` and `:authority` set.
    pub fn new(method: &str, authority: &str, path: &str) -> Self {
        Self::default()
            .with_header(":method", method)
            .with_header(":authority", authority)
            .with_header(":path", path)
    }

    /// A request from the host's header map (see [`crate::header_pairs`]).
    pub fn from_pairs(pairs: HeaderPairs) -> Self {
        let headers = pairs.into_iter().map(|(name, value)| (name.to_ascii_lowercase(), value)).collect();
        Self { headers, body: None, exchange: None }
    }

    /// The request with its body read (see [`RequestHeaders::body`]).
    pub fn with_body(mut self, body: Vec<u8>) -> Self {
        self.body = Some(body);
        self
    }

    /// The request with its code exchange answered (see [`RequestHeaders::exchanged`]).
    pub fn with_exchange(mut self, answer: ExchangeAnswer) -> Self {
        self.exchange = Some(answer);
        self
    }

    /// The header names, in order, once per occurrence.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.headers.iter().map(|(name, _)| name.as_str())
    }

    /// Every value of header `name` (lower case), in order.
    pub fn values<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a [u8]> + 'a {
        self.headers.iter().filter(move |(n, _)| n == name).map(|(_, v)| v.as_slice())
    }

    /// Removes every `name` header (lower case); whether there was one.
    pub fn remove(&mut self, name: &str) -> bool {
        let before = self.headers.len();
        self.headers.retain(|(n, _)| n != name);
        self.headers.len() != before
    }

    pub fn with_header(self, name: &str, value: impl AsRef<[u8]>) -> Self {
        self.with_header_bytes(name, value.as_ref().to_vec())
    }

    pub fn with_header_bytes(mut self, name: &str, value: Vec<u8>) -> Self {
        self.headers.push((name.to_ascii_lowercase(), value));
        self
    }
}

impl RequestHeaders for RequestSnapshot {
    fn header(&self, name: &str) -> Option<&[u8]> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_slice())
    }

    fn header_count(&self, name: &str) -> usize {
        self.headers.iter().filter(|(n, _)| n == name).count()
    }

    fn header_values(&self, name: &str) -> Vec<&[u8]> {
        self.headers.iter().filter(|(n, _)| n == name).map(|(_, v)| v.as_slice()).collect()
    }

    fn body(&self) -> Option<&[u8]> {
        self.body.as_deref()
    }

    fn exchanged(&self) -> Option<&ExchangeAnswer> {
        self.exchange.as_ref()
    }
}
