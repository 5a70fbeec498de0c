//! The host as the core sees it: request headers by name, and the clock.

use proxy_wasm::hostcalls;
use proxy_wasm::types::MapType;
use std::time::UNIX_EPOCH;
use wsgate_core::RequestHeaders;

/// The current request's headers, read through host calls on demand.
pub struct HostRequest;

impl RequestHeaders for HostRequest {
    fn header(&self, name: &str) -> Option<Vec<u8>> {
        hostcalls::get_map_value_bytes(MapType::HttpRequestHeaders, name).ok().flatten()
    }
}

/// Unix seconds from the host clock; `None` if the host cannot tell, and then the
/// caller must refuse rather than guess.
pub fn now() -> Option<u64> {
    let time = hostcalls::get_current_time().ok()?;
    time.duration_since(UNIX_EPOCH).ok().map(|d| d.as_secs())
}
