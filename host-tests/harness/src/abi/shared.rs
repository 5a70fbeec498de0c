//! Shared data (with compare-and-swap) and shared queues. One harness is one VM, so
//! "shared" is per harness; tests of several VMs share a harness state on purpose.

use crate::memory::{read, read_string, return_bytes, status_of, write_u32};
use crate::state::HostState;
use crate::status::{HostResult, Status};
use std::collections::VecDeque;
use wasmtime::Caller;

pub fn proxy_get_shared_data(mut caller: Caller<'_, HostState>, key_ptr: i32, key_len: i32, ptr_ptr: i32, size_ptr: i32, cas_ptr: i32) -> HostResult {
    let Ok(key) = read_string(&mut caller, key_ptr, key_len) else { return Status::InvalidMemoryAccess.into() };
    let Some((value, cas)) = caller.data().shared_data.get(&key).cloned() else { return Status::NotFound.into() };
    if write_u32(&mut caller, cas_ptr, cas).is_err() {
        return Status::InvalidMemoryAccess.into();
    }
    status_of(return_bytes(&mut caller, &value, ptr_ptr, size_ptr)?)
}

/// `cas` 0 writes unconditionally; otherwise it must equal the current version.
pub fn proxy_set_shared_data(mut caller: Caller<'_, HostState>, key_ptr: i32, key_len: i32, value_ptr: i32, value_len: i32, cas: i32) -> HostResult {
    let (Ok(key), Ok(value)) = (read_string(&mut caller, key_ptr, key_len), read(&mut caller, value_ptr, value_len)) else {
        return Status::InvalidMemoryAccess.into();
    };
    let data = &mut caller.data_mut().shared_data;
    let current = data.get(&key).map_or(0, |(_, version)| *version);
    if cas != 0 && cas as u32 != current {
        return Status::CasMismatch.into();
    }
    data.insert(key, (value, current.wrapping_add(1).max(1)));
    Status::Ok.into()
}

pub fn proxy_register_shared_queue(mut caller: Caller<'_, HostState>, name_ptr: i32, name_len: i32, id_ptr: i32) -> HostResult {
    let Ok(name) = read_string(&mut caller, name_ptr, name_len) else { return Status::InvalidMemoryAccess.into() };
    let queues = &mut caller.data_mut().queues;
    let id = match queues.iter().position(|(n, _)| *n == name) {
        Some(id) => id,
        None => {
            queues.push((name, VecDeque::new()));
            queues.len() - 1
        }
    };
    status_of(write_u32(&mut caller, id_ptr, id as u32))
}

pub fn proxy_resolve_shared_queue(mut caller: Caller<'_, HostState>, _vm_ptr: i32, _vm_len: i32, name_ptr: i32, name_len: i32, id_ptr: i32) -> HostResult {
    let Ok(name) = read_string(&mut caller, name_ptr, name_len) else { return Status::InvalidMemoryAccess.into() };
    let Some(id) = caller.data().queues.iter().position(|(n, _)| *n == name) else { return Status::NotFound.into() };
    status_of(write_u32(&mut caller, id_ptr, id as u32))
}

pub fn proxy_enqueue_shared_queue(mut caller: Caller<'_, HostState>, id: i32, value_ptr: i32, value_len: i32) -> HostResult {
    let Ok(value) = read(&mut caller, value_ptr, value_len) else { return Status::InvalidMemoryAccess.into() };
    match caller.data_mut().queues.get_mut(id as u32 as usize) {
        Some((_, queue)) => {
            queue.push_back(value);
            Status::Ok.into()
        }
        None => Status::NotFound.into(),
    }
}

pub fn proxy_dequeue_shared_queue(mut caller: Caller<'_, HostState>, id: i32, ptr_ptr: i32, size_ptr: i32) -> HostResult {
    let Some((_, queue)) = caller.data_mut().queues.get_mut(id as u32 as usize) else { return Status::NotFound.into() };
    let Some(value) = queue.pop_front() else { return Status::Empty.into() };
    status_of(return_bytes(&mut caller, &value, ptr_ptr, size_ptr)?)
}
