//! The demo upstream: answers every request with a JSON echo of what it received, so
//! users and tests see exactly which identity headers reached the service.

use serde_json::{Map, Value, json};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::thread;

/// A running echo server on 127.0.0.1.
pub struct EchoUpstream {
    pub port: u16,
    received: Arc<Mutex<Vec<Value>>>,
}

impl EchoUpstream {
    /// Starts on `port` (0 picks a free one) in background threads that live as long
    /// as the process.
    pub fn start(port: u16) -> std::io::Result<Self> {
        let listener = TcpListener::bind(("127.0.0.1", port))?;
        let port = listener.local_addr()?.port();
        let received = Arc::new(Mutex::new(Vec::new()));
        let log = Arc::clone(&received);
        thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let log = Arc::clone(&log);
                thread::spawn(move || serve(stream, &log));
            }
        });
        Ok(Self { port, received })
    }

    /// Every request received so far, as echoed.
    pub fn received(&self) -> Vec<Value> {
        self.received.lock().map(|r| r.clone()).unwrap_or_default()
    }
}

/// One request per connection (`connection: close`), which Envoy handles fine and
/// keeps this server trivially correct.
fn serve(stream: TcpStream, log: &Mutex<Vec<Value>>) {
    let Ok(mut writer) = stream.try_clone() else { return };
    let Some(request) = read_request(stream) else { return };
    let echo = json!({"method": request.method, "path": request.path, "headers": request.headers, "body": request.body});
    if let Ok(mut received) = log.lock() {
        received.push(echo.clone());
    }
    let body = serde_json::to_string_pretty(&echo).unwrap_or_default();
    let _ = write!(
        writer,
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
}

/// A request line and its headers (names lower-cased, repeats joined with ", ").
#[derive(Debug, Clone)]
pub struct ReceivedRequest {
    pub method: String,
    pub path: String,
    pub headers: Map<String, Value>,
    /// The body `content-length` announced, as text (lossy).
    pub body: String,
}

impl ReceivedRequest {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(Value::as_str)
    }
}

/// The longest body the loopback servers read.
const MAX_BODY: usize = 4 << 20;

/// Reads a request's head and the body its `content-length` announces.
pub fn read_request(stream: TcpStream) -> Option<ReceivedRequest> {
    let mut reader = BufReader::new(stream);
    let mut request_line = String::new();
    reader.read_line(&mut request_line).ok()?;
    let mut headers = Map::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 || line.trim_end().is_empty() {
            break;
        }
        if let Some((name, value)) = line.trim_end().split_once(':') {
            let name = name.trim().to_ascii_lowercase();
            let value = value.trim().to_owned();
            match headers.get_mut(&name) {
                Some(Value::String(existing)) => *existing = format!("{existing}, {value}"),
                _ => {
                    headers.insert(name, Value::String(value));
                }
            }
        }
    }
    let length = headers.get("content-length").and_then(Value::as_str).and_then(|v| v.parse::<usize>().ok()).unwrap_or(0);
    let mut body = vec![0; length.min(MAX_BODY)];
    reader.read_exact(&mut body).ok()?;
    let mut parts = request_line.split_whitespace();
    Some(ReceivedRequest { method: parts.next()?.to_owned(), path: parts.next()?.to_owned(), headers, body: String::from_utf8_lossy(&body).into_owned() })
}
