//! `proxy_log`, `proxy_get_log_level`.

use crate::memory::{read_string, status_of, write_u32};
use crate::state::{HostState, LogLine};
use crate::status::{HostResult, Status};
use wasmtime::Caller;

/// Everything from trace up is recorded; tests and replays filter as they need.
const HOST_LOG_LEVEL: u32 = 0;

pub fn proxy_log(mut caller: Caller<'_, HostState>, level: i32, ptr: i32, len: i32) -> HostResult {
    let Ok(message) = read_string(&mut caller, ptr, len) else { return Status::InvalidMemoryAccess.into() };
    caller.data_mut().logs.push(LogLine { level, message });
    Status::Ok.into()
}

pub fn proxy_get_log_level(mut caller: Caller<'_, HostState>, level_ptr: i32) -> HostResult {
    status_of(write_u32(&mut caller, level_ptr, HOST_LOG_LEVEL))
}
