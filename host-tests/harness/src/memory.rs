//! Checked access to guest memory: every pointer and length from the guest is
//! bounds-checked, and data handed back is placed in memory the guest allocated.

use crate::state::HostState;
use wasmtime::{Caller, Extern, Memory};

/// Why guest memory could not be used.
#[derive(Debug)]
pub struct BadMemory;

/// The ABI status for a host call whose only failure is guest memory it could not use.
pub fn status_of(result: Result<(), BadMemory>) -> crate::status::HostResult {
    use crate::status::Status;
    match result {
        Ok(()) => Status::Ok.into(),
        Err(_) => Status::InvalidMemoryAccess.into(),
    }
}

fn memory(caller: &mut Caller<'_, HostState>) -> Result<Memory, BadMemory> {
    match caller.get_export("memory") {
        Some(Extern::Memory(memory)) => Ok(memory),
        _ => Err(BadMemory),
    }
}

/// A copy of `len` bytes at `ptr`.
pub fn read(caller: &mut Caller<'_, HostState>, ptr: i32, len: i32) -> Result<Vec<u8>, BadMemory> {
    let memory = memory(caller)?;
    let (start, len) = (ptr as u32 as usize, len as u32 as usize);
    let end = start.checked_add(len).ok_or(BadMemory)?;
    memory.data(&caller).get(start..end).map(<[u8]>::to_vec).ok_or(BadMemory)
}

pub fn read_string(caller: &mut Caller<'_, HostState>, ptr: i32, len: i32) -> Result<String, BadMemory> {
    read(caller, ptr, len).map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
}

pub fn write(caller: &mut Caller<'_, HostState>, ptr: i32, bytes: &[u8]) -> Result<(), BadMemory> {
    let memory = memory(caller)?;
    let start = ptr as u32 as usize;
    let end = start.checked_add(bytes.len()).ok_or(BadMemory)?;
    memory.data_mut(caller).get_mut(start..end).ok_or(BadMemory)?.copy_from_slice(bytes);
    Ok(())
}

pub fn write_u32(caller: &mut Caller<'_, HostState>, ptr: i32, value: u32) -> Result<(), BadMemory> {
    write(caller, ptr, &value.to_le_bytes())
}

pub fn write_u64(caller: &mut Caller<'_, HostState>, ptr: i32, value: u64) -> Result<(), BadMemory> {
    write(caller, ptr, &value.to_le_bytes())
}

/// Copies `bytes` into memory from the guest's own `proxy_on_memory_allocate`, and
/// writes its address and size to `ptr_ptr` and `size_ptr`, as the ABI returns data.
pub fn return_bytes(caller: &mut Caller<'_, HostState>, bytes: &[u8], ptr_ptr: i32, size_ptr: i32) -> wasmtime::Result<Result<(), BadMemory>> {
    let Some(Extern::Func(allocate)) = caller.get_export("proxy_on_memory_allocate") else {
        return Ok(Err(BadMemory));
    };
    let allocate = allocate.typed::<i32, i32>(&caller)?;
    let address = allocate.call(&mut *caller, bytes.len() as i32)?;
    if address == 0 && !bytes.is_empty() {
        return Ok(Err(BadMemory));
    }
    Ok(write(caller, address, bytes)
        .and_then(|()| write_u32(caller, ptr_ptr, address as u32))
        .and_then(|()| write_u32(caller, size_ptr, bytes.len() as u32)))
}
