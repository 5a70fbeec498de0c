//! Buffers: plugin and VM configuration, request and response bodies, HTTP call
//! response bodies.

use crate::memory::{read, return_bytes, status_of};
use crate::state::HostState;
use crate::status::{HostResult, Status};
use wasmtime::Caller;

pub fn proxy_get_buffer_bytes(mut caller: Caller<'_, HostState>, buffer_type: i32, start: i32, max_size: i32, ptr_ptr: i32, size_ptr: i32) -> HostResult {
    let Some(buffer) = caller.data().buffers.get(&buffer_type) else { return Status::NotFound.into() };
    let start = (start as u32 as usize).min(buffer.len());
    let end = start.saturating_add(max_size as u32 as usize).min(buffer.len());
    let bytes = buffer[start..end].to_vec();
    status_of(return_bytes(&mut caller, &bytes, ptr_ptr, size_ptr)?)
}

/// Replaces `size` bytes at `start` with the guest's data (Envoy's semantics for
/// body buffers: start 0 and size ≥ length replaces the whole buffer).
pub fn proxy_set_buffer_bytes(mut caller: Caller<'_, HostState>, buffer_type: i32, start: i32, size: i32, ptr: i32, len: i32) -> HostResult {
    let Ok(data) = read(&mut caller, ptr, len) else { return Status::InvalidMemoryAccess.into() };
    let buffer = caller.data_mut().buffers.entry(buffer_type).or_default();
    let start = (start as u32 as usize).min(buffer.len());
    let end = start.saturating_add(size as u32 as usize).min(buffer.len());
    buffer.splice(start..end, data);
    Status::Ok.into()
}
