//! How the gate sees a request: header lookup by name, bytes as they arrived.
//!
//! The proxy-wasm glue implements this over host calls; tests, the CLI and the
//! harness use [`RequestSnapshot`].

/// Read access to a request's headers (pseudo-headers such as `:path` included).
pub trait RequestHeaders {
    /// The value of header `name` (lower case), as raw bytes: clients may send
    /// anything, and only the core decides what is acceptable.
    fn header(&self, name: &str) -> Option<Vec<u8>>;
}

/// A request held in memory.
#[derive(Debug, Clone, Default)]
pub struct RequestSnapshot {
    headers: Vec<(String, Vec<u8>)>,
}

impl RequestSnapshot {
    /// A request with `:method`, `:path` and `:authority` set.
    pub fn new(method: &str, authority: &str, path: &str) -> Self {
        Self::default()
            .with_header(":method", method)
            .with_header(":authority", authority)
            .with_header(":path", path)
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
    fn header(&self, name: &str) -> Option<Vec<u8>> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone())
    }
}
