//! Metrics: define (the same name gives the same id, as in Envoy), increment,
//! record, get.

use crate::memory::{read_string, status_of, write_u32, write_u64};
use crate::state::{HostState, Metric};
use crate::status::{HostResult, Status};
use wasmtime::Caller;

pub fn proxy_define_metric(mut caller: Caller<'_, HostState>, kind: i32, name_ptr: i32, name_len: i32, id_ptr: i32) -> HostResult {
    let Ok(name) = read_string(&mut caller, name_ptr, name_len) else { return Status::InvalidMemoryAccess.into() };
    let metrics = &mut caller.data_mut().metrics;
    let id = match metrics.iter().position(|m| m.name == name) {
        Some(id) => id,
        None => {
            metrics.push(Metric { name, kind, value: 0 });
            metrics.len() - 1
        }
    };
    status_of(write_u32(&mut caller, id_ptr, id as u32))
}

pub fn proxy_increment_metric(mut caller: Caller<'_, HostState>, id: i32, offset: i64) -> HostResult {
    match caller.data_mut().metrics.get_mut(id as u32 as usize) {
        Some(metric) => {
            metric.value = metric.value.saturating_add_signed(offset);
            Status::Ok.into()
        }
        None => Status::NotFound.into(),
    }
}

pub fn proxy_record_metric(mut caller: Caller<'_, HostState>, id: i32, value: i64) -> HostResult {
    match caller.data_mut().metrics.get_mut(id as u32 as usize) {
        Some(metric) => {
            metric.value = value as u64;
            Status::Ok.into()
        }
        None => Status::NotFound.into(),
    }
}

pub fn proxy_get_metric(mut caller: Caller<'_, HostState>, id: i32, value_ptr: i32) -> HostResult {
    let Some(value) = caller.data().metrics.get(id as u32 as usize).map(|m| m.value) else { return Status::NotFound.into() };
    status_of(write_u64(&mut caller, value_ptr, value))
}
