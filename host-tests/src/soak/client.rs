//! A minimal HTTP/1.1 client that keeps its connection open between requests
//! (`crate::http` closes after each one). GET only, no request bodies; responses
//! framed by `content-length` or chunked encoding.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    /// Names lower-cased, in arrival order.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }
}

/// One keep-alive connection to 127.0.0.1:`port`, reopened when the server closes it.
pub struct KeepAlive {
    port: u16,
    timeout: Duration,
    connection: Option<(TcpStream, BufReader<TcpStream>)>,
    /// Connections opened so far (1 for a connection that was never closed).
    pub connects: u64,
}

impl KeepAlive {
    pub fn new(port: u16, timeout: Duration) -> Self {
        Self { port, timeout, connection: None, connects: 0 }
    }

    /// `GET path` with `headers` (a `host` header is added).
    pub fn get(&mut self, path: &str, headers: &[(&str, &str)]) -> std::io::Result<Reply> {
        let mut head = format!("GET {path} HTTP/1.1\r\nhost: 127.0.0.1:{}\r\n", self.port);
        for (name, value) in headers {
            head.push_str(name);
            head.push_str(": ");
            head.push_str(value);
            head.push_str("\r\n");
        }
        head.push_str("\r\n");
        // A reused connection may have been closed by the server while idle: retry once
        // on a fresh one when nothing at all came back (safe for a GET).
        let reused = self.connection.is_some();
        match self.exchange(head.as_bytes()) {
            Err(Failure::NothingBack(_)) if reused => {
                self.connection = None;
                self.exchange(head.as_bytes()).map_err(Failure::into_io)
            }
            other => other.map_err(Failure::into_io),
        }
    }

    fn exchange(&mut self, head: &[u8]) -> Result<Reply, Failure> {
        if self.connection.is_none() {
            let stream = TcpStream::connect(("127.0.0.1", self.port)).map_err(Failure::Other)?;
            stream.set_nodelay(true).map_err(Failure::Other)?;
            stream.set_read_timeout(Some(self.timeout)).map_err(Failure::Other)?;
            let reader = BufReader::new(stream.try_clone().map_err(Failure::Other)?);
            self.connection = Some((stream, reader));
            self.connects += 1;
        }
        let Some((writer, reader)) = self.connection.as_mut() else {
            return Err(Failure::Other(std::io::Error::other("no connection")));
        };
        if let Err(e) = writer.write_all(head) {
            self.connection = None;
            return Err(Failure::NothingBack(e));
        }
        let result = read_reply(reader);
        let close = match &result {
            Ok((reply, close)) => *close || reply.header("connection").is_some_and(|v| v.eq_ignore_ascii_case("close")),
            Err(_) => true,
        };
        if close {
            self.connection = None;
        }
        result.map(|(reply, _)| reply)
    }
}

enum Failure {
    /// The connection was closed or failed before any byte of a response.
    NothingBack(std::io::Error),
    Other(std::io::Error),
}

impl Failure {
    fn into_io(self) -> std::io::Error {
        match self {
            Failure::NothingBack(e) | Failure::Other(e) => e,
        }
    }
}

/// Reads one response; the flag says the connection cannot be reused (body framed by
/// the close).
fn read_reply(reader: &mut BufReader<TcpStream>) -> Result<(Reply, bool), Failure> {
    let mut status_line = String::new();
    match reader.read_line(&mut status_line) {
        Ok(0) => return Err(Failure::NothingBack(std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "closed before a response"))),
        Ok(_) => {}
        Err(e) => return Err(Failure::NothingBack(e)),
    }
    let other = |message: String| Failure::Other(std::io::Error::other(message));
    let status = status_line.split(' ').nth(1).and_then(|s| s.parse().ok()).ok_or_else(|| other(format!("bad status line {status_line:?}")))?;
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).map_err(Failure::Other)? == 0 {
            return Err(other("closed inside the response head".into()));
        }
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            headers.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
        }
    }
    let find = |name: &str| headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone());
    let mut body = Vec::new();
    let mut close = false;
    if let Some(length) = find("content-length") {
        let length: usize = length.parse().map_err(|_| other(format!("bad content-length {length:?}")))?;
        body.resize(length, 0);
        reader.read_exact(&mut body).map_err(Failure::Other)?;
    } else if find("transfer-encoding").is_some_and(|v| v.to_ascii_lowercase().contains("chunked")) {
        loop {
            let mut size_line = String::new();
            reader.read_line(&mut size_line).map_err(Failure::Other)?;
            let size_text = size_line.trim().split(';').next().unwrap_or("");
            let size = usize::from_str_radix(size_text, 16).map_err(|_| other(format!("bad chunk size {size_line:?}")))?;
            if size == 0 {
                // Trailers, then the blank line.
                loop {
                    let mut trailer = String::new();
                    if reader.read_line(&mut trailer).map_err(Failure::Other)? == 0 || trailer.trim_end().is_empty() {
                        break;
                    }
                }
                break;
            }
            let start = body.len();
            body.resize(start + size + 2, 0);
            reader.read_exact(&mut body[start..]).map_err(Failure::Other)?;
            body.truncate(start + size);
        }
    } else if status != 204 && status != 304 && !(100..200).contains(&status) {
        reader.read_to_end(&mut body).map_err(Failure::Other)?;
        close = true;
    }
    Ok((Reply { status, headers, body }, close))
}
