//! Local responses, HTTP calls to scripted upstreams, and resuming paused streams.

use crate::memory::{read, read_string, status_of, write_u32};
use crate::state::{HostState, LocalReply, PendingCall};
use crate::status::{HostResult, Status};
use wasmtime::Caller;
use wsgate_core::header_pairs;

#[allow(clippy::too_many_arguments)] // the ABI's shape
pub fn proxy_send_local_response(
    mut caller: Caller<'_, HostState>,
    status: i32,
    _details_ptr: i32,
    _details_len: i32,
    body_ptr: i32,
    body_len: i32,
    headers_ptr: i32,
    headers_len: i32,
    _grpc_status: i32,
) -> HostResult {
    let (Ok(body), Ok(headers)) = (read(&mut caller, body_ptr, body_len), read(&mut caller, headers_ptr, headers_len)) else {
        return Status::InvalidMemoryAccess.into();
    };
    let Some(headers) = header_pairs::decode(&headers) else { return Status::SerializationFailure.into() };
    let headers = headers.into_iter().map(|(n, v)| (n.to_ascii_lowercase(), String::from_utf8_lossy(&v).into_owned())).collect();
    caller.data_mut().local_reply = Some(LocalReply { status: status as u16, headers, body });
    Status::Ok.into()
}

#[allow(clippy::too_many_arguments)] // the ABI's shape
pub fn proxy_http_call(
    mut caller: Caller<'_, HostState>,
    upstream_ptr: i32,
    upstream_len: i32,
    headers_ptr: i32,
    headers_len: i32,
    body_ptr: i32,
    body_len: i32,
    _trailers_ptr: i32,
    _trailers_len: i32,
    _timeout_ms: i32,
    token_ptr: i32,
) -> HostResult {
    let read_all = |caller: &mut Caller<'_, HostState>| -> Option<(String, Vec<u8>, Vec<u8>)> {
        Some((read_string(caller, upstream_ptr, upstream_len).ok()?, read(caller, headers_ptr, headers_len).ok()?, read(caller, body_ptr, body_len).ok()?))
    };
    let Some((upstream, headers, body)) = read_all(&mut caller) else { return Status::InvalidMemoryAccess.into() };
    let Some(headers) = header_pairs::decode(&headers) else { return Status::SerializationFailure.into() };
    let state = caller.data_mut();
    let token = state.next_call_token;
    state.next_call_token += 1;
    let context_id = state.effective_context;
    state.pending_calls.push_back(PendingCall { token, context_id, upstream, headers, body });
    status_of(write_u32(&mut caller, token_ptr, token))
}

/// Stream 0 is the request: resuming it lets a paused request go upstream.
pub fn proxy_continue_stream(mut caller: Caller<'_, HostState>, stream: i32) -> HostResult {
    if stream == 0 {
        caller.data_mut().resumed = true;
    }
    Status::Ok.into()
}

pub fn proxy_close_stream(_caller: Caller<'_, HostState>, _stream: i32) -> HostResult {
    Status::Ok.into()
}

pub fn proxy_set_effective_context(mut caller: Caller<'_, HostState>, context_id: i32) -> HostResult {
    caller.data_mut().effective_context = context_id as u32;
    Status::Ok.into()
}

pub fn proxy_done(_caller: Caller<'_, HostState>) -> HostResult {
    Status::Ok.into()
}
