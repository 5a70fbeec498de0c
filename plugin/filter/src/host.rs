//! The one door to the host: every proxy-wasm call wsgate makes, through the raw ABI.
//!
//! The SDK's wrappers `panic!` on a status they do not expect, and a panic traps the
//! VM for good. Here every status is a plain integer, and anything but success comes
//! back as a [`HostError`] the caller must handle. The SDK is used only for its
//! dispatcher (the `proxy_on_*` exports and the context traits).

use std::fmt;
use std::ptr::{null, null_mut};
use wsgate_core::RequestSnapshot;
use wsgate_core::header_edit::HeaderEdit;
use wsgate_core::header_pairs;
use wsgate_core::outbound::OutboundCall;

#[allow(clashing_extern_declarations)]
#[link(wasm_import_module = "env")]
unsafe extern "C" {
    fn proxy_log(level: u32, message: *const u8, message_size: usize) -> u32;
    fn proxy_get_current_time_nanoseconds(return_time: *mut u64) -> u32;
    fn proxy_set_tick_period_milliseconds(period: u32) -> u32;
    fn proxy_get_buffer_bytes(buffer_type: u32, start: usize, max_size: usize, return_data: *mut *mut u8, return_size: *mut usize) -> u32;
    fn proxy_get_header_map_pairs(map_type: u32, return_data: *mut *mut u8, return_size: *mut usize) -> u32;
    fn proxy_remove_header_map_value(map_type: u32, key: *const u8, key_size: usize) -> u32;
    fn proxy_replace_header_map_value(map_type: u32, key: *const u8, key_size: usize, value: *const u8, value_size: usize) -> u32;
    fn proxy_add_header_map_value(map_type: u32, key: *const u8, key_size: usize, value: *const u8, value_size: usize) -> u32;
    fn proxy_send_local_response(
        status: u32,
        details: *const u8,
        details_size: usize,
        body: *const u8,
        body_size: usize,
        headers: *const u8,
        headers_size: usize,
        grpc_status: i32,
    ) -> u32;
    fn proxy_http_call(
        upstream: *const u8,
        upstream_size: usize,
        headers: *const u8,
        headers_size: usize,
        body: *const u8,
        body_size: usize,
        trailers: *const u8,
        trailers_size: usize,
        timeout_ms: u32,
        return_token: *mut u32,
    ) -> u32;
    fn proxy_get_shared_data(key: *const u8, key_size: usize, return_data: *mut *mut u8, return_size: *mut usize, return_cas: *mut u32) -> u32;
    fn proxy_set_shared_data(key: *const u8, key_size: usize, value: *const u8, value_size: usize, cas: u32) -> u32;
    fn proxy_set_effective_context(context_id: u32) -> u32;
    fn proxy_continue_stream(stream: u32) -> u32;
    fn proxy_set_property(path: *const u8, path_size: usize, value: *const u8, value_size: usize) -> u32;
    fn proxy_define_metric(metric_type: u32, name: *const u8, name_size: usize, return_id: *mut u32) -> u32;
    fn proxy_increment_metric(metric_id: u32, offset: i64) -> u32;
    fn proxy_record_metric(metric_id: u32, value: u64) -> u32;
}

/// A status other than success, as the host answered it (proxy-wasm ABI 0.2.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HostError(pub u32);

impl fmt::Display for HostError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self.0 {
            1 => "NotFound",
            2 => "BadArgument",
            3 => "SerializationFailure",
            4 => "ParseFailure",
            6 => "InvalidMemoryAccess",
            7 => "Empty",
            8 => "CasMismatch",
            10 => "InternalFailure",
            12 => "Unimplemented",
            _ => "unknown status",
        };
        write!(f, "{name} ({})", self.0)
    }
}

type HostResult<T> = Result<T, HostError>;

/// A header map the host handed over that does not decode (the ABI's
/// `SerializationFailure`).
const UNDECODABLE: HostError = HostError(3);

fn status(code: u32) -> HostResult<()> {
    if code == 0 { Ok(()) } else { Err(HostError(code)) }
}

/// Envoy's log levels, as the ABI numbers them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogLevel {
    Info = 2,
    Warn = 3,
    Error = 4,
    Critical = 5,
}

/// What a header callback tells the host (ABI numbering).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    Continue = 0,
    /// Stop here until the filter resumes or answers the request.
    Pause = 1,
}

