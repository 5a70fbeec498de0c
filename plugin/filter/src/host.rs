//! The host as the core sees it: header maps read in one host call, shared data, the
//! clock, and resuming a held request.
//!
//! These go through the raw ABI calls, not the SDK's wrappers, because the wrappers
//! panic on a status they do not expect, and a panic kills the VM: every status here
//! is a plain integer, and anything but success is an answer the caller handles.

use proxy_wasm::hostcalls;
use proxy_wasm::types::{BufferType, LogLevel, MapType, Status};
use std::ptr::{null, null_mut};
use std::time::UNIX_EPOCH;
use wsgate_core::RequestSnapshot;
use wsgate_core::header_pairs;

#[allow(clashing_extern_declarations)]
#[link(wasm_import_module = "env")]
unsafe extern "C" {
    #[link_name = "proxy_get_header_map_pairs"]
    fn get_header_map_pairs(map_type: MapType, return_data: *mut *mut u8, return_size: *mut usize) -> u32;
    #[link_name = "proxy_get_buffer_bytes"]
    fn get_buffer_bytes(buffer_type: BufferType, start: usize, max_size: usize, return_data: *mut *mut u8, return_size: *mut usize) -> u32;
    #[link_name = "proxy_get_shared_data"]
    fn get_shared_data(key: *const u8, key_size: usize, return_data: *mut *mut u8, return_size: *mut usize, return_cas: *mut u32) -> u32;
    #[link_name = "proxy_set_shared_data"]
    fn set_shared_data(key: *const u8, key_size: usize, value: *const u8, value_size: usize, cas: u32) -> u32;
    #[link_name = "proxy_set_effective_context"]
    fn set_effective_context(context_id: u32) -> u32;
    #[link_name = "proxy_continue_stream"]
    fn continue_stream(stream: u32) -> u32;
    #[link_name = "proxy_set_property"]
    fn set_property_raw(path: *const u8, path_size: usize, value: *const u8, value_size: usize) -> u32;
}

const OK: u32 = Status::Ok as u32;
/// `proxy_continue_stream`'s stream type for the request.
const REQUEST_STREAM: u32 = 0;

/// Takes ownership of a buffer the host returned.
///
/// SAFETY: `data` and `size` must come from the host, which obtained the buffer from
/// this module's `proxy_on_memory_allocate` (the SDK's allocator, a `Vec<u8>` of
/// capacity `size`): the buffer is ours to own and free, exactly as the SDK does.
unsafe fn owned(data: *mut u8, size: usize) -> Vec<u8> {
    if data.is_null() { Vec::new() } else { unsafe { Vec::from_raw_parts(data, size, size) } }
}

fn header_map(map_type: MapType) -> Option<Vec<(String, Vec<u8>)>> {
    let mut data: *mut u8 = null_mut();
    let mut size: usize = 0;
    // SAFETY: see `owned`.
    let bytes = unsafe {
        if get_header_map_pairs(map_type, &mut data, &mut size) != OK {
            return None;
        }
        owned(data, size)
    };
    if bytes.is_empty() { Some(Vec::new()) } else { header_pairs::decode(&bytes) }
}

/// The current request's headers, all at once: one crossing of the host boundary
/// instead of one per header. `None` means the host failed and the request must be
/// refused.
pub fn request_headers() -> Option<RequestSnapshot> {
    header_map(MapType::HttpRequestHeaders).map(RequestSnapshot::from_pairs)
}

/// The headers of the HTTP call response being delivered, looked up by lower-case
/// name like a request's; empty when the call failed.
pub fn call_response_headers() -> RequestSnapshot {
    header_map(MapType::HttpCallResponseHeaders).map(RequestSnapshot::from_pairs).unwrap_or_default()
}

/// The first `size` bytes of the HTTP call response being delivered.
pub fn call_response_body(size: usize) -> Vec<u8> {
    let mut data: *mut u8 = null_mut();
    let mut returned: usize = 0;
    // SAFETY: see `owned`.
    unsafe {
        if get_buffer_bytes(BufferType::HttpCallResponseBody, 0, size, &mut data, &mut returned) != OK {
            return Vec::new();
        }
        owned(data, returned)
    }
}

/// A shared-data value and its version (for compare-and-swap); `None` if absent or
/// unreadable.
pub fn shared_get(key: &str) -> Option<(Vec<u8>, u32)> {
    let (mut data, mut size, mut cas): (*mut u8, usize, u32) = (null_mut(), 0, 0);
    // SAFETY: see `owned`.
    unsafe {
        match get_shared_data(key.as_ptr(), key.len(), &mut data, &mut size, &mut cas) {
            OK => Some((owned(data, size), cas)),
            _ => None,
        }
    }
}

/// Writes `value` if the stored version is still `cas` (0: unconditionally). False
/// when another VM wrote first, or the host refused.
pub fn shared_set(key: &str, value: &[u8], cas: u32) -> bool {
    let value_ptr = if value.is_empty() { null() } else { value.as_ptr() };
    // SAFETY: both pointers are valid for their lengths for the duration of the call.
    unsafe { set_shared_data(key.as_ptr(), key.len(), value_ptr, value.len(), cas) == OK }
}

/// Makes the host calls that follow act on another context: a held request's.
/// False if it is gone (the client went away).
pub fn act_for(context_id: u32) -> bool {
    // SAFETY: a plain integer argument.
    unsafe { set_effective_context(context_id) == OK }
}

/// Lets the held request of the effective context go upstream.
pub fn resume_request() -> bool {
    // SAFETY: a plain integer argument.
    unsafe { continue_stream(REQUEST_STREAM) == OK }
}

/// Sets the property `name` (one path segment) of the effective context's stream:
/// Envoy keeps it as filter state `wasm.<name>`. False if the host refused.
pub fn set_property(name: &str, value: &[u8]) -> bool {
    let value_ptr = if value.is_empty() { null() } else { value.as_ptr() };
    // SAFETY: both pointers are valid for their lengths for the duration of the call.
    unsafe { set_property_raw(name.as_ptr(), name.len(), value_ptr, value.len()) == OK }
}

/// Writes to Envoy's log. A line the host refuses is lost: logging must never block
/// a decision.
pub fn log(level: LogLevel, message: &str) {
    let _ = hostcalls::log(level, message);
}

/// Unix milliseconds from the host clock; `None` if the host cannot tell, and then
/// the caller must refuse rather than guess.
pub fn now_ms() -> Option<u64> {
    let time = hostcalls::get_current_time().ok()?;
    time.duration_since(UNIX_EPOCH).ok().and_then(|d| u64::try_from(d.as_millis()).ok())
}
