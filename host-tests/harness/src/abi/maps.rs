//! Header maps: request and response headers, HTTP call response headers.
//! Names are lower case, as in Envoy; a name may repeat.

use crate::memory::{read, read_string, return_bytes, status_of};
use crate::state::HostState;
use crate::status::{HostResult, Status};
use wasmtime::Caller;
use wsgate_core::header_pairs;

pub fn proxy_get_header_map_pairs(mut caller: Caller<'_, HostState>, map_type: i32, ptr_ptr: i32, size_ptr: i32) -> HostResult {
    let bytes = header_pairs::encode(caller.data_mut().map(map_type));
    status_of(return_bytes(&mut caller, &bytes, ptr_ptr, size_ptr)?)
}

pub fn proxy_set_header_map_pairs(mut caller: Caller<'_, HostState>, map_type: i32, ptr: i32, len: i32) -> HostResult {
    let Ok(bytes) = read(&mut caller, ptr, len) else { return Status::InvalidMemoryAccess.into() };
    let Some(map) = header_pairs::decode(&bytes) else { return Status::SerializationFailure.into() };
    *caller.data_mut().map(map_type) = map.into_iter().map(|(n, v)| (n.to_ascii_lowercase(), v)).collect();
    Status::Ok.into()
}

pub fn proxy_get_header_map_value(
    mut caller: Caller<'_, HostState>,
    map_type: i32,
    key_ptr: i32,
    key_len: i32,
    ptr_ptr: i32,
    size_ptr: i32,
) -> HostResult {
    let Ok(key) = read_string(&mut caller, key_ptr, key_len) else { return Status::InvalidMemoryAccess.into() };
    let key = key.to_ascii_lowercase();
    let value = caller.data_mut().map(map_type).iter().find(|(n, _)| *n == key).map(|(_, v)| v.clone());
    match value {
        Some(value) => status_of(return_bytes(&mut caller, &value, ptr_ptr, size_ptr)?),
        None => Status::NotFound.into(),
    }
}

pub fn proxy_replace_header_map_value(mut caller: Caller<'_, HostState>, map_type: i32, key_ptr: i32, key_len: i32, value_ptr: i32, value_len: i32) -> HostResult {
    let Some((key, value)) = key_and_value(&mut caller, key_ptr, key_len, value_ptr, value_len) else { return Status::InvalidMemoryAccess.into() };
    let map = caller.data_mut().map(map_type);
    map.retain(|(n, _)| *n != key);
    map.push((key, value));
    Status::Ok.into()
}

pub fn proxy_add_header_map_value(mut caller: Caller<'_, HostState>, map_type: i32, key_ptr: i32, key_len: i32, value_ptr: i32, value_len: i32) -> HostResult {
    let Some((key, value)) = key_and_value(&mut caller, key_ptr, key_len, value_ptr, value_len) else { return Status::InvalidMemoryAccess.into() };
    caller.data_mut().map(map_type).push((key, value));
    Status::Ok.into()
}

pub fn proxy_remove_header_map_value(mut caller: Caller<'_, HostState>, map_type: i32, key_ptr: i32, key_len: i32) -> HostResult {
    let Ok(key) = read_string(&mut caller, key_ptr, key_len) else { return Status::InvalidMemoryAccess.into() };
    let key = key.to_ascii_lowercase();
    caller.data_mut().map(map_type).retain(|(n, _)| *n != key);
    Status::Ok.into()
}

fn key_and_value(caller: &mut Caller<'_, HostState>, key_ptr: i32, key_len: i32, value_ptr: i32, value_len: i32) -> Option<(String, Vec<u8>)> {
    let key = read_string(caller, key_ptr, key_len).ok()?.to_ascii_lowercase();
    let value = read(caller, value_ptr, value_len).ok()?;
    Some((key, value))
}