/// What a body callback tells the host (ABI numbering).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyNext {
    /// Pass the body on (and the headers, if they were held).
    Continue = 0,
    /// Hold the body, with the headers, until the filter resumes or answers the
    /// request. Never `Continue` while a decision is open: Envoy would forward the
    /// held headers with it.
    Buffer = 1,
    /// The request was answered here: drop the body.
    Drop = 3,
}

/// Header maps (ABI numbering).
#[derive(Debug, Clone, Copy)]
pub enum Map {
    Request = 0,
    Response = 2,
    CallResponse = 6,
}

/// Metric kinds (ABI numbering).
#[derive(Debug, Clone, Copy)]
pub enum MetricType {
    Counter = 0,
    Gauge = 1,
    Histogram = 2,
}

const REQUEST_BODY: u32 = 0;
const CALL_RESPONSE_BODY: u32 = 4;
const PLUGIN_CONFIGURATION: u32 = 7;
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

/// A pointer the host may read `len` bytes from; null for an empty slice.
fn ptr(bytes: &[u8]) -> *const u8 {
    if bytes.is_empty() { null() } else { bytes.as_ptr() }
}

/// Writes to Envoy's log. A line the host refuses is lost: logging must never block
/// a decision.
pub fn log(level: LogLevel, message: &str) {
    // SAFETY: the pointer is valid for its length for the duration of the call.
    let _ = unsafe { proxy_log(level as u32, ptr(message.as_bytes()), message.len()) };
}

/// Unix milliseconds from the host clock; the caller must refuse rather than guess
/// when the host cannot tell.
pub fn now_ms() -> HostResult<u64> {
    let mut nanos: u64 = 0;
    // SAFETY: a valid out-pointer.
    status(unsafe { proxy_get_current_time_nanoseconds(&mut nanos) })?;
    Ok(nanos / 1_000_000)
}

pub fn set_tick_period_ms(period_ms: u32) -> HostResult<()> {
    // SAFETY: a plain integer argument.
    status(unsafe { proxy_set_tick_period_milliseconds(period_ms) })
}

fn buffer(buffer_type: u32, max_size: usize) -> HostResult<Vec<u8>> {
    let (mut data, mut size): (*mut u8, usize) = (null_mut(), 0);
    // SAFETY: see `owned`.
    unsafe {
        status(proxy_get_buffer_bytes(buffer_type, 0, max_size, &mut data, &mut size))?;
        Ok(owned(data, size))
    }
}

/// The plugin's configuration, `size` bytes.
pub fn plugin_configuration(size: usize) -> HostResult<Vec<u8>> {
    buffer(PLUGIN_CONFIGURATION, size)
}

/// The first `size` bytes of the request body Envoy holds for the current request
/// (buffered since a body callback returned [`BodyNext::Buffer`]).
pub fn request_body(size: usize) -> HostResult<Vec<u8>> {
    buffer(REQUEST_BODY, size)
}

/// The first `size` bytes of the HTTP call response being delivered.
pub fn call_response_body(size: usize) -> HostResult<Vec<u8>> {
    buffer(CALL_RESPONSE_BODY, size)
}

fn header_map(map: Map) -> HostResult<RequestSnapshot> {
    let (mut data, mut size): (*mut u8, usize) = (null_mut(), 0);
    // SAFETY: see `owned`.
    let bytes = unsafe {
        status(proxy_get_header_map_pairs(map as u32, &mut data, &mut size))?;
        owned(data, size)
    };
    if bytes.is_empty() {
        return Ok(RequestSnapshot::default());
    }
    header_pairs::decode(&bytes).map(RequestSnapshot::from_pairs).ok_or(UNDECODABLE)
}

/// The current request's headers, all at once: one crossing of the host boundary
/// instead of one per header.
pub fn request_headers() -> HostResult<RequestSnapshot> {
    header_map(Map::Request)
}

/// The upstream response's headers (read only when the gate adds a cookie to them).
pub fn response_headers() -> HostResult<RequestSnapshot> {
    header_map(Map::Response)
}

/// The headers of the HTTP call response being delivered (none when the call failed).
pub fn call_response_headers() -> HostResult<RequestSnapshot> {
    header_map(Map::CallResponse)
}

fn remove_header(map: Map, name: &str) -> HostResult<()> {
    // SAFETY: the pointer is valid for its length for the duration of the call.
    status(unsafe { proxy_remove_header_map_value(map as u32, ptr(name.as_bytes()), name.len()) })
}

/// Sets header `name` to `value`, replacing any it had.
fn set_header(map: Map, name: &str, value: &[u8]) -> HostResult<()> {
    // SAFETY: both pointers are valid for their lengths for the duration of the call.
    status(unsafe { proxy_replace_header_map_value(map as u32, ptr(name.as_bytes()), name.len(), ptr(value), value.len()) })
}

