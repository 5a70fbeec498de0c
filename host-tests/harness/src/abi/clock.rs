//! The clock (set by the replay, so expiry is deterministic) and the tick period.

use crate::memory::{status_of, write_u64};
use crate::state::HostState;
use crate::status::{HostResult, Status};
use wasmtime::Caller;

pub fn proxy_get_current_time_nanoseconds(mut caller: Caller<'_, HostState>, time_ptr: i32) -> HostResult {
    let now = caller.data().clock.unix_nanos();
    status_of(write_u64(&mut caller, time_ptr, now))
}

pub fn proxy_set_tick_period_milliseconds(mut caller: Caller<'_, HostState>, period: i32) -> HostResult {
    caller.data_mut().tick_period_ms = period as u32;
    Status::Ok.into()
}
