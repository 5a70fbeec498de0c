//! Free loopback ports for Envoy and the upstream.

use std::net::TcpListener;

/// A port on 127.0.0.1 that was free a moment ago. Envoy cannot take a listening
/// socket from us, so there is a small window for a race; the callers check that
/// Envoy really came up.
pub fn free_port() -> std::io::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}