/// Carries out one header edit with one host call.
pub fn edit_header(map: Map, edit: HeaderEdit<'_>) -> HostResult<()> {
    match edit {
        HeaderEdit::Remove(name) => remove_header(map, name),
        HeaderEdit::Set(name, value) => set_header(map, name, value),
        // SAFETY: both pointers are valid for their lengths for the duration of the call.
        HeaderEdit::Add(name, value) => status(unsafe { proxy_add_header_map_value(map as u32, ptr(name.as_bytes()), name.len(), ptr(value), value.len()) }),
    }
}

/// Answers the current request here instead of forwarding it.
pub fn send_response(status_code: u16, headers: &[(String, String)], body: &[u8]) -> HostResult<()> {
    let encoded = header_pairs::encode(headers);
    // SAFETY: every pointer is valid for its length for the duration of the call;
    // -1: not a gRPC response.
    status(unsafe { proxy_send_local_response(u32::from(status_code), null(), 0, ptr(body), body.len(), ptr(&encoded), encoded.len(), -1) })
}

/// Makes `call` through Envoy's HTTP client; its answer comes to the effective
/// context under the returned token.
pub fn http_call(call: &OutboundCall) -> HostResult<u32> {
    let headers = header_pairs::encode(&call.headers);
    let body = call.body.as_deref().unwrap_or_default();
    let timeout = u32::try_from(call.timeout_ms).unwrap_or(u32::MAX);
    let mut token: u32 = 0;
    let cluster = call.cluster.as_bytes();
    // SAFETY: every pointer is valid for its length for the duration of the call.
    status(unsafe { proxy_http_call(ptr(cluster), cluster.len(), ptr(&headers), headers.len(), ptr(body), body.len(), null(), 0, timeout, &mut token) })?;
    Ok(token)
}

/// A shared-data value and its version (for compare-and-swap).
pub fn shared_get(key: &str) -> HostResult<(Vec<u8>, u32)> {
    let (mut data, mut size, mut cas): (*mut u8, usize, u32) = (null_mut(), 0, 0);
    // SAFETY: see `owned`.
    unsafe {
        status(proxy_get_shared_data(ptr(key.as_bytes()), key.len(), &mut data, &mut size, &mut cas))?;
        Ok((owned(data, size), cas))
    }
}

/// Writes `value` if the stored version is still `cas` (0: unconditionally).
pub fn shared_set(key: &str, value: &[u8], cas: u32) -> HostResult<()> {
    // SAFETY: both pointers are valid for their lengths for the duration of the call.
    status(unsafe { proxy_set_shared_data(ptr(key.as_bytes()), key.len(), ptr(value), value.len(), cas) })
}

/// Makes the host calls that follow act on another context: a paused request's.
/// Fails if it is gone (the client went away).
pub fn act_for(context_id: u32) -> HostResult<()> {
    // SAFETY: a plain integer argument.
    status(unsafe { proxy_set_effective_context(context_id) })
}

/// Lets the paused request of the effective context go upstream.
pub fn resume_request() -> HostResult<()> {
    // SAFETY: a plain integer argument.
    status(unsafe { proxy_continue_stream(REQUEST_STREAM) })
}

/// Sets the property `name` (one path segment) of the effective context's stream:
/// Envoy keeps it as filter state `wasm.<name>`.
pub fn set_property(name: &str, value: &[u8]) -> HostResult<()> {
    // SAFETY: both pointers are valid for their lengths for the duration of the call.
    status(unsafe { proxy_set_property(ptr(name.as_bytes()), name.len(), ptr(value), value.len()) })
}

pub fn define_metric(kind: MetricType, name: &str) -> HostResult<u32> {
    let mut id: u32 = 0;
    // SAFETY: the pointer is valid for its length; a valid out-pointer.
    status(unsafe { proxy_define_metric(kind as u32, ptr(name.as_bytes()), name.len(), &mut id) })?;
    Ok(id)
}

pub fn increment_metric(id: u32, delta: u64) -> HostResult<()> {
    // SAFETY: plain integer arguments.
    status(unsafe { proxy_increment_metric(id, i64::try_from(delta).unwrap_or(i64::MAX)) })
}

/// Sets a gauge, or records a histogram sample.
pub fn record_metric(id: u32, value: u64) -> HostResult<()> {
    // SAFETY: plain integer arguments.
    status(unsafe { proxy_record_metric(id, value) })
}
