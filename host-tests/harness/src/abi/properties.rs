//! Properties (`plugin_name`, `request.path`, …): a path of NUL-separated segments,
//! stored here joined with `.`.

use crate::memory::{read, return_bytes, status_of};
use crate::state::HostState;
use crate::status::{HostResult, Status};
use wasmtime::Caller;

fn property_key(path: &[u8]) -> String {
    let segments: Vec<String> = path
        .split(|&b| b == 0)
        .filter(|s| !s.is_empty())
        .map(|s| String::from_utf8_lossy(s).into_owned())
        .collect();
    segments.join(".")
}

pub fn proxy_get_property(mut caller: Caller<'_, HostState>, path_ptr: i32, path_len: i32, ptr_ptr: i32, size_ptr: i32) -> HostResult {
    let Ok(path) = read(&mut caller, path_ptr, path_len) else { return Status::InvalidMemoryAccess.into() };
    let Some(value) = caller.data().properties.get(&property_key(&path)).cloned() else { return Status::NotFound.into() };
    status_of(return_bytes(&mut caller, &value, ptr_ptr, size_ptr)?)
}

pub fn proxy_set_property(mut caller: Caller<'_, HostState>, path_ptr: i32, path_len: i32, value_ptr: i32, value_len: i32) -> HostResult {
    let (Ok(path), Ok(value)) = (read(&mut caller, path_ptr, path_len), read(&mut caller, value_ptr, value_len)) else {
        return Status::InvalidMemoryAccess.into();
    };
    caller.data_mut().properties.insert(property_key(&path), value);
    Status::Ok.into()
}
