//! The soak's upstream: answers every request on a kept-alive connection with a small
//! JSON echo of the identity wsgate forwarded, and marks its answers with a header, so
//! the client can tell "the upstream answered" (admitted) from a refusal by its body
//! and header, never by the status alone. Unlike [`crate::upstream::EchoUpstream`] it
//! keeps nothing per request (a million requests would otherwise pile up in memory).

use serde_json::json;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread;

/// The header, and the body's `upstream` field, that only this upstream sets.
pub const MARK_HEADER: &str = "x-soak-upstream";
pub const MARK: &str = "wsgate-soak-echo";

pub struct SoakUpstream {
    pub port: u16,
    served: Arc<AtomicU64>,
}

impl SoakUpstream {
    /// Starts on a free port on 127.0.0.1, one thread per connection.
    pub fn start() -> std::io::Result<Self> {
        let listener = TcpListener::bind(("127.0.0.1", 0))?;
        let port = listener.local_addr()?.port();
        let served = Arc::new(AtomicU64::new(0));
        let count = Arc::clone(&served);
        thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let count = Arc::clone(&count);
                thread::spawn(move || serve(stream, &count));
            }
        });
        Ok(Self { port, served })
    }

    /// Requests answered so far.
    pub fn served(&self) -> u64 {
        self.served.load(Ordering::Relaxed)
    }
}

fn serve(stream: TcpStream, served: &AtomicU64) {
    let _ = stream.set_nodelay(true);
    let Ok(mut writer) = stream.try_clone() else { return };
    let mut reader = BufReader::new(stream);
    loop {
        let mut request_line = String::new();
        if reader.read_line(&mut request_line).unwrap_or(0) == 0 {
            return;
        }
        let (mut email, mut groups, mut length, mut close) = (None, None, 0usize, false);
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                return;
            }
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            let Some((name, value)) = line.split_once(':') else { continue };
            let value = value.trim();
            match name.trim().to_ascii_lowercase().as_str() {
                "x-workspace-email" => email = Some(value.to_owned()),
                "x-workspace-groups" => groups = Some(value.to_owned()),
                "content-length" => length = value.parse().unwrap_or(0),
                "connection" => close = value.eq_ignore_ascii_case("close"),
                _ => {}
            }
        }
        if length > 0 && std::io::copy(&mut (&mut reader).take(length as u64), &mut std::io::sink()).is_err() {
            return;
        }
        let path = request_line.split_whitespace().nth(1).unwrap_or("");
        let body = json!({"upstream": MARK, "path": path, "email": email, "groups": groups}).to_string();
        let head = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n{MARK_HEADER}: {MARK}\r\ncontent-length: {}\r\n{}\r\n",
            body.len(),
            if close { "connection: close\r\n" } else { "" }
        );
        if writer.write_all(head.as_bytes()).and_then(|()| writer.write_all(body.as_bytes())).is_err() {
            return;
        }
        served.fetch_add(1, Ordering::Relaxed);
        if close {
            return;
        }
    }
}
